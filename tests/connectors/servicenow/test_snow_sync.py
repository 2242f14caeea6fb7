"""sync_servicenow end to end through the real pysnow client against a fake Table API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.result import SourceError
from connectors.servicenow import ServiceNowSettings, sync_servicenow
from connectors.state import read_cursor
from tests.connectors.servicenow.snow_fake import NOW, PASSWORD, audit, incident, make_cfg, sys_id


def landed(con, sql="select sys_id, state from raw.servicenow_records order by sys_id"):
    return con.execute(sql).fetchall()


def changes(con, doc=None):
    sql = (
        "select record_sys_id, from_value, to_value, history_source"
        " from raw.servicenow_state_changes"
    )
    params = []
    if doc:
        sql += " where record_sys_id = ?"
        params = [doc]
    return con.execute(
        sql + " order by changed_at, record_checkpoint, change_id", params
    ).fetchall()


def test_keyset_paging_across_equal_timestamps(con, cfg, settings, fake, policy):
    # 1200 records, only 3 distinct sys_updated_on values: pages of 500 break every tie.
    stamps = ["2024-03-01 10:00:00", "2024-03-01 10:00:01", "2024-03-01 10:00:02"]
    fake.tables["incident"] = [incident(i, stamps[i % 3]) for i in range(1200)]
    seen: list[tuple[str, str, str, int]] = []
    result = sync_servicenow(
        con, settings, cfg, run_started_at=NOW, policy=policy, progress=lambda *a: seen.append(a)
    )
    assert con.execute("select count(*) from raw.servicenow_records").fetchone()[0] == 1200
    reqs = fake.table_requests("incident")
    # 500, 500 and the short 200, which its X-Total-Count (asked on the first page and near
    # the end) proves is the last: no empty page
    assert len(reqs) == 3
    assert reqs[0].params["sysparm_limit"] == "500"
    for param, value in [
        ("sysparm_no_count", "false"),
        ("sysparm_display_value", "false"),
        ("sysparm_exclude_reference_link", "true"),
    ]:
        assert reqs[0].params[param] == value
    assert "assignment_group.name" in reqs[0].params["sysparm_fields"]
    assert "^NQ" in reqs[1].query and "sys_id>" in reqs[1].query
    assert result.streams[0].records == 1200 and result.streams[0].mode == "full"
    assert [s[3] for s in seen if s[2].startswith("page")] == [500, 1000, 1200]
    assert all(s[0] == "servicenow" and s[1] == "incident" for s in seen)


def test_record_updated_mid_scan_is_neither_skipped_nor_duplicated(con, settings, fake, policy):
    cfg = make_cfg(page_size=500)
    rows = [incident(i, f"2024-03-01 10:{i // 60:02d}:{i % 60:02d}") for i in range(1000)]
    fake.tables["incident"] = rows

    def touch(req):
        if req.table == "incident" and len(fake.table_requests("incident")) == 1:
            # one already-read record and one not yet read both move past the cursor
            for n in (10, 700):
                rows[n].update(sys_updated_on="2024-03-05 09:00:00", state="6")

    fake.after_request = touch
    sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    got = dict(landed(con))
    assert len(got) == 1000
    assert got[sys_id(10)] == "6" and got[sys_id(700)] == "6"
    assert con.execute(
        "select count(distinct sys_id) = count(*) from raw.servicenow_records"
    ).fetchone()[0]


def test_acl_short_pages_and_empty_rows_do_not_end_the_scan(con, cfg, settings, fake, policy):
    fake.tables["incident"] = [incident(i, f"2024-03-01 1{i // 600}:00:00") for i in range(1500)]
    hidden = {sys_id(i) for i in range(0, 1500, 7)}
    calls = {"n": 0}

    def acl(table, rows, req):
        if table != "incident":
            return rows
        calls["n"] += 1
        if calls["n"] == 2:  # a page of denied rows only: no cursor to advance on
            hidden.update(r["sys_id"] for r in rows)
            return [{} for _ in rows]
        out = [{} if r.get("sys_id") in hidden else r for r in rows]
        # first page short: the cut rows come after the cursor, so the next page has them
        return out[: len(out) // 2] if calls["n"] == 1 else out

    fake.shape = acl
    result = sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    ids = {r[0] for r in landed(con)}
    assert not ids & hidden
    assert ids == {sys_id(i) for i in range(1500)} - hidden
    reqs = fake.table_requests("incident")
    assert reqs[2].params["sysparm_offset"] == "500"  # stepped over the all-denied page
    assert len(ids) > 800
    assert any("hidden by ACLs" in w for w in result.warnings)


def test_reference_fields_in_every_shape(con, cfg, settings, fake, policy):
    g = "287ebd7da9fe198100f92cc8d1d2154e"
    fake.tables["incident"] = [
        incident(
            1,
            "2024-03-01 10:00:00",
            assignment_group={
                "link": f"https://acme.service-now.com/api/now/table/sys_user_group/{g}",
                "value": g,
            },
            **{"assignment_group.name": "Service Desk"},
        ),
        incident(
            2,
            "2024-03-01 10:00:01",
            assignment_group=g,
            problem_id=sys_id(9, "p"),
            **{"problem_id.number": "PRB0000009"},
        ),
        incident(
            3,
            "2024-03-01 10:00:02",
            assignment_group="",
            parent_incident={"link": "x", "value": sys_id(1)},
            problem_id=sys_id(9, "p"),
        ),
        incident(4, "2024-03-01 10:00:03", problem_id=sys_id(8, "p")),
    ]
    fake.tables["sys_user_group"] = [{"sys_id": g, "name": "Service Desk"}]
    sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    rows = con.execute(
        "select number, assignment_group_id, assignment_group_name, parent_key,"
        " url from raw.servicenow_records order by number"
    ).fetchall()
    assert rows[0][:3] == ("INC0000001", g, "Service Desk")
    assert rows[1][:2] == ("INC0000002", g) and rows[1][3] == "PRB0000009"
    assert rows[2][1] is None and rows[2][3] == sys_id(1)  # parent_incident wins; no number
    assert rows[3][3] == sys_id(8, "p")  # number unknown: the sys_id
    assert rows[0][4] == (
        "https://acme.service-now.com/nav_to.do?uri=incident.do?sys_id=" + sys_id(1)
    )
    assert con.execute("select name from raw.servicenow_groups").fetchall() == [("Service Desk",)]


def test_state_history_dedupes_incident_state_and_keeps_resolve_close_and_reopen(
    con, cfg, settings, fake, policy
):
    doc = sys_id(1)
    fake.tables["incident"] = [incident(1, "2024-03-05 10:00:00", state="7")]
    trail = [
        ("2024-03-01 09:00:00", "1", "2", 2),
        ("2024-03-02 09:00:00", "2", "6", 3),
        ("2024-03-02 12:00:00", "6", "2", 4),  # reopened
        ("2024-03-03 09:00:00", "2", "6", 5),
        ("2024-03-05 10:00:00", "6", "7", 6),
    ]
    rows = []
    for i, (at, old, new, cp) in enumerate(trail):
        rows.append(audit(2 * i, doc, at, old, new, cp))
        rows.append(audit(2 * i + 1, doc, at, old, new, cp, fieldname="incident_state"))
    fake.tables["sys_audit"] = rows
    fake.ignored_fields = {"fieldname"}  # even an instance that ignores the filter
    result = sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert changes(con) == [(doc, o, n, "sys_audit") for _, o, n, _ in trail]
    assert result.streams[0].histories == 5
    (q,) = [r.query for r in fake.table_requests("sys_audit")][:1]
    # state, hold_reason and assignment_group in one scan (docs/contract.md §6), never incident_state
    assert "fieldnameINstate,hold_reason,assignment_group^" in q and "incident_state" not in q
    assert f"documentkeyIN{doc}" in q and "tablename=incident" in q


def test_429_then_success_waits_exactly_retry_after(con, cfg, settings, fake, policy, sleeps):
    fake.tables["incident"] = [incident(1, "2024-03-01 10:00:00")]
    fake.queued.append(
        (
            429,
            {"Retry-After": "7"},
            {"error": {"message": "Too many requests", "detail": "rate limited"}},
        )
    )
    result = sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert sleeps.delays == [7.0]
    assert landed(con) == [(sys_id(1), "2")]
    assert result.streams[0].requests == len(fake.requests)


def test_401_is_one_clear_error_and_nothing_moves(con, cfg, fake, policy):
    fake.tables["incident"] = [incident(1, "2024-03-01 10:00:00")]
    bad = ServiceNowSettings("https://acme.service-now.com", "sync.bot", "wrong-" + PASSWORD)
    with pytest.raises(SourceError) as err:
        sync_servicenow(con, bad, cfg, run_started_at=NOW, policy=policy)
    msg = str(err.value)
    assert msg.startswith(
        "ServiceNow rejected the credentials for user sync.bot at "
        "https://acme.service-now.com (HTTP 401: User Not Authenticated"
    )
    assert PASSWORD not in msg and "wrong-" not in msg
    assert len(fake.requests) == 1  # 401 is not retried
    assert landed(con) == []
    assert read_cursor(con, "servicenow", "incident") is None
    runs = con.execute("select status, error from raw.sync_runs").fetchall()
    assert runs[0][0] == "failed" and "HTTP 401" in runs[0][1] and PASSWORD not in runs[0][1]


def test_unreachable_host_names_host_and_variable(con, cfg, policy):
    s = ServiceNowSettings("http://127.0.0.1:9", "u", "pw")  # discard port: refused
    with pytest.raises(SourceError) as err:
        sync_servicenow(con, s, cfg, run_started_at=NOW, policy=policy)
    assert "127.0.0.1:9" in str(err.value) and "SERVICENOW_URL" in str(err.value)


def test_sys_audit_forbidden_falls_back_to_metric_instance(con, cfg, settings, fake, policy):
    doc = sys_id(1)
    fake.tables["incident"] = [incident(1, "2024-03-04 10:00:00", state="7")]
    fake.forbidden = {"sys_audit"}
    period = {
        "definition": "d1",
        "id": doc,
        "table": "incident",
        "field": "state",
        "calculation_complete": "true",
    }
    fake.tables["metric_instance"] = [
        {
            **period,
            "sys_id": "m1",
            "field_value": "1",
            "value": "New",
            "start": "2024-03-01 08:00:00",
            "end": "2024-03-01 09:00:00",
        },
        {
            **period,
            "sys_id": "m2",
            "field_value": "2",
            "value": "In Progress",
            "start": "2024-03-01 09:00:00",
            "end": "2024-03-03 09:00:00",
        },
        {
            **period,
            "sys_id": "m3",
            "field_value": "6",
            "value": "Resolved",
            "start": "2024-03-03 09:00:00",
            "end": "2024-03-04 10:00:00",
        },
        {
            **period,
            "sys_id": "m9",
            "field": "assigned_to",
            "field_value": "x",
            "start": "2024-03-01 08:00:00",
            "end": "",
        },
    ]
    result = sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert changes(con) == [
        (doc, "1", "2", "metric_instance"),
        (doc, "2", "6", "metric_instance"),
        (doc, "6", "7", "metric_instance"),
    ]
    assert any("sys_audit is not readable" in w for w in result.warnings)
    assert con.execute("select history_approximate_since from raw.sync_state").fetchone() == (None,)


def test_both_forbidden_observes_changes_and_marks_history_approximate(
    con, cfg, settings, fake, policy
):
    rows = [
        incident(1, "2024-03-01 10:00:00", state="1"),
        incident(2, "2024-03-01 11:00:00", state="2"),
    ]
    fake.tables["incident"] = rows
    fake.forbidden = {"sys_audit", "metric_instance"}
    first = sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert changes(con) == []
    since = con.execute("select history_approximate_since from raw.sync_state").fetchone()[0]
    assert since == datetime(2024, 1, 1, 8, 0, tzinfo=UTC)  # earliest sys_created_on
    assert any("approximate" in w for w in first.warnings)

    rows[0].update(state="2", sys_updated_on="2024-03-10 12:30:00", sys_mod_count="2")
    later = NOW + timedelta(hours=1)
    second = sync_servicenow(con, settings, cfg, run_started_at=later, policy=policy)
    assert changes(con) == [(sys_id(1), "1", "2", "observed")]
    assert second.streams[0].mode == "incremental" and second.streams[0].histories == 1
    again = con.execute("select history_approximate_since from raw.sync_state").fetchone()[0]
    assert again == since  # the earliest instant is kept


def test_choices_labels_are_landed(con, cfg, settings, fake, policy):
    fake.tables["incident"] = [incident(1, "2024-03-01 10:00:00")]
    fake.tables["sys_choice"] = [
        {
            "sys_id": "c1",
            "name": "incident",
            "element": "state",
            "value": "1",
            "label": "New",
            "sequence": "1",
            "inactive": "false",
            "language": "en",
        },
        {
            "sys_id": "c2",
            "name": "incident",
            "element": "state",
            "value": "4",
            "label": "Awaiting User Info",
            "sequence": "4",
            "inactive": "true",
            "language": "en",
        },
        {
            "sys_id": "c3",
            "name": "incident",
            "element": "incident_state",
            "value": "1",
            "label": "New",
            "sequence": "1",
            "inactive": "false",
            "language": "en",
        },
        {
            "sys_id": "c4",
            "name": "problem",
            "element": "state",
            "value": "101",
            "label": "New",
            "sequence": "1",
            "inactive": "false",
            "language": "en",
        },
    ]
    sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    got = con.execute(
        "select table_name, element, value, label, sequence, inactive"
        " from raw.servicenow_choices order by value"
    ).fetchall()
    assert got == [
        ("incident", "state", "1", "New", 1, False),
        ("incident", "state", "4", "Awaiting User Info", 4, True),
    ]


def test_deletion_from_sys_audit_delete_becomes_a_tombstone(con, cfg, settings, fake, policy):
    fake.tables["incident"] = [
        incident(1, "2024-03-01 10:00:00"),
        incident(2, "2024-03-01 10:00:00"),
    ]
    sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    fake.tables["incident"].pop(1)
    fake.tables["sys_audit_delete"] = [
        {
            "sys_id": "d1",
            "tablename": "incident",
            "documentkey": sys_id(2),
            "display_value": "INC0000002",
            "sys_created_on": "2024-03-10 12:20:00",
        }
    ]
    later = NOW + timedelta(hours=1)
    result = sync_servicenow(con, settings, cfg, run_started_at=later, policy=policy)
    rows = con.execute(
        "select sys_id, is_deleted, deleted_at from raw.servicenow_records order by sys_id"
    ).fetchall()
    assert rows == [
        (sys_id(1), False, None),
        (sys_id(2), True, datetime(2024, 3, 10, 12, 20, tzinfo=UTC)),
    ]
    assert result.streams[0].deleted == 1
    (dq,) = [r.query for r in fake.table_requests("sys_audit_delete")][-1:]
    assert dq.startswith(
        "sys_created_on>=2024-03-10 11:49:00^sys_created_on<2024-03-10 12:59:00^tablename=incident"
    )


def test_incremental_window_cursor_and_full_reread(con, cfg, settings, fake, policy):
    fake.tables["incident"] = [incident(1, "2024-03-01 10:00:00")]
    sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    cursor = read_cursor(con, "servicenow", "incident")
    assert cursor == NOW - timedelta(minutes=1)
    fake.requests.clear()
    sync_servicenow(con, settings, cfg, run_started_at=NOW + timedelta(days=1), policy=policy)
    q = fake.table_requests("incident")[0].query
    assert q.startswith("sys_updated_on>=2024-03-10 11:49:00^sys_updated_on<2024-03-11 11:59:00")
    fake.requests.clear()
    res = sync_servicenow(
        con, settings, cfg, full=True, run_started_at=NOW + timedelta(days=2), policy=policy
    )
    assert fake.table_requests("incident")[0].query.startswith("sys_updated_on<2024-03-12")
    assert res.streams[0].mode == "full" and res.streams[0].records == 1
    runs = con.execute("select mode, status from raw.sync_runs order by started_at").fetchall()
    assert runs == [("full", "success"), ("incremental", "success"), ("full", "success")]


def test_quarantine_bad_records_and_go_on(con, cfg, settings, fake, policy):
    good = incident(1, "2024-03-01 10:00:00")
    no_number = incident(2, "2024-03-01 10:00:01", number="")
    bad_ts = incident(3, "2024-03-01 10:00:02", opened_at="01/03/2024 10:00")
    fake.tables["incident"] = [good, no_number, bad_ts]
    result = sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert [r[0] for r in landed(con)] == [sys_id(1)]
    q = con.execute(
        "select stream, record_key, reason from raw.quarantine order by record_key"
    ).fetchall()
    assert q == [
        (
            "incident",
            "INC0000003",
            "unparseable opened_at '01/03/2024 10:00' (expected YYYY-MM-DD HH:MM:SS)",
        ),
        ("incident", sys_id(2), "missing number"),
    ]
    assert result.streams[0].quarantined == 2


def test_tables_from_config_and_scope_in_every_query(con, settings, fake, policy):
    cfg = make_cfg(["incident", "problem", "change_request"], query="active=true")
    fake.tables["incident"] = [incident(1, "2024-03-01 10:00:00")]
    fake.tables["problem"] = [
        {**incident(5, "2024-03-01 10:00:00", state="101"), "number": "PRB0000005"}
    ]
    result = sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert [s.stream for s in result.streams] == ["incident", "change_request", "problem"]
    for t in ("incident", "change_request", "problem"):
        assert all("^active=true^" in r.query for r in fake.table_requests(t))
    assert con.execute(
        "select table_name, number from raw.servicenow_records order by 1"
    ).fetchall() == [("incident", "INC0000001"), ("problem", "PRB0000005")]


def test_injection_in_config_fails_before_any_request(con, settings, fake, policy):
    cfg = make_cfg(query="active=true^NQactive=false")
    with pytest.raises(SourceError, match="'\\^NQ'"):
        sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert fake.requests == []
    assert con.execute("select status from raw.sync_runs").fetchall() == [("failed",)]


def test_not_configured():
    from connectors.result import SourceNotConfigured

    with pytest.raises(SourceNotConfigured):
        sync_servicenow(None, None, make_cfg())  # type: ignore[arg-type]


def test_naive_clock_is_never_used():
    assert datetime.now(UTC).tzinfo is UTC


def test_auxiliary_tables_an_instance_does_not_serve_degrade_with_warnings(
    con, cfg, settings, fake, policy
):
    """sys_audit_delete, sys_choice and sys_user_group answering 404 must not stop the sync."""
    fake.tables["incident"] = [incident(1, "2024-03-04 10:00:00", state="2")]
    fake.tables["sys_audit"] = [audit(1, sys_id(1), "2024-03-02 09:00:00", "1", "2", 2)]
    fake.missing = {"sys_audit_delete", "sys_choice", "sys_user_group"}
    result = sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert landed(con) == [(sys_id(1), "2")]
    assert changes(con) == [(sys_id(1), "1", "2", "sys_audit")]
    joined = " | ".join(result.warnings)
    assert "deletions not detected" in joined and "state labels not read" in joined
    assert "assignment groups not read" in joined


def test_a_missing_primary_table_is_a_clear_error(con, cfg, settings, fake, policy):
    fake.missing = {"incident"}
    with pytest.raises(SourceError, match=r"no table API for incident \(HTTP 404"):
        sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
