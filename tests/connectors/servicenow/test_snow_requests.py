"""Request economy of sync_servicenow, through the real pysnow client against the fake instance.

What is pinned here (docs/benchmarks.md, "ServiceNow after optimisation"): one sys_audit scan
per window for all tables (window scan for many records, documentkeyIN for a few, none when
nothing changed), one sys_audit_delete scan for all tables, labels and groups only when due,
and a history identical to the one the per-record documentkeyIN batches produce.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from connectors.servicenow import fetch, sync_servicenow
from tests.connectors.servicenow.snow_fake import NOW, audit, incident, make_cfg, sys_id

TABLES = ["incident", "change_request", "problem"]
N_INC, N_CHG = 600, 130  # 600 sys_ids need 5 documentkeyIN lists of ~120


def _change(n: int, updated: str, state: str = "-5") -> dict:
    return {**incident(n, updated, state=state), "number": f"CHG{n:07d}"}


def _populate(fake) -> int:
    """Incidents and change requests with a state trail each (plus noise); returns the rows
    that must become history."""
    fake.tables["incident"] = [
        incident(i, f"2024-03-0{1 + i % 5} 10:00:00", state="6") for i in range(N_INC)
    ]
    fake.tables["change_request"] = [
        _change(10_000 + i, "2024-03-02 11:00:00") for i in range(N_CHG)
    ]
    fake.tables["problem"] = []
    rows, n = [], 0
    for i in range(N_INC):
        doc = sys_id(i)
        for k, (old, new) in enumerate([("1", "2"), ("2", "6")]):
            at = f"2024-02-{10 + i % 15:02d} {8 + k:02d}:00:00"
            rows.append(audit(n, doc, at, old, new, k + 2))
            rows.append(audit(n + 1, doc, at, old, new, k + 2, fieldname="incident_state"))
            n += 2
    for i in range(N_CHG):
        rows.append(
            audit(
                n, sys_id(10_000 + i), "2024-02-20 09:00:00", "-5", "-4", 2, table="change_request"
            )
        )
        n += 1
    # history of a record that is not in the table any more (never read): never landed
    rows.append(audit(n, sys_id(99_999), "2024-02-21 09:00:00", "1", "2", 2))
    fake.tables["sys_audit"] = rows
    fake.tables["sys_choice"] = [
        {
            "sys_id": f"c{t}{v}",
            "name": t,
            "element": "state",
            "value": v,
            "label": f"L{v}",
            "sequence": "1",
            "inactive": "false",
            "language": "en",
        }
        for t, values in (
            ("incident", ["1", "2", "6", "7"]),
            ("change_request", ["-5", "-4", "3"]),
            ("problem", ["101"]),
        )
        for v in values
    ]
    fake.tables["sys_user_group"] = [{"sys_id": "g1", "name": "Service Desk"}]
    return 2 * N_INC + N_CHG


def _history(con):
    return con.execute(
        "select change_id, table_name, record_sys_id, changed_at, from_value,"
        " to_value, record_checkpoint, history_source"
        " from raw.servicenow_state_changes order by change_id"
    ).fetchall()


def test_full_sync_reads_sys_audit_as_one_window_scan_with_the_same_history(
    con, settings, fake, policy, monkeypatch
):
    wanted = _populate(fake)
    cfg = make_cfg(TABLES, page_size=500)
    result = sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    audit_reqs = fake.table_requests("sys_audit")
    matched = sum(r["fieldname"] == "state" for r in fake.tables["sys_audit"])
    # two full pages and the short one, which its own X-Total-Count proves is the last (the
    # first page is counted for the scan's size, so the end pages are counted too): 1331 → 3
    assert len(audit_reqs) == matched // 500 + 1 == 3
    for r in audit_reqs:
        assert r.query.startswith(
            "sys_created_on<2024-03-10 11:59:00^tablenameINincident,"
            "change_request^fieldnameINstate,hold_reason,assignment_group^"
        )
        assert "documentkeyIN" not in r.query
    assert len(fake.table_requests("sys_audit_delete")) == 1  # all tables, empty: the end
    assert (
        "tablenameINincident,change_request,problem"
        in fake.table_requests("sys_audit_delete")[0].query
    )
    # small catalogues are counted (X-Total-Count): one request each, no empty end page
    assert len(fake.table_requests("sys_choice")) == 1  # one scan for the three tables
    assert (
        "nameINincident,change_request,problem^elementINstate,hold_reason"
        in fake.table_requests("sys_choice")[0].query
    )
    assert len(fake.table_requests("sys_user_group")) == 1
    # unbounded full-sync scans count their first page and the pages near the end only
    for t in ("incident", "sys_audit", "sys_audit_delete"):
        assert fake.table_requests(t)[0].params["sysparm_no_count"] == "false"
    full_history = _history(con)
    assert len(full_history) == wanted == sum(s.histories for s in result.streams)
    assert sys_id(99_999) not in {h[2] for h in full_history}
    assert sum(s.requests for s in result.streams) == len(fake.requests)
    assert con.execute("select count(*) from raw.servicenow_choices").fetchone()[0] == 8

    # the same sync with the per-record documentkeyIN batches lands exactly the same rows
    from warehouse.db import bootstrap, connect

    other = connect(":memory:")
    bootstrap(other)
    monkeypatch.setattr(fetch, "AUDIT_BATCHES", 1_000)
    fake.requests.clear()
    sync_servicenow(other, settings, cfg, run_started_at=NOW, policy=policy)
    batched = fake.table_requests("sys_audit")
    assert len(batched) >= math.ceil((N_INC + N_CHG) / 125) > 4  # a scan per list
    assert all("documentkeyIN" in r.query for r in batched)
    assert _history(other) == full_history
    other.close()


def test_incremental_without_changes_reads_no_history_labels_or_groups(con, settings, fake, policy):
    _populate(fake)
    cfg = make_cfg(TABLES, page_size=500)
    sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    fake.requests.clear()
    result = sync_servicenow(
        con, settings, cfg, run_started_at=NOW + timedelta(days=1), policy=policy
    )
    tables = [r.table for r in fake.requests]
    assert tables == ["incident", "change_request", "problem", "sys_audit_delete"]
    assert all(s.mode == "incremental" and s.records == 0 for s in result.streams)
    assert sum(s.requests for s in result.streams) == 4


def test_small_incremental_window_reads_history_by_key_in_one_request(con, settings, fake, policy):
    _populate(fake)
    cfg = make_cfg(TABLES, page_size=500)
    sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    inc = fake.tables["incident"]
    inc[3].update(state="7", sys_updated_on="2024-03-10 12:30:00")
    chg = fake.tables["change_request"]
    chg[0].update(state="-4", sys_updated_on="2024-03-10 12:31:00")
    fake.tables["sys_audit"] += [
        audit(90_001, sys_id(3), "2024-03-10 12:30:00", "6", "7", 4),
        audit(90_002, sys_id(10_000), "2024-03-10 12:31:00", "-5", "-4", 3, table="change_request"),
    ]
    fake.requests.clear()
    result = sync_servicenow(
        con, settings, cfg, run_started_at=NOW + timedelta(hours=1), policy=policy
    )
    (aq,) = fake.table_requests("sys_audit")  # counted: no empty end page
    assert aq.params["sysparm_no_count"] == "false"
    assert aq.query.startswith(
        "sys_created_on>=2024-03-10 11:49:00^sys_created_on<2024-03-10"
        " 12:59:00^tablenameINincident,change_request"
        "^fieldnameINstate,hold_reason,assignment_group^"
        f"documentkeyIN{sys_id(3)},{sys_id(10_000)}^"
    )
    assert [s.histories for s in result.streams] == [1, 1, 0]
    # states and groups all known, labels fresh: no catalogue request
    assert not fake.table_requests("sys_choice") and not fake.table_requests("sys_user_group")
    assert len(fake.table_requests("sys_audit_delete")) == 1


def test_labels_and_groups_are_reread_only_when_due_or_unknown(con, settings, fake, policy):
    _populate(fake)
    cfg = make_cfg(TABLES, page_size=500)
    sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    later = NOW

    def night(**changes):
        nonlocal later
        later += timedelta(days=1)
        row = fake.tables["incident"][5]
        row.update(
            sys_updated_on=(later - timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M:%S"), **changes
        )
        fake.requests.clear()
        sync_servicenow(con, settings, cfg, run_started_at=later, policy=policy)
        # the first query of each scan (the empty page that ends it repeats it after a cursor)
        return (
            [r.query for r in fake.table_requests("sys_choice") if "sys_id>" not in r.query],
            len(fake.table_requests("sys_user_group")),
        )

    assert night(state="2") == ([], 0)  # known state, no group
    assert night(assignment_group="g1") == ([], 0)  # known group
    choices, groups = night(state="9")  # a state the stored labels do not know
    assert choices == ["name=incident^elementINstate,hold_reason^ORDERBYsys_id"] and groups == 0
    fake.tables["sys_user_group"].append({"sys_id": "g2", "name": "Network"})
    assert night(assignment_group="g2") == ([], 1)  # unknown group id: groups only
    assert con.execute("select name from raw.servicenow_groups where sys_id = 'g2'").fetchone() == (
        "Network",
    )
    # stored catalogue older than sync.census_days: all labels and the groups (aged on the
    # run clock, connectors/run.py: the next night runs at later + 1 day)
    old = later + timedelta(days=1) - timedelta(days=cfg.sync.census_days, hours=1)
    con.execute("update raw.sync_state set last_census_at = ? where source = 'servicenow'", [old])
    choices, groups = night(state="2")
    assert choices == [
        "nameINincident,change_request,problem^elementINstate,hold_reason^ORDERBYsys_id"
    ]
    assert groups == 1
    assert night(state="6") == ([], 0)  # read again: fresh for census_days


def test_unreadable_catalogue_is_not_retried_every_night(con, settings, fake, policy):
    fake.tables["incident"] = [incident(1, "2024-03-01 10:00:00")]
    fake.missing = {"sys_choice"}
    cfg = make_cfg()
    first = sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert any("state labels not read" in w for w in first.warnings)
    fake.tables["incident"][0].update(state="6", sys_updated_on="2024-03-10 12:30:00")
    fake.requests.clear()
    sync_servicenow(con, settings, cfg, run_started_at=NOW + timedelta(hours=1), policy=policy)
    assert fake.table_requests("sys_choice") == []


@pytest.mark.parametrize("deleted_table", ["incident", "problem"])
def test_one_sys_audit_delete_scan_tombstones_each_table(
    con, settings, fake, policy, deleted_table
):
    fake.tables["incident"] = [incident(1, "2024-03-01 10:00:00")]
    fake.tables["problem"] = [{**incident(2, "2024-03-01 10:00:00"), "number": "PRB0000002"}]
    cfg = make_cfg(TABLES)
    sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    gone = sys_id(1 if deleted_table == "incident" else 2)
    fake.tables[deleted_table] = []
    fake.tables["sys_audit_delete"] = [
        {
            "sys_id": "d1",
            "tablename": deleted_table,
            "documentkey": gone,
            "display_value": "x",
            "sys_created_on": "2024-03-10 12:20:00",
        }
    ]
    fake.requests.clear()
    result = sync_servicenow(
        con, settings, cfg, run_started_at=NOW + timedelta(hours=1), policy=policy
    )
    reqs = fake.table_requests("sys_audit_delete")
    assert len(reqs) == 1  # bounded window, counted: the page with the row is the last
    assert all("^tablenameINincident,change_request,problem^" in r.query for r in reqs)
    deleted = {s.stream: s.deleted for s in result.streams}
    assert deleted == {
        "incident": int(deleted_table == "incident"),
        "change_request": 0,
        "problem": int(deleted_table == "problem"),
    }
    assert con.execute("select sys_id from raw.servicenow_records where is_deleted").fetchall() == [
        (gone,)
    ]


def test_nightly_requests_and_the_count_never_ends_a_scan_early(con, settings, fake, policy):
    """Incremental scans ask for X-Total-Count; a page shortened by ACLs is not the end
    while the count says more rows match, and without the header the empty page still ends it.
    """
    fake.tables["incident"] = [incident(i, "2024-03-01 10:00:00") for i in range(30)]
    cfg = make_cfg(TABLES)
    sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    later = NOW + timedelta(hours=1)
    for i in range(1200):  # 1200 changed incidents → pages of 500
        if i < 30:
            fake.tables["incident"][i].update(sys_updated_on="2024-03-10 12:30:00", state="6")
        else:
            fake.tables["incident"].append(incident(i, "2024-03-10 12:30:00"))
    calls = {"n": 0}

    def acl(table, rows, req):
        if table == "incident":
            calls["n"] += 1
            return rows[:100] if calls["n"] == 1 else rows  # first page short by ACLs
        return rows

    fake.shape = acl
    fake.requests.clear()
    result = sync_servicenow(con, settings, cfg, run_started_at=later, policy=policy)
    reqs = fake.table_requests("incident")
    assert all(r.params["sysparm_no_count"] == "false" for r in reqs)
    # 100 (short) + 500 + 500 + 100 rows after the cursor: the last page is within the count
    assert len(reqs) == 4 and result.streams[0].records == 1200
    assert [r.table for r in fake.requests].count("change_request") == 1
    # an instance that sends no X-Total-Count: the empty page ends every scan, nothing is lost
    fake.shape = None
    fake.count_header = False
    fake.tables["incident"][0].update(sys_updated_on="2024-03-10 13:30:00", state="7")
    fake.requests.clear()
    res = sync_servicenow(
        con, settings, cfg, run_started_at=later + timedelta(hours=1), policy=policy
    )
    assert len(fake.table_requests("incident")) == 2 and res.streams[0].records >= 1


def test_a_count_that_is_only_the_page_size_never_cuts_a_scan(con, settings, fake, policy):
    """Only a *short* page covered by the count ends a scan early: a server that reports the
    page's own size as X-Total-Count would otherwise stop every scan after one full page."""
    fake.tables["incident"] = [incident(i, "2024-03-01 10:00:00") for i in range(30)]
    cfg = make_cfg(TABLES)
    sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    for i in range(30, 1130):  # 1100 new incidents in the next window: pages 500, 500, 100
        fake.tables["incident"].append(incident(i, "2024-03-10 12:30:00"))
    fake.count_is_page_size = True
    fake.requests.clear()
    result = sync_servicenow(
        con, settings, cfg, run_started_at=NOW + timedelta(hours=1), policy=policy
    )
    assert result.streams[0].records == 1100
    assert len(fake.table_requests("incident")) == 3  # the short last page ends it


