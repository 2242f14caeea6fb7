"""End to end through the sandbox (a local JIRA Cloud / Data Center over real HTTP): full sync
matches the sandbox's ground truth, time travel + incremental sync fetches only what changed,
and the census marks a deleted issue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.http import RetryPolicy
from connectors.jira import JiraSettings, sync_jira
from models.config import parse_config

sandbox = pytest.importorskip("sandbox", reason="the sandbox package is not in the repo yet")
Sandbox = sandbox.Sandbox

START = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
pytestmark = pytest.mark.slow


def landed(con):
    issues = {
        r[0]: r[1:]
        for r in con.execute(
            "select issue_id, issue_key, status_id, created_at, is_deleted from raw.jira_issues"
        ).fetchall()
    }
    history: dict[str, list[tuple]] = {}
    for r in con.execute(
        "select issue_id, history_id, from_status_id, to_status_id, changed_at"
        " from raw.jira_status_changes order by issue_id, source_order"
    ).fetchall():
        history.setdefault(r[0], []).append(r[1:])
    return issues, history


def assert_matches_truth(con, sb, window_end, whole_seconds=False):
    issues, history = landed(con)
    truth = [t for t in sb.truth.jira_issues() if t["updated"] < window_end]
    assert truth, "the sandbox generated nothing"
    for t in truth:
        assert issues[t["id"]][:3] == (t["key"], t["status_id"], t["created"]), t["key"]
        expected = [
            (
                h["history_id"],
                h["from"],
                h["to"],
                h["at"].replace(microsecond=0) if whole_seconds else h["at"],
            )
            for h in t["status_history"]
        ]
        got = history.get(t["id"], [])
        if whole_seconds:
            got = [(*h[:3], h[3].replace(microsecond=0)) for h in got]
        assert got == expected, t["key"]


@pytest.mark.parametrize("mode", ["cloud", "datacenter"])
def test_full_then_incremental_then_census(con, mode):
    cfg = parse_config({})
    with Sandbox(seed=7, size=300, mode=mode, now=START) as sb:
        settings = JiraSettings.from_env(sb.env)
        assert settings is not None
        sb.reset_counters()
        full = sync_jira(con, settings, cfg, run_started_at=sb.now)
        assert_matches_truth(con, sb, sb.now - timedelta(minutes=1))
        counters = sb.counters
        if mode == "cloud":
            # search pages + one bulkfetch per 1000 issues + serverInfo + status catalogue +
            # field catalogue (docs/contract.md §6: Flagged's id; the flag and link history ride along in
            # the same bulkfetch requests)
            assert counters.get("jira.changelog_bulkfetch") == 1
            assert full.requests == counters["total"] == counters["jira.search_jql"] + 4
        assert full.requests == counters["total"]

        sb.advance(days=1, change_fraction=0.02)
        sb.reset_counters()
        incr = sync_jira(con, settings, cfg, run_started_at=sb.now)
        assert incr.streams[0].mode == "incremental"
        assert 0 < incr.records < 40  # only what changed (plus the overlap), not 300
        # the day's deletion is flagged by this first sync after it (docs/contract.md §4), not a week
        # later: JIRA's count for the scope differed from the warehouse's, so the id census
        # was taken and the one absent issue confirmed by GET /issue/{id} answering 404
        dead = {t["id"] for t in sb.truth.jira_issues(include_deleted=True) if t["deleted"]}
        issues, _ = landed(con)
        assert len(dead) == 1 and all(issues[i][3] for i in dead)
        assert incr.streams[0].deleted == 1
        counters = sb.counters
        print(mode, "deletion night requests:", counters)
        assert counters.get("jira.issue") == 1  # one confirmation per deleted issue
        # the scan as before (<= 5) + the count + the census pages + the 404
        census = 1 if mode == "cloud" else -(-300 // 50)  # ids a page: 5000 Cloud, 50 DC
        assert counters["total"] <= 5 + 1 + census + 1
        assert_matches_truth(con, sb, sb.now - timedelta(minutes=1))

        # a night without change: the window, plus one count request (no census)
        sb.reset_counters()
        quiet = sync_jira(con, settings, cfg, run_started_at=sb.now + timedelta(minutes=5))
        assert quiet.streams[0].deleted == 0
        counters = sb.counters
        assert counters.get("jira.issue", 0) == 0
        count = counters.get("jira.search_approximate-count", 0) if mode == "cloud" else 1
        assert count == 1
        print(mode, "quiet night requests:", counters)

        sb.advance(days=8, change_fraction=0.02)  # census is due after 7 days
        sync_jira(con, settings, cfg, run_started_at=sb.now)
        dead = {t["id"] for t in sb.truth.jira_issues(include_deleted=True) if t["deleted"]}
        assert dead
        issues, _ = landed(con)
        for issue_id in dead & set(issues):
            assert issues[issue_id][3] is True
        alive = {t["id"] for t in sb.truth.jira_issues()}
        assert not [i for i in alive & set(issues) if issues[i][3]]


def test_cloud_sync_survives_faults_and_missing_bulkfetch(con):
    sleeps: list[float] = []
    policy = RetryPolicy(sleep=sleeps.append, max_total_wait_s=10_000)
    with Sandbox(seed=11, size=300, mode="cloud", now=START) as sb:
        sb.set_faults(rate_429=0.15, retry_after="mixed", rate_500=0.1, seed=3)
        sb.set_knobs(bulkfetch_epoch_created=True)
        settings = JiraSettings.from_env(sb.env)
        result = sync_jira(con, settings, parse_config({}), run_started_at=sb.now, policy=policy)
        assert sleeps, "no fault fired"
        assert result.records > 250
        sb.set_faults()
        # bulkfetch sent `created` as integer epoch seconds: milliseconds are gone
        assert_matches_truth(con, sb, sb.now - timedelta(minutes=1), whole_seconds=True)
        sb.set_knobs(bulkfetch_disabled=True, bulkfetch_epoch_created=False)
        sb.advance(days=1, change_fraction=0.02)
        again = sync_jira(con, settings, parse_config({}), run_started_at=sb.now, policy=policy)
        assert any("bulkfetch" in w for w in again.warnings)
        assert_matches_truth(con, sb, sb.now - timedelta(minutes=1), whole_seconds=True)
