"""JIRA Cloud flavour, driven through the real ``jira`` client where it can be."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import jira
import requests

from sandbox import Sandbox

EMAIL, TOKEN = "demo@example.com", "sandbox-token"

ALL = "project in (PAY, WEB, PLAT, OPS)"


def search_all(client: jira.JIRA, jql: str, **kwargs: object) -> list[dict]:
    issues: list[dict] = []
    token = None
    seen = set()
    while True:
        page = client.enhanced_search_issues(jql, nextPageToken=token, json_result=True, **kwargs)
        issues.extend(page["issues"])
        token = page.get("nextPageToken")
        if not token or page.get("isLast"):
            assert page["isLast"] is True and "nextPageToken" not in page
            return issues
        assert token not in seen
        seen.add(token)


def test_client_detects_cloud(jira_client: jira.JIRA) -> None:
    assert jira_client._is_cloud
    assert jira_client.myself()["timeZone"] == "America/Los_Angeles"
    statuses = {s.name: s for s in jira_client.statuses()}
    assert {"Backlog", "Ready for Review", "Blocked", "Won't Do", "Testing"} <= set(statuses)
    assert statuses["Done"].raw["statusCategory"]["key"] == "done"


def test_token_paging_returns_every_issue_once(cloud: Sandbox, jira_client: jira.JIRA) -> None:
    jql = f"{ALL} AND updated >= 0 ORDER BY updated ASC, id ASC"
    issues = search_all(jira_client, jql, maxResults=37, fields=["summary", "status", "updated"])
    ids = [i["id"] for i in issues]
    assert len(ids) == len(set(ids))
    assert set(ids) == {t["id"] for t in cloud.truth.jira_issues()}
    updated = [datetime.strptime(i["fields"]["updated"], "%Y-%m-%dT%H:%M:%S.%f%z") for i in issues]
    assert updated == sorted(updated)


def test_post_paging_with_library_body(cloud: Sandbox, jira_client: jira.JIRA) -> None:
    """use_post sends properties: null and reconcileIssues: [] - both must be accepted."""
    issues = jira_client.enhanced_search_issues(
        f"{ALL} ORDER BY updated ASC, id ASC", maxResults=0, fields=["status"], use_post=True
    )
    assert len(issues) == len(cloud.truth.jira_issues())


def test_default_fields_is_id_only_and_caps(jira_http: requests.Session, cloud: Sandbox) -> None:
    url = f"{cloud.jira_url}/rest/api/3/search/jql"
    r = jira_http.get(url, params={"jql": ALL, "maxResults": 5000}).json()
    assert len(r["issues"]) == 300 and "fields" not in r["issues"][0] and r["isLast"]
    r = jira_http.get(
        url, params={"jql": ALL, "maxResults": 500, "expand": "changelog", "fields": "*all"}
    ).json()
    assert len(r["issues"]) == 100 and r["nextPageToken"] and r["isLast"] is False
    assert "total" not in r and "startAt" not in r


def test_embedded_changelog_is_truncated_newest_first(
    cloud: Sandbox, jira_http: requests.Session
) -> None:
    heavy = max(cloud.truth.jira_issues(), key=lambda t: t["history_count"])
    assert heavy["history_count"] > 50
    r = jira_http.get(
        f"{cloud.jira_url}/rest/api/2/search/jql",
        params={"jql": f"key = {heavy['key']}", "expand": "changelog"},
    ).json()
    log = r["issues"][0]["changelog"]
    assert log["total"] == heavy["history_count"] and len(log["histories"]) == 40
    assert [h["id"] for h in log["histories"]] == heavy["history_ids"][::-1][:40]


def test_issue_changelog_paging_gets_full_history(
    cloud: Sandbox, jira_http: requests.Session
) -> None:
    heavy = max(cloud.truth.jira_issues(), key=lambda t: t["history_count"])
    got, start = [], 0
    while True:
        page = jira_http.get(
            f"{cloud.jira_url}/rest/api/3/issue/{heavy['id']}/changelog",
            params={"startAt": start, "maxResults": 100},
        ).json()
        got += [h["id"] for h in page["values"]]
        if page["isLast"]:
            assert "nextPage" not in page
            break
        assert page["nextPage"]
        start += page["maxResults"]
    assert got == heavy["history_ids"] and page["total"] == heavy["history_count"]


def test_bulkfetch_status_histories_match_truth(
    cloud: Sandbox, jira_http: requests.Session
) -> None:
    truth = cloud.truth.jira_issues()
    ids = [t["id"] for t in truth]
    got: dict[str, list[tuple[str, str, str]]] = {}
    pages = 0
    for chunk in (ids[:150], ids[150:]):
        token = None
        while True:
            body = {"issueIdsOrKeys": chunk, "fieldIds": ["status"], "maxResults": 97}
            if token:
                body["nextPageToken"] = token
            page = jira_http.post(
                f"{cloud.jira_url}/rest/api/3/changelog/bulkfetch", json=body
            ).json()
            pages += 1
            for log in page["issueChangeLogs"]:
                for h in log["changeHistories"]:
                    assert all(i["field"] == "status" for i in h["items"])
                    got.setdefault(log["issueId"], []).extend(
                        (h["id"], i["from"], i["to"]) for i in h["items"]
                    )
            token = page.get("nextPageToken")
            if not token:
                break
    assert pages > 2
    for t in truth:
        expected = [(h["history_id"], h["from"], h["to"]) for h in t["status_history"]]
        assert got.get(t["id"], []) == expected, t["key"]


def test_bulkfetch_validation_and_knobs(cloud: Sandbox, jira_http: requests.Session) -> None:
    url = f"{cloud.jira_url}/rest/api/3/changelog/bulkfetch"
    assert jira_http.post(url, json={"issueIdsOrKeys": []}).status_code == 400
    assert jira_http.post(url, json={"issueIdsOrKeys": ["1"] * 1001}).status_code == 400
    cloud.set_knobs(bulkfetch_epoch_created=True)
    page = jira_http.post(url, json={"issueIdsOrKeys": ["PAY-5", "PAY-6"]}).json()
    assert isinstance(page["issueChangeLogs"][0]["changeHistories"][0]["created"], int)
    cloud.set_knobs(bulkfetch_disabled=True, bulkfetch_epoch_created=False)
    try:
        assert jira_http.post(url, json={"issueIdsOrKeys": ["PAY-5"]}).status_code == 404
    finally:
        cloud.set_knobs(bulkfetch_disabled=False)


def test_old_search_is_gone(
    cloud: Sandbox, jira_http: requests.Session, jira_client: jira.JIRA
) -> None:
    for version in ("2", "3"):
        r = jira_http.get(f"{cloud.jira_url}/rest/api/{version}/search", params={"jql": ALL})
        assert r.status_code == 410
        assert "/rest/api/3/search/jql" in r.json()["errorMessages"][0]
    assert jira_http.post(f"{cloud.jira_url}/rest/api/2/search", json={}).status_code == 410


def test_jql_errors_are_400(cloud: Sandbox, jira_http: requests.Session) -> None:
    url = f"{cloud.jira_url}/rest/api/3/search/jql"
    for jql in (
        "",
        "order by key desc",
        "bogus = 1",
        "project = NOPE",
        'updated >= "x"',
        "project = PAY ORDER BY id, key, updated, created, priority, status, project, id",
    ):
        r = jira_http.get(url, params={"jql": jql})
        assert r.status_code == 400, jql
        assert r.json()["errorMessages"]
    r = jira_http.post(url, json={"jql": ALL, "startAt": 0})
    assert r.status_code == 400


def test_jql_date_literal_is_read_in_user_zone(cloud: Sandbox, jira_http: requests.Session) -> None:
    """The trap: a zone-less literal is the API user's local time, to the minute."""
    url = f"{cloud.jira_url}/rest/api/3/search/jql"
    sample = min(
        cloud.truth.jira_issues(),
        key=lambda t: abs(t["updated"] - (cloud.now - timedelta(days=20))),
    )
    cut = sample["updated"].replace(second=0, microsecond=0)
    epoch_ms = int(cut.timestamp() * 1000)

    def count(jql: str) -> int:
        return len(jira_http.get(url, params={"jql": jql, "maxResults": 5000}).json()["issues"])

    local = cut.astimezone(ZoneInfo("America/Los_Angeles"))
    by_ms = count(f"{ALL} AND updated >= {epoch_ms}")
    assert by_ms == count(f'{ALL} AND updated >= "{local:%Y-%m-%d %H:%M}"')
    assert by_ms != count(f'{ALL} AND updated >= "{cut:%Y-%m-%d %H:%M}"')  # naive UTC: wrong
    assert by_ms == sum(1 for t in cloud.truth.jira_issues() if t["updated_ms"] >= epoch_ms)