@pytest.mark.parametrize("n", [2600, 2500])
def test_full_scan_counts_its_first_page_and_its_end_only(con, settings, fake, policy, n):
    """An unbounded full-sync scan asks X-Total-Count on its first page (the scan's size) and
    on the pages expected near the end, so the short last page is proven the last without an
    empty page; a full last page still needs the empty one. Pages in between stay uncounted."""
    fake.tables["incident"] = [incident(i, f"2024-03-0{1 + i % 5} 10:00:00") for i in range(n)]
    result = sync_servicenow(
        con, settings, make_cfg(page_size=500), run_started_at=NOW, policy=policy
    )
    reqs = fake.table_requests("incident")
    assert result.streams[0].records == n
    assert len(reqs) == n // 500 + 1  # 2600 → 5 full + the short one; 2500 → 5 full + empty
    counted = [r.params["sysparm_no_count"] == "false" for r in reqs]
    assert counted[0] and counted[-1] and not all(counted)
    assert counted[1:3] == [False, False]  # far from the end: no count(*) per page


def test_full_scan_short_page_is_not_the_end_unless_its_count_says_so(con, settings, fake, policy):
    fake.tables["incident"] = [
        incident(i, f"2024-03-01 10:{i // 60:02d}:{i % 60:02d}") for i in range(1200)
    ]
    calls = {"n": 0}

    def acl(table, rows, req):
        if table == "incident":
            calls["n"] += 1
            return rows[:100] if calls["n"] == 2 else rows  # a counted page cut by ACLs
        return rows

    fake.shape = acl
    result = sync_servicenow(
        con, settings, make_cfg(page_size=500), run_started_at=NOW, policy=policy
    )
    reqs = fake.table_requests("incident")
    assert result.streams[0].records == 1200
    # 500 | 100 of 700 (short, counted: more behind it) | 500 | 100 (short, covered): the end
    assert len(reqs) == 4
    assert reqs[1].params["sysparm_no_count"] == "false"


