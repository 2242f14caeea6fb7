"""End to end against the sandbox: full sync, time travel, incremental sync, tombstones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.http import RetryPolicy
from connectors.servicenow import ServiceNowSettings, sync_servicenow
from tests.connectors.servicenow.snow_fake import make_cfg
from warehouse.db import bootstrap, connect

sandbox = pytest.importorskip("sandbox")

TABLES = ["incident", "change_request", "problem"]
START = datetime(2025, 6, 2, 6, 0, 0, tzinfo=UTC)


def _run_at(sb) -> datetime:
    """A clock just past the sandbox's, so the 1-minute lag still covers its last second."""
    return sb.now + timedelta(minutes=1, seconds=1)


def _check_against_truth(con, sb) -> None:
    for table in TABLES:
        truth = sb.truth.servicenow_records(table)
        got = dict(
            con.execute(
                "select sys_id, state from raw.servicenow_records"
                " where table_name = ? and not is_deleted",
                [table],
            ).fetchall()
        )
        assert got == {t["sys_id"]: t["state"] for t in truth}, table
        want = {h["sys_id"] for t in truth for h in t["state_history"]}
        landed = {
            r[0]
            for r in con.execute(
                "select c.change_id from raw.servicenow_state_changes c join raw.servicenow_records r"
                " on r.sys_id = c.record_sys_id where c.table_name = ? and not r.is_deleted",
                [table],
            ).fetchall()
        }
        assert landed == want, table


@pytest.mark.slow
def test_full_then_incremental_then_tombstone():
    con = connect(":memory:")
    bootstrap(con)
    cfg = make_cfg(TABLES, page_size=500)
    policy = RetryPolicy(sleep=lambda s: None)
    with sandbox.Sandbox(seed=7, size=300, mode="cloud", now=START) as sb:
        settings = ServiceNowSettings.from_env(sb.env)
        assert settings is not None

        sb.reset_counters()
        full = sync_servicenow(con, settings, cfg, run_started_at=_run_at(sb), policy=policy)
        _check_against_truth(con, sb)
        full_counters = sb.counters
        assert full.requests == full_counters["total"]
        assert all(s.mode == "full" for s in full.streams)
        assert con.execute("select count(*) from raw.servicenow_choices").fetchone()[0] > 0
        assert con.execute("select count(*) from raw.servicenow_groups").fetchone()[0] > 0
        print("full sync requests:", full_counters)

        before = {
            r[0]: r[1]
            for r in con.execute("select sys_id, updated_at from raw.servicenow_records").fetchall()
        }
        window_start = max(before.values())  # upper bound of the overlap start
        report = sb.advance(days=1, change_fraction=0.02)
        sb.reset_counters()
        inc = sync_servicenow(con, settings, cfg, run_started_at=_run_at(sb), policy=policy)
        _check_against_truth(con, sb)
        print("incremental sync requests:", sb.counters, report["counts"])
        assert all(s.mode == "incremental" for s in inc.streams)
        changed = sum(
            1
            for table in TABLES
            for t in sb.truth.servicenow_records(table)
            if datetime.strptime(t["sys_updated_on"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            >= window_start - timedelta(minutes=10)
        )
        assert 0 < inc.records <= changed  # only what changed (plus the overlap)
        assert inc.records < len(before) / 5
        assert sb.counters["total"] < full_counters["total"]

        deleted = {d["documentkey"] for d in sb.truth.servicenow_deleted()}
        assert deleted
        tombstones = {
            r[0]
            for r in con.execute(
                "select sys_id from raw.servicenow_records where is_deleted"
            ).fetchall()
        }
        assert tombstones == deleted & set(before)
        assert sum(s.deleted for s in inc.streams) == len(tombstones)
    con.close()


@pytest.mark.slow
def test_full_sync_survives_faults_and_short_pages():
    con = connect(":memory:")
    bootstrap(con)
    waits: list[float] = []
    policy = RetryPolicy(sleep=waits.append)
    with sandbox.Sandbox(seed=11, size=300, mode="cloud", now=START) as sb:
        sb.set_faults(
            rate_429=0.1,
            retry_after_seconds=3,
            rate_500=0.05,
            drop_rate=0.03,
            truncate_rate=0.03,
            acl_short_rate=0.4,
            seed=5,
        )
        settings = ServiceNowSettings.from_env(sb.env)
        sync_servicenow(con, settings, make_cfg(TABLES), run_started_at=_run_at(sb), policy=policy)
        _check_against_truth(con, sb)
        assert 3.0 in waits  # Retry-After honoured exactly
    con.close()


@pytest.mark.slow
def test_sys_audit_forbidden_uses_metric_instance_then_observed():
    con = connect(":memory:")
    bootstrap(con)
    with sandbox.Sandbox(seed=7, size=300, mode="cloud", now=START) as sb:
        sb.set_knobs(forbidden_tables={"sys_audit"})
        settings = ServiceNowSettings.from_env(sb.env)
        result = sync_servicenow(con, settings, make_cfg(TABLES), run_started_at=_run_at(sb))
        sources = dict(
            con.execute(
                "select table_name, any_value(history_source) from raw.servicenow_state_changes"
                " group by 1"
            ).fetchall()
        )
        assert sources == {"incident": "metric_instance"}
        truth = {
            t["sys_id"]: [(h["old"], h["new"]) for h in t["state_history"]]
            for t in sb.truth.servicenow_records("incident")
        }
        got: dict[str, list[tuple[str, str]]] = {}
        for doc, old, new in con.execute(
            "select record_sys_id, from_value, to_value from raw.servicenow_state_changes"
            " order by changed_at, change_id"
        ).fetchall():
            got.setdefault(doc, []).append((old, new))
        assert {k: v for k, v in truth.items() if v} == got
        approx = dict(
            con.execute("select stream, history_approximate_since from raw.sync_state").fetchall()
        )
        assert approx["incident"] is None
        assert approx["change_request"] is not None and approx["problem"] is not None
        assert any("observed" in w for w in result.warnings)
    con.close()