def test_moved_issue_and_renamed_status(cloud: Sandbox, jira_client: jira.JIRA) -> None:
    moved = next(t for t in cloud.truth.jira_issues() if t["old_keys"])
    issue = jira_client.issue(moved["old_keys"][0], expand="changelog")
    assert issue.key == moved["key"] and issue.key.startswith("PAY-")
    move = next(h for h in issue.changelog.histories if any(i.field == "Key" for i in h.items))
    assert {i.field for i in move.items} == {"Key", "project", "Workflow", "status"}
    names = {
        (h["to"], h["to_name"]) for t in cloud.truth.jira_issues() for h in t["status_history"]
    }
    assert ("10006", "QA") in names and ("10006", "Testing") in names


def test_timestamps_carry_offsets_and_history_is_consistent(
    cloud: Sandbox, jira_http: requests.Session
) -> None:
    r = jira_http.get(
        f"{cloud.jira_url}/rest/api/3/search/jql",
        params={"jql": ALL, "maxResults": 100, "fields": "created,updated"},
    ).json()
    offsets = {i["fields"]["created"][-5:] for i in r["issues"]}
    assert {"-0700", "-0800"} & offsets and "+0530" in offsets
    assert all(
        re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$", i["fields"]["updated"])
        for i in r["issues"]
    )
    for t in cloud.truth.jira_issues():
        if t["status_history"]:
            assert t["updated"] >= t["status_history"][-1]["at"] >= t["created"]
        assert t["created"] >= cloud.now - timedelta(days=181)


