"""ServiceNow Table API, driven through the real pysnow client and raw requests."""

from __future__ import annotations

import pysnow
import pytest
import requests

from sandbox import Sandbox

AUTH = ("admin", "sandbox-password")


@pytest.fixture
def snow(cloud: Sandbox) -> pysnow.Client:
    return pysnow.Client(
        host=cloud.servicenow_url.removeprefix("http://"),
        user=AUTH[0],
        password=AUTH[1],
        use_ssl=False,
    )


def keyset(
    sb: Sandbox,
    session: requests.Session,
    table: str,
    order_col: str,
    extra: str = "",
    page: int = 50,
) -> list[dict]:
    """The tap-servicenow keyset pattern over (order_col, sys_id)."""
    rows: list[dict] = []
    last = None
    while True:
        q = (
            f"{extra}^ORDERBY{order_col}^ORDERBYsys_id"
            if extra
            else f"ORDERBY{order_col}^ORDERBYsys_id"
        )
        if last:
            t, sid = last
            base = f"{extra}^" if extra else ""
            q = (
                f"{base}{order_col}>{t}^NQ{base}{order_col}={t}^sys_id>{sid}"
                f"^ORDERBY{order_col}^ORDERBYsys_id"
            )
        r = session.get(
            f"{sb.servicenow_url}/api/now/table/{table}",
            params={
                "sysparm_query": q,
                "sysparm_limit": page,
                "sysparm_no_count": "true",
                "sysparm_exclude_reference_link": "true",
            },
        )
        got = r.json()["result"]
        if not got:
            return rows
        assert "X-Total-Count" not in r.headers
        rows.extend(got)
        last = (got[-1][order_col], got[-1]["sys_id"])


def test_keyset_paging_reads_every_record(cloud: Sandbox, snow_http: requests.Session) -> None:
    for table in ("incident", "change_request", "problem"):
        rows = keyset(cloud, snow_http, table, "sys_updated_on")
        truth = cloud.truth.servicenow_records(table)
        assert sorted(r["sys_id"] for r in rows) == sorted(t["sys_id"] for t in truth)
        assert all(isinstance(v, str) for r in rows for v in r.values())


def test_sys_audit_gives_every_state_history(cloud: Sandbox, snow_http: requests.Session) -> None:
    rows = keyset(
        cloud,
        snow_http,
        "sys_audit",
        "sys_created_on",
        "tablename=incident^fieldname=state",
        page=200,
    )
    got: dict[str, list[tuple[str, str, str]]] = {}
    for r in rows:
        assert r["fieldname"] == "state"
        got.setdefault(r["documentkey"], []).append(
            (r["sys_created_on"], r["oldvalue"], r["newvalue"])
        )
    for t in cloud.truth.servicenow_records("incident"):
        assert got.get(t["sys_id"], []) == [
            (h["at"], h["old"], h["new"]) for h in t["state_history"]
        ]
    mirror = snow_http.get(
        f"{cloud.servicenow_url}/api/now/table/sys_audit",
        params={"sysparm_query": "tablename=incident^fieldname=incident_state", "sysparm_limit": 1},
    )
    assert int(mirror.headers["X-Total-Count"]) == len(rows)


def test_pysnow_query_fields_and_dot_walk(cloud: Sandbox, snow: pysnow.Client) -> None:
    incidents = snow.resource(api_path="/table/incident")
    resp = incidents.get(
        query="stateIN1,2,3^ORDERBYnumber",
        limit=500,
        fields=["number", "state", "assignment_group.name", "hold_reason"],
    )
    rows = resp.all()
    truth = {t["number"]: t for t in cloud.truth.servicenow_records("incident")}
    expected = {n for n, t in truth.items() if t["state"] in ("1", "2", "3")}
    assert {r["number"] for r in rows} == expected and rows
    assert all(r["assignment_group.name"] == truth[r["number"]]["assignment_group"] for r in rows)
    assert [r["number"] for r in rows] == sorted(r["number"] for r in rows)


