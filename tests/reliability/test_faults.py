"""Fault injection: a sync through rate limits, 5xx, slowness, drops, cut bodies and ACL gaps
lands exactly what a clean sync lands, and builds the same core and metrics, row by row.

One sandbox serves two warehouses on the same simulated clock: `clean` (no faults) and
`faulted`. After a full sync and again after time travel + an incremental sync, every raw
table (minus bookkeeping columns), every core.* and every metrics.* table must be equal.
Waits are recorded rather than slept (the policy is otherwise the production one).
"""

from __future__ import annotations

import logging

import pytest

from sandbox import Sandbox
from tests.reliability.helpers import (
    NOW,
    assert_same_warehouse,
    config,
    fast_policy,
    snapshot,
    sync_and_build,
)

pytestmark = pytest.mark.slow

FAULTS = dict(
    rate_429=0.20,  # 20% rate limited
    retry_after="mixed",  # Retry-After as delta-seconds and as HTTP dates
    retry_after_seconds=1,
    rate_503=0.025,  # + 2.5% 503 and 2.5% 500 = 5% 5xx
    rate_500=0.025,
    slow_rate=0.05,
    slow_seconds=0.2,
    drop_rate=0.03,  # connection closed without a byte
    truncate_rate=0.03,  # full Content-Length, half the body
    acl_short_rate=0.15,  # ServiceNow: a third of the page, `next` kept
)
# `{}` rows are not in FAULTS: the sandbox hides a row in one response only, while a real
# instance hides it from this user on every read (an ACL), so "equal to a clean run" is not the
# contract there; test_acl_hidden_rows_are_skipped_and_reported is.


def _faulted_run(sb, db, cfg, started, full, seed):
    sleeps: list[float] = []
    sb.set_faults(seed=seed, **FAULTS)
    sb.reset_counters()
    results = sync_and_build(db, sb.env, cfg, started, full=full, policy=fast_policy(sleeps))
    sb.set_faults()
    return sleeps, sb.counters["total"], results


def test_full_and_incremental_sync_under_faults_equal_a_clean_run(tmp_path, caplog) -> None:
    cfg = config(page_size=40)  # JIRA pages of 40; ServiceNow's floor is 500 rows a page
    clean, faulted = tmp_path / "clean.duckdb", tmp_path / "faulted.duckdb"
    figures = []
    with Sandbox(seed=7, size=700, mode="cloud", now=NOW) as sb:
        for step, full in enumerate((True, False)):
            if step:
                sb.advance(days=1.0, change_fraction=0.05)
            started = sb.now
            sb.reset_counters()
            sync_and_build(clean, sb.env, cfg, started, full=full)
            clean_requests = sb.counters["total"]
            with caplog.at_level(logging.WARNING):
                sleeps, requests, results = _faulted_run(sb, faulted, cfg, started, full, 40 + step)
            figures.append((clean_requests, requests, len(sleeps), round(sum(sleeps), 1)))
            # the faults really fired: many more requests than the clean run, retries waited
            assert requests > clean_requests * 1.2, figures
            assert len(sleeps) >= 5, figures
            assert_same_warehouse(snapshot(faulted), snapshot(clean))
            assert results["jira"].streams[0].mode == ("full" if full else "incremental")
    text = caplog.text
    assert "rate limited by" in text and "retry" in text
    print("clean requests, faulted requests, retries, seconds waited:", figures)


def test_honours_http_date_retry_after_without_shortening(tmp_path) -> None:
    """Every 429 answered with an HTTP-date Retry-After of ~1 s is waited for (not 0)."""
    cfg = config()
    with Sandbox(seed=3, size=30, mode="cloud", now=NOW) as sb:
        sleeps: list[float] = []
        sb.set_faults(rate_429=0.3, retry_after="http-date", retry_after_seconds=2, seed=5)
        sync_and_build(
            tmp_path / "w.duckdb", sb.env, cfg, sb.now, full=True, policy=fast_policy(sleeps)
        )
        sb.set_faults()
    assert sleeps, "no 429 fired"
    # an HTTP date has whole-second resolution: 2 s ahead is read as between 1 and 2 s
    assert all(0.9 <= s <= 2.01 for s in sleeps), sleeps


@pytest.mark.parametrize("endpoint", ["/table/incident", "/table/sys_audit"])
def test_acl_hidden_rows_are_skipped_and_reported(tmp_path, endpoint) -> None:
    """`{}` rows do not stop or break the scan; what they hid is counted in a warning.

    Bug found here: hidden sys_audit rows were dropped without a word (only record scans
    warned); connectors/servicenow/fetch.py now reports them for every history scan.
    """
    cfg = config()
    with Sandbox(seed=7, size=600, mode="cloud", now=NOW) as sb:
        sync_and_build(tmp_path / "clean.duckdb", sb.env, cfg, sb.now, full=True)
        sb.set_faults(empty_row_rate=1.0, endpoints=endpoint, seed=9)
        results = sync_and_build(tmp_path / "hidden.duckdb", sb.env, cfg, sb.now, full=True)
        sb.set_faults()
    warnings = [w for w in results["servicenow"].warnings if "hidden by ACLs" in w]
    assert warnings, results["servicenow"].warnings
    hidden = sum(int(w.split(": ")[1].split()[0]) for w in warnings)
    table = "raw.servicenow_records" if "incident" in endpoint else "raw.servicenow_state_changes"
    clean = snapshot(tmp_path / "clean.duckdb", ("raw",))[table]
    got = snapshot(tmp_path / "hidden.duckdb", ("raw",))[table]
    missing = [r for r in clean if r not in got]
    assert 0 < len(missing) <= hidden  # only hidden rows are missing, all of them reported
    assert all(r in clean for r in got)  # nothing invented or corrupted
