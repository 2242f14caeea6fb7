"""Scale knobs of the sandbox (docs/sandbox.md "Scale knobs"): review round trips, long-history
issues that page through the real endpoints, and one organisation alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from sandbox import Sandbox
from sandbox import catalogue as cat
from tests.sandbox.conftest import EMAIL, NOW, SNOW_AUTH, TOKEN

LONG = 10_000


@pytest.fixture(scope="module")
def long_sb() -> Iterator[Sandbox]:
    with Sandbox(
        seed=7, size=120, now=NOW, jira_rework=2.0, long_issues=2, long_issue_histories=LONG
    ) as sb:
        yield sb


def _status_histories(sb: Sandbox) -> int:
    return sum(len(t["status_history"]) for t in sb.truth.jira_issues())


def test_defaults_are_unchanged_and_rework_adds_round_trips() -> None:
    plain = Sandbox(seed=7, size=300, now=NOW)
    explicit = Sandbox(
        seed=7, size=300, now=NOW, jira_rework=0.0, long_issues=0, sources=("servicenow", "jira")
    )
    assert plain.truth.jira_issues() == explicit.truth.jira_issues()
    assert plain.truth.servicenow_records("incident") == explicit.truth.servicenow_records(
        "incident"
    )
    busy = Sandbox(seed=7, size=300, now=NOW, jira_rework=3.0)
    # same issues (the round trips come from their own random stream), more status changes:
    # Poisson(3) round trips of two histories each, on the ~85 % of issues that have a
    # stretch between two not-done statuses: about 300 * 0.85 * 6 ~ 1,500 more
    assert [t["key"] for t in busy.truth.jira_issues()] == [
        t["key"] for t in plain.truth.jira_issues()
    ]
    added = _status_histories(busy) - _status_histories(plain)
    assert 1_000 < added < 2_000
    assert busy.truth.servicenow_records("incident") == plain.truth.servicenow_records("incident")


def test_round_trips_keep_every_status_chain_whole(long_sb: Sandbox) -> None:
    for t in long_sb.truth.jira_issues():
        history = t["status_history"]
        times = [h["at"] for h in history]
        assert times == sorted(times), t["key"]
        for before, after in zip(history, history[1:], strict=False):
            assert before["to"] == after["from"], t["key"]  # B -> A -> B, never a jump
        if history:
            assert history[-1]["to"] == t["status_id"], t["key"]
            assert max(times) <= NOW


def test_long_issues_have_ten_thousand_histories(long_sb: Sandbox) -> None:
    counts = sorted(t["history_count"] for t in long_sb.truth.jira_issues())
    assert counts[-2] >= LONG and counts[-3] < 300  # exactly two long issues


def test_long_issue_pages_through_changelog_and_bulkfetch(long_sb: Sandbox) -> None:
    session = requests.Session()
    session.auth = (EMAIL, TOKEN)
    truth = long_sb.truth.jira_issues()
    longest = max(truth, key=lambda t: t["history_count"])
    # /issue/{id}/changelog: 100 a page (the server's cap), startAt paging, real total
    got, start, pages = [], 0, 0
    while True:
        page = session.get(
            f"{long_sb.jira_url}/rest/api/3/issue/{longest['id']}/changelog",
            params={"startAt": start, "maxResults": 5000},
        ).json()
        pages += 1
        assert page["maxResults"] == 100 and page["total"] == longest["history_count"]
        got += [h["id"] for h in page["values"]]
        if page["isLast"]:
            break
        start += page["maxResults"]
    assert got == longest["history_ids"] and pages == -(-longest["history_count"] // 100)
    # bulkfetch of every issue, status only, at most 10,000 histories a page: the long issues
    # span pages, histories come sorted by time then issue id, each exactly once
    ids = [t["id"] for t in truth]
    seen: dict[str, list[str]] = {}
    token, pages = None, 0
    while True:
        body = {"issueIdsOrKeys": ids, "fieldIds": ["status"], "maxResults": 10_000}
        if token:
            body["nextPageToken"] = token
        page = session.post(f"{long_sb.jira_url}/rest/api/3/changelog/bulkfetch", json=body).json()
        pages += 1
        assert sum(len(log["changeHistories"]) for log in page["issueChangeLogs"]) <= 10_000
        for log in page["issueChangeLogs"]:
            for h in log["changeHistories"]:
                seen.setdefault(log["issueId"], []).append(h["id"])
        token = page.get("nextPageToken")
        if not token:
            break
    total = _status_histories(long_sb)
    assert total > 2 * LONG and pages == -(-total // 10_000)
    for t in truth:
        assert seen.get(t["id"], []) == [h["history_id"] for h in t["status_history"]], t["key"]


def test_one_source_alone_serves_an_empty_other_tool() -> None:
    both = Sandbox(seed=7, size=200, now=NOW)
    with Sandbox(seed=7, size=200, now=NOW, sources=("servicenow",)) as sb:
        # the ServiceNow organisation is the one generated beside JIRA (links aside)
        assert [
            (r["number"], r["state"], r["opened_at"])
            for r in sb.truth.servicenow_records("incident")
        ] == [
            (r["number"], r["state"], r["opened_at"])
            for r in both.truth.servicenow_records("incident")
        ]
        assert len(sb.snow.audit) == len(both.snow.audit)
        r = requests.get(
            f"{sb.jira_url}/rest/api/3/search/jql",
            params={"jql": "project in (PAY, WEB) ORDER BY id", "maxResults": 50},
            auth=(EMAIL, TOKEN),
        ).json()
        assert r["issues"] == [] and r["isLast"] is True
        groups = requests.get(
            f"{sb.servicenow_url}/api/now/table/sys_user_group", auth=SNOW_AUTH
        ).json()["result"]
        assert {g["name"] for g in groups} == {name for name, _ in cat.SNOW_GROUPS}
        with pytest.raises(ValueError, match="both sources"):
            sb.advance(days=1)
    jira_only = Sandbox(seed=7, size=200, now=NOW, sources=("jira",))
    assert jira_only.truth.jira_issues() == both.truth.jira_issues()
    assert jira_only.snow.records == {}


def test_knobs_are_checked() -> None:
    with pytest.raises(ValueError, match="sources"):
        Sandbox(size=10, sources=("github",))
    with pytest.raises(ValueError, match="jira_rework"):
        Sandbox(size=10, jira_rework=-1)
