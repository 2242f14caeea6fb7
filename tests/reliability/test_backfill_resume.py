"""Resumable backfills (docs/contract.md §5): a first sync commits `raw` in chunks, each with its resume point;
killed with SIGKILL at a chunk, the next run resumes from the last committed chunk, re-reads at
most one chunk, and the finished raw layer equals an uninterrupted backfill, table by table.

The sync runs in a child process killed by the test-only hook `FLOWMETRICS_CRASH_AT`
(`chunk:<n>`: just before the n-th chunk commits -- the worst moment, a whole chunk read and
landed but not committed). Small sizes: a chunk here is one 500-row page.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from connectors.http import RetryPolicy
from connectors.jira import JiraSettings, sync_jira
from connectors.servicenow import ServiceNowSettings, sync_servicenow
from models.config import parse_config
from sandbox import Sandbox
from tests.reliability.crashhook import ENV as CRASH_ENV
from tests.reliability.helpers import NOW, REPO, assert_same_warehouse, snapshot
from warehouse.db import bootstrap, connect

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

TABLES = ["incident", "change_request", "problem"]
CHUNK = 500
SNOW_CFG = {
    "sources": {"servicenow": {"tables": TABLES}},
    "sync": {"page_size": 500, "backfill_chunk_rows": CHUNK},
}


def _clock(sb) -> str:
    return (sb.now + timedelta(minutes=1, seconds=1)).isoformat()


CHILD = """
from tests.reliability.crashhook import install_from_env
install_from_env()
import json, os, sys
from datetime import datetime
from connectors.http import RetryPolicy
from connectors.jira import JiraSettings, sync_jira
from connectors.servicenow import ServiceNowSettings, sync_servicenow
from models.config import parse_config
from warehouse.db import bootstrap, connect
db, clock, cfg = sys.argv[1], datetime.fromisoformat(sys.argv[2]), json.loads(sys.argv[3])
sync, settings = ((sync_jira, JiraSettings) if sys.argv[4] == "jira"
                  else (sync_servicenow, ServiceNowSettings))
con = connect(db)
bootstrap(con)
r = sync(con, settings.from_env(os.environ), parse_config(cfg),
         run_started_at=clock, policy=RetryPolicy(sleep=lambda s: None))
