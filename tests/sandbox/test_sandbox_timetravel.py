"""Time travel: new, moved, reopened and deleted items all show up where a sync looks."""

from __future__ import annotations

from datetime import UTC, datetime

import requests

from sandbox import Sandbox

EMAIL, TOKEN = "demo@example.com", "sandbox-token"
SNOW = ("admin", "sandbox-password")
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def test_advance_changes_are_visible_incrementally(dc_free_cloud: Sandbox) -> None:
    sb = dc_free_cloud
    before_ms = int(sb.now.timestamp() * 1000)
    before_snow = sb.now.strftime("%Y-%m-%d %H:%M:%S")
    summary = sb.advance(days=2, change_fraction=0.05)
    assert sb.now.timestamp() * 1000 == before_ms + 2 * 86_400_000
    jira_s = summary["jira"]
    assert jira_s["created"] and jira_s["moved"] and jira_s["reopened"]

    s = requests.Session()
    s.auth = (EMAIL, TOKEN)
    r = s.get(
        f"{sb.jira_url}/rest/api/3/search/jql",
        params={
            "jql": f"project in (PAY, WEB, PLAT, OPS) AND updated >= {before_ms} "
            "ORDER BY updated ASC, id ASC",
            "fields": "key",
            "maxResults": 5000,
        },
    ).json()
    keys = {i["key"] for i in r["issues"]}
    assert set(jira_s["created"]) | set(jira_s["moved"]) | set(jira_s["reopened"]) <= keys
    assert jira_s["deleted"] not in keys
    assert s.get(f"{sb.jira_url}/rest/api/3/issue/{jira_s['deleted']}").status_code == 404
    assert jira_s["deleted_id"] not in {t["id"] for t in sb.truth.jira_issues()}

    snow_s = summary["servicenow"]
    rows = requests.get(
        f"{sb.servicenow_url}/api/now/table/incident",
        auth=SNOW,
        timeout=5,
        params={"sysparm_query": f"sys_updated_on>={before_snow}", "sysparm_fields": "number"},
    ).json()["result"]
    numbers = {r["number"] for r in rows}
    assert set(snow_s["created"]) <= numbers and snow_s["deleted"] not in numbers
    tomb = requests.get(
        f"{sb.servicenow_url}/api/now/table/sys_audit_delete",
        auth=SNOW,
        timeout=5,
        params={"sysparm_query": "tablename=incident"},
    ).json()
    assert snow_s["deleted_sys_id"] in {t["documentkey"] for t in tomb["result"]}
    audits = requests.get(
        f"{sb.servicenow_url}/api/now/table/sys_audit",
        auth=SNOW,
        timeout=5,
        params={"sysparm_query": f"sys_created_on>={before_snow}^fieldname=state"},
    ).json()["result"]
    assert len(audits) >= len(snow_s["changed"]) // 2


def test_admin_advance(dc_free_cloud: Sandbox) -> None:
    before = dc_free_cloud.now
    r = requests.post(
        f"{dc_free_cloud.servicenow_url}/__admin/advance",
        json={"days": 0.5, "change_fraction": 0.01},
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["counts"]["jira_deleted"] == 1
    assert (dc_free_cloud.now - before).total_seconds() == 43_200


def test_generation_is_deterministic() -> None:
    a = Sandbox(seed=11, size=120, now=NOW)
    b = Sandbox(seed=11, size=120, now=NOW)
    assert a.truth.jira_issues() == b.truth.jira_issues()
    assert a.truth.servicenow_records("incident") == b.truth.servicenow_records("incident")
    a.advance(1, 0.05)
    b.advance(1, 0.05)
    assert a.truth.jira_issues() == b.truth.jira_issues()
    assert Sandbox(seed=12, size=120, now=NOW).truth.jira_issues() != a.truth.jira_issues()