def test_bad_credentials_get_401(cloud: Sandbox) -> None:
    r = requests.get(f"{cloud.jira_url}/rest/api/3/myself", auth=(EMAIL, "wrong"), timeout=5)
    assert r.status_code == 401
    assert r.headers["X-Seraph-LoginReason"] == "AUTHENTICATED_FAILED"
    assert r.json()["errorMessages"]
    r = requests.get(
        f"{cloud.jira_url}/rest/api/3/myself",
        timeout=5,
        headers={"Authorization": "Bearer sandbox-pat"},
    )
    assert r.status_code == 401  # PATs are a Data Center thing
    ok = requests.get(f"{cloud.jira_url}/rest/api/3/myself", auth=(EMAIL, TOKEN), timeout=5)
    assert ok.status_code == 200 and ok.json()["emailAddress"] == EMAIL


def test_counters(cloud: Sandbox, jira_http: requests.Session) -> None:
    cloud.reset_counters()
    jira_http.get(f"{cloud.jira_url}/rest/api/3/search/jql", params={"jql": ALL})
    jira_http.post(
        f"{cloud.jira_url}/rest/api/3/changelog/bulkfetch", json={"issueIdsOrKeys": ["PAY-1"]}
    )
    counters = cloud.counters
    assert counters["jira.search_jql"] == 1 and counters["jira.changelog_bulkfetch"] == 1
    assert counters["total"] == 2
    assert jira_http.get(f"{cloud.jira_url}/__admin/counters").json() == counters