print("records", r.records)
"""


def _child(
    db: Path, sb, crash: str, source: str = "servicenow"
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **sb.env, CRASH_ENV: crash}
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(db), _clock(sb), json.dumps(SNOW_CFG), source],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def _sync(db: Path, sb, source: str = "servicenow"):
    sync, settings = (
        (sync_jira, JiraSettings) if source == "jira" else (sync_servicenow, ServiceNowSettings)
    )
    con = connect(db)
    try:
        bootstrap(con)
        return sync(
            con,
            settings.from_env(sb.env),
            parse_config(SNOW_CFG),
            run_started_at=sb.now + timedelta(minutes=1, seconds=1),
            policy=RetryPolicy(sleep=lambda s: None),
        )
    finally:
        con.close()


@pytest.fixture(scope="module")
def snow_world(tmp_path_factory):
    """One sandbox; per source, an uninterrupted backfill into its own warehouse."""
    root = tmp_path_factory.mktemp("backfill")
    with Sandbox(seed=11, size=2500, mode="cloud", now=NOW) as sb:
        ref, jira_ref = root / "ref.duckdb", root / "jira_ref.duckdb"
        clean = _sync(ref, sb)
        jira_clean = _sync(jira_ref, sb, "jira")
        yield {
            "sb": sb,
            "ref": snapshot(ref, ("raw",)),
            "clean": clean,
            "jira_ref": snapshot(jira_ref, ("raw",)),
            "jira_clean": jira_clean,
        }


def _state(db: Path, source: str = "servicenow") -> tuple[int, int, dict, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        chunks, rows, resume = con.execute(
            "select chunks, rows_landed, resume from raw.backfill_state where source = ?", [source]
        ).fetchone()
        cursors = con.execute(
            "select count(*) from raw.sync_state where source = ?", [source]
        ).fetchone()[0]
    finally:
        con.close()
    return chunks, rows, json.loads(resume), cursors


@pytest.mark.parametrize(
    ("crash", "phase"),
    [
        ("chunk:2", "records"),  # killed inside the incident records scan
        ("chunk:5", "records"),  # the incident scan's pages are committed, later ones not
        ("chunk:9", "history"),  # inside the sys_audit scan (every record landed)
    ],
)
def test_servicenow_backfill_killed_resumes_and_equals_an_uninterrupted_one(
    snow_world, tmp_path, crash, phase
):
    sb, clean = snow_world["sb"], snow_world["clean"]
    db = tmp_path / "flow.duckdb"
    killed = _child(db, sb, crash)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]

    chunks, rows, resume, cursors = _state(db)
    n = int(crash.split(":")[1])
    assert chunks == n - 1  # every chunk before the kill committed, the killed one did not
    assert resume["phase"] == phase
    assert cursors == 0  # no cursor passes unlanded data: none moved yet

    sb.reset_counters()
    resumed = _sync(db, sb)
    # the resumed run read only what was left: at most one chunk (plus the page in flight)
    # more than the rows beyond the last committed chunk
    read_again = resumed.records + sum(s.histories for s in resumed.streams)
    total = clean.records + sum(s.histories for s in clean.streams)
    assert read_again <= total - rows + CHUNK + 500, (read_again, total, rows)
    assert read_again < total
    assert resumed.requests < clean.requests

    got = snapshot(db, ("raw",))
    assert_same_warehouse(got, snow_world["ref"])
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("select count(*) from raw.backfill_state").fetchone()[0] == 0
        assert con.execute(
            "select count(*) from raw.sync_state where source = 'servicenow'"
        ).fetchone()[0] == len(TABLES)
    finally:
        con.close()


@pytest.mark.parametrize("crash", ["chunk:2", "chunk:3"])
def test_jira_backfill_killed_resumes_and_equals_an_uninterrupted_one(snow_world, tmp_path, crash):
    """JIRA Cloud: a chunk is one bulkfetch batch of 1000 issues (its histories make it more
    than `backfill_chunk_rows`); the resume point is the batch's latest `updated`."""
    sb, clean = snow_world["sb"], snow_world["jira_clean"]
    db = tmp_path / "flow.duckdb"
    killed = _child(db, sb, crash, "jira")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    chunks, _rows, resume, cursors = _state(db, "jira")
    assert chunks == int(crash.split(":")[1]) - 1
    assert resume["phase"] == "issues" and isinstance(resume["after"][0], int)
    assert cursors == 0
    con = duckdb.connect(str(db), read_only=True)
    try:
        landed = con.execute("select count(*) from raw.jira_issues").fetchone()[0]
    finally:
        con.close()
    assert landed == 1000 * chunks

    resumed = _sync(db, sb, "jira")
    # re-read: the issues after the last committed chunk, plus those at its very millisecond
    assert resumed.records <= clean.records - landed + 5, (resumed.records, clean.records)
    assert resumed.requests < clean.requests
    assert_same_warehouse(snapshot(db, ("raw",)), snow_world["jira_ref"])
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("select count(*) from raw.backfill_state").fetchone()[0] == 0
        assert (
            con.execute("select count(*) from raw.sync_state where source = 'jira'").fetchone()[0]
            == 1
        )
    finally:
        con.close()


def test_core_is_not_built_while_a_backfill_is_incomplete(snow_world, tmp_path):
    """`sync --source jira` while the ServiceNow backfill is under way: the core build step
    fails with a message naming the backfill and core/metrics stay as they were (here: never
    built); the next full nightly run resumes the backfill and builds them."""
    from flowmetrics.runner import run_nightly
    from tests.reliability.helpers import CONFIG, environ, job_env

    sb = snow_world["sb"]
    db = tmp_path / "flow.duckdb"
    assert _child(db, sb, "chunk:2").returncode == -signal.SIGKILL
    env = job_env(
        tmp_path,
        sb.env,
        CONFIG.replace("census_days: 0}", f"census_days: 0, backfill_chunk_rows: {CHUNK}}}"),
    )
    clock = sb.now + timedelta(minutes=1, seconds=1)
    with environ(env):
        partial = run_nightly(source="jira", clock=clock)
    assert not partial.success
    assert any(
        "backfill is not complete" in f and "servicenow: 1 chunks" in f for f in partial.failures
    ), partial.failures
    assert "raw/jira_issues" in partial.materialized
    assert not any(m.startswith(("core/", "metrics/")) for m in partial.materialized)
    con = duckdb.connect(str(db), read_only=True)
    try:
        built = con.execute(
            "select count(*) from information_schema.tables"
            " where table_schema in ('core', 'metrics')"
        ).fetchone()[0]
    finally:
        con.close()
    assert built == 0

    with environ(env):
        whole = run_nightly(clock=clock)
    assert whole.success, whole.failures
    assert "metrics/scorecard" in whole.materialized