def test_full_scan_without_a_count_header_ends_on_the_empty_page(con, settings, fake, policy):
    fake.tables["incident"] = [incident(i, "2024-03-01 10:00:00") for i in range(1200)]
    fake.count_header = False
    result = sync_servicenow(
        con, settings, make_cfg(page_size=500), run_started_at=NOW, policy=policy
    )
    reqs = fake.table_requests("incident")
    assert result.streams[0].records == 1200
    assert len(reqs) == 4  # 500, 500, 200 and the empty page
    # no count came back on the first page: the rest are not asked to count either
    assert [r.params["sysparm_no_count"] for r in reqs] == ["false", "true", "true", "true"]


@pytest.mark.parametrize("full", [True, False])
def test_a_short_page_missing_counted_rows_is_never_the_end(con, settings, fake, policy, full):
    """The count proves a short page is the last only when the page holds every row it counted:
    rows missing after the query (ACLs, or a server that only dropped them this time, like the
    sandbox's short-page fault) are asked for again instead of being given up."""
    cfg = make_cfg(page_size=500)
    start = NOW
    if not full:
        fake.tables["incident"] = [incident(0, "2024-03-01 10:00:00")]
        sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
        start = NOW + timedelta(hours=1)
    stamp = "2024-03-10 12:30:{:02d}" if not full else "2024-03-01 10:{:02d}:00"
    fake.tables["incident"] = [incident(i, stamp.format(i % 60)) for i in range(700)]
    calls = {"n": 0}

    def acl(table, rows, req):
        if table == "incident":
            calls["n"] += 1
            return rows[:50] if calls["n"] == 2 else rows  # the last page, cut this time only
        return rows

    fake.shape = acl
    fake.requests.clear()
    result = sync_servicenow(con, settings, cfg, run_started_at=start, policy=policy)
    reqs = fake.table_requests("incident")
    assert result.streams[0].records == 700
    assert len(reqs) == 3  # 500 | 50 of 200 counted | the other 150 (short, all counted)
    assert all(r.params["sysparm_no_count"] == "false" for r in reqs)