def test_display_values_and_references(cloud: Sandbox, snow_http: requests.Session) -> None:
    url = f"{cloud.servicenow_url}/api/now/v2/table/incident"
    row = snow_http.get(
        url,
        params={
            "sysparm_display_value": "all",
            "sysparm_limit": 1,
            "sysparm_query": "assignment_groupISNOTEMPTY",
        },
    ).json()["result"][0]
    assert set(row["state"]) == {"display_value", "value"}
    assert set(row["assignment_group"]) == {"display_value", "link", "value"}
    raw = snow_http.get(
        url,
        params={
            "sysparm_limit": 1,
            "sysparm_display_value": "False",
            "sysparm_exclude_reference_link": "False",
            "sysparm_query": "assignment_groupISNOTEMPTY",
        },
    ).json()["result"][0]
    assert set(raw["assignment_group"]) == {"link", "value"}
    assert raw["caused_by"] == "" or "value" in raw["caused_by"]
    bare = snow_http.get(
        url,
        params={
            "sysparm_limit": 1,
            "sysparm_exclude_reference_link": "true",
            "sysparm_query": "assignment_groupISNOTEMPTY",
        },
    ).json()["result"][0]
    assert isinstance(bare["assignment_group"], str) and len(bare["assignment_group"]) == 32
    assert len(raw["sys_updated_on"]) == 19 and raw["sys_updated_on"][10] == " "


def test_link_header_and_unknown_fields(cloud: Sandbox, snow_http: requests.Session) -> None:
    url = f"{cloud.servicenow_url}/api/now/table/incident"
    r = snow_http.get(url, params={"sysparm_limit": 10, "sysparm_query": "bogus_field=1"})
    total = len(cloud.truth.servicenow_records("incident"))
    assert int(r.headers["X-Total-Count"]) == total  # the typo silently widened the filter
    links = {
        link["rel"]: link["url"] for link in requests.utils.parse_header_links(r.headers["Link"])
    }
    assert "sysparm_offset=-1" in links["prev"] and "sysparm_offset=10" in links["next"]
    assert f"sysparm_offset={(total - 1) // 10 * 10}" in links["last"]
    assert r.headers["X-Transaction-ID"]


def test_reference_tables(cloud: Sandbox, snow_http: requests.Session) -> None:
    base = f"{cloud.servicenow_url}/api/now/table"
    choices = snow_http.get(
        f"{base}/sys_choice", params={"sysparm_query": "name=incident^element=state^inactive=false"}
    ).json()["result"]
    labels = {c["value"]: c["label"] for c in choices}
    assert labels["3"] == "On Hold" and labels["4"] == "Awaiting User Info"
    assert any(
        t["state_history"] and any(h["new"] == "4" for h in t["state_history"])
        for t in cloud.truth.servicenow_records("incident")
    )
    groups = snow_http.get(f"{base}/sys_user_group").json()["result"]
    assert {"Service Desk", "Payments Ops"} <= {g["name"] for g in groups}
    metrics = snow_http.get(f"{base}/metric_instance", params={"sysparm_limit": 5}).json()
    m = metrics["result"][0]
    assert {
        "definition",
        "id",
        "value",
        "field_value",
        "start",
        "end",
        "duration",
        "calculation_complete",
    } <= set(m)


def test_auth_and_forbidden_tables(cloud: Sandbox, snow_http: requests.Session) -> None:
    url = f"{cloud.servicenow_url}/api/now/table/incident"
    r = requests.get(url, timeout=5)
    assert r.status_code == 401
    assert r.json() == {
        "error": {
            "message": "User Not Authenticated",
            "detail": "Required to provide Auth information",
        },
        "status": "failure",
    }
    cloud.set_knobs(forbidden_tables={"sys_audit", "metric_instance"})
    try:
        r = snow_http.get(f"{cloud.servicenow_url}/api/now/table/sys_audit")
        assert r.status_code == 403 and r.json()["status"] == "failure"
    finally:
        cloud.set_knobs(forbidden_tables=set())
