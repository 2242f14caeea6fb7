"""JIRA Data Center flavour: startAt paging capped at 50, history only via expand=changelog."""

from __future__ import annotations

import jira
import requests

from sandbox import Sandbox

PAT = "sandbox-pat"
ALL = "project in (PAY, WEB, PLAT, OPS)"


def dc_session(sb: Sandbox) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {PAT}"
    return s


def test_library_pages_with_start_at(dc: Sandbox) -> None:
    client = jira.JIRA(server=dc.jira_url, token_auth=PAT, max_retries=0, timeout=10)
    assert not client._is_cloud
    issues = client.search_issues(
        f"{ALL} ORDER BY updated ASC, id ASC", maxResults=False, fields="status,updated"
    )
    assert {i.id for i in issues} == {t["id"] for t in dc.truth.jira_issues()}
    assert client.enhanced_search_issues(ALL) is None  # the library's DC behaviour


def test_server_caps_max_results_at_50(dc: Sandbox) -> None:
    s = dc_session(dc)
    page = s.get(
        f"{dc.jira_url}/rest/api/2/search",
        params={"jql": ALL, "maxResults": 500, "validateQuery": "True"},
    ).json()
    assert page["maxResults"] == 50 and len(page["issues"]) == 50
    assert page["total"] == 300 and page["startAt"] == 0


def test_full_history_via_issue_expand(dc: Sandbox) -> None:
    s = dc_session(dc)
    for t in sorted(dc.truth.jira_issues(), key=lambda t: -t["history_count"])[:15]:
        issue = s.get(
            f"{dc.jira_url}/rest/api/2/issue/{t['key']}", params={"expand": "changelog"}
        ).json()
        histories = issue["changelog"]["histories"]
        assert sorted(h["id"] for h in histories) == sorted(t["history_ids"])
        status = [
            (h["id"], i["from"], i["to"])
            for h in reversed(histories)
            for i in h["items"]
            if i["field"] == "status"
        ]
        assert status == [(x["history_id"], x["from"], x["to"]) for x in t["status_history"]]
        assert all("fieldId" not in i for h in histories for i in h["items"])


def test_cloud_only_endpoints_are_404(dc: Sandbox) -> None:
    s = dc_session(dc)
    assert s.get(f"{dc.jira_url}/rest/api/2/search/jql", params={"jql": ALL}).status_code == 404
    assert s.get(f"{dc.jira_url}/rest/api/2/issue/PAY-1/changelog").status_code == 404
    assert (
        s.post(
            f"{dc.jira_url}/rest/api/3/changelog/bulkfetch", json={"issueIdsOrKeys": ["PAY-1"]}
        ).status_code
        == 404
    )
    info = s.get(f"{dc.jira_url}/rest/api/2/serverInfo").json()
    assert info["deploymentType"] == "Server"
    assert (
        requests.get(
            f"{dc.jira_url}/rest/api/2/myself", timeout=5, headers={"Authorization": "Bearer nope"}
        ).status_code
        == 401
    )
