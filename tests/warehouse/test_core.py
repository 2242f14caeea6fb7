"""core tables on the hand-written organisation (see conftest.py for the timeline)."""

from __future__ import annotations

import duckdb
import pytest

from tests.warehouse.wh_org import CONFIG, load_organisation
from tests.warehouse.wh_timeline import build, config, day, new_warehouse, one, rows
from warehouse.build import CHECKS, run_check


def item(con: duckdb.DuckDBPyConnection, item_id: str) -> dict:
    return one(con, "select * from core.work_items where item_id = ?", [item_id])


def timeline(con: duckdb.DuckDBPyConnection, item_id: str) -> list[tuple]:
    return [
        (r["status"], r["kind"], r["duration_days"])
        for r in rows(
            con, "select * from core.status_intervals where item_id = ? order by seq", [item_id]
        )
    ]


def test_item_ids_and_presence(org: duckdb.DuckDBPyConnection) -> None:
    ids = [r["item_id"] for r in rows(org, "select item_id from core.work_items order by 1")]
    # all 11 raw records exist by day 20 (WEB-3 created day 10, PAY-4 day 15)
    assert ids == sorted(
        [
            "jira:PAY-1",
            "jira:PAY-2",
            "jira:PAY-3",
            "jira:PAY-4",
            "jira:PAY-5",
            "jira:WEB-1",
            "jira:WEB-2",
            "jira:WEB-3",
            "servicenow:INC1",
            "servicenow:INC2",
        ]
    )


def test_forward_only_item(org: duckdb.DuckDBPyConnection) -> None:
    a = item(org, "jira:PAY-1")
    assert (a["status"], a["stage"], a["status_kind"]) == ("Done", "Done", "done")
    assert a["started_at"] == day(2) and a["done_at"] == day(10)
    assert a["value_stream"] == "Payments"  # rule names 'pay' in lower case: case-insensitive
    assert a["flow_type"] == "feature" and a["reopen_count"] == 0
    # Open 0-2, In Progress 2-5, Blocked 5-6, In Progress 6-8, In Review 8-10, Done 10-20
    assert timeline(org, "jira:PAY-1") == [
        ("Open", "wait", 2.0),
        ("In Progress", "active", 3.0),
        ("Blocked", "wait", 1.0),
        ("In Progress", "active", 2.0),
        ("In Review", "active", 2.0),
        ("Done", "done", 10.0),
    ]
    dirs = [
        r["direction"]
        for r in rows(
            org, "select direction from core.transitions where item_id = 'jira:PAY-1' order by seq"
        )
    ]
    assert dirs == ["forward", "lateral", "lateral", "forward", "forward"]


def test_backward_move_and_reopen(org: duckdb.DuckDBPyConnection) -> None:
    b = item(org, "jira:PAY-2")
    # done_at is the last entry into done (12), not the first (9)
    assert b["done_at"] == day(12) and b["reopen_count"] == 1 and b["flow_type"] == "defect"
    dirs = [
        r["direction"]
        for r in rows(
            org, "select direction from core.transitions where item_id = 'jira:PAY-2' order by seq"
        )
    ]
    assert dirs == ["forward", "forward", "backward", "forward", "forward", "backward", "forward"]


def test_dropped_never_started_and_no_transition_items(org: duckdb.DuckDBPyConnection) -> None:
    c = item(org, "jira:PAY-3")
    assert (c["status_kind"], c["done_at"], c["started_at"]) == ("dropped", None, day(4))
    d = item(org, "jira:PAY-4")
    assert (d["status"], d["status_kind"], d["started_at"], d["done_at"]) == (
        "Open",
        "wait",
        None,
        None,
    )
    assert timeline(org, "jira:PAY-4") == [("Open", "wait", 5.0)]  # 15 -> as_of 20


def test_servicenow_resolved_then_closed_keeps_done_at(org: duckdb.DuckDBPyConnection) -> None:
    h = item(org, "servicenow:INC1")
    assert (h["status"], h["done_at"], h["started_at"]) == ("Closed", day(8), day(3))
    assert (h["value_stream"], h["flow_type"], h["team"]) == (
        "Payments",
        "incident",
        "Payments Ops",
    )
    # labels from sys_choice; New 2-3, In Progress 3-4, On Hold 4-6, In Progress 6-8,
    # Resolved 8-13, Closed 13-20
    assert timeline(org, "servicenow:INC1") == [
        ("New", "wait", 1.0),
        ("In Progress", "active", 1.0),
        ("On Hold", "wait", 2.0),
        ("In Progress", "active", 2.0),
        ("Resolved", "done", 5.0),
        ("Closed", "done", 7.0),
    ]
    assert item(org, "servicenow:INC2")["value_stream"] == "unassigned"


def test_clock_skew_and_renamed_status(org: duckdb.DuckDBPyConnection) -> None:
    f = item(org, "jira:WEB-2")
    # the change stamped day 5 counts at created_at (6): a zero-length Open interval
    assert f["started_at"] == day(6) and f["done_at"] == day(9) and f["flow_type"] == "debt"
    assert timeline(org, "jira:WEB-2") == [
        ("Open", "wait", 0.0),
        ("In Progress", "active", 3.0),
        ("Done", "done", 11.0),
    ]
    t = one(org, "select * from core.transitions where item_id = 'jira:WEB-2' and seq = 1")
    # recorded as "Doing", shown under the status id's current name
    assert (t["at"], t["to_status"]) == (day(6), "In Progress")


def test_as_of_hides_later_transitions(org: duckdb.DuckDBPyConnection) -> None:
    g = item(org, "jira:WEB-3")
    # raw says In Progress (changed day 25) but at day 20 it was still Open
    assert (g["status"], g["status_kind"], g["started_at"]) == ("Open", "wait", None)
    assert timeline(org, "jira:WEB-3") == [("Open", "wait", 10.0)]


def test_past_as_of_reproduces_the_state_then() -> None:
    con = new_warehouse()
    load_organisation(con)
    build(con, config(CONFIG), 9)
    ids = {r["item_id"] for r in rows(con, "select item_id from core.work_items")}
    assert "jira:WEB-3" not in ids and "jira:PAY-4" not in ids  # created 10 and 15
    a = item(con, "jira:PAY-1")
    assert (a["status"], a["done_at"]) == ("In Review", None)  # done on day 10
    b = item(con, "jira:PAY-2")
    assert (b["done_at"], b["reopen_count"]) == (day(9), 0)  # reopen (11) not yet happened
    assert timeline(con, "jira:PAY-1")[-1] == ("In Review", "active", 1.0)  # 8 -> as_of 9


def test_deleted_items_stay_flagged(org: duckdb.DuckDBPyConnection) -> None:
    assert item(org, "jira:PAY-5")["is_deleted"] is True


def test_unmapped_statuses(org: duckdb.DuckDBPyConnection) -> None:
    got = {
        (r["scope"], r["status"]): (r["kind"], r["stage"], r["items"])
        for r in rows(org, "select * from core.unmapped_statuses")
    }
    assert got == {
        ("jira", "QA Hold"): ("wait", "Dev", 1),  # WEB-1
        ("incident", "New"): ("wait", "Backlog", 2),  # INC1, INC2
        ("incident", "In Progress"): ("active", "Dev", 1),  # INC1
        ("incident", "On Hold"): ("wait", "Dev", 1),  # INC1
        ("incident", "Resolved"): ("done", "Done", 2),  # INC1, INC2
        ("incident", "Closed"): ("done", "Done", 1),  # INC1
        ("incident", "Canceled"): ("dropped", "Done", 0),  # only in sys_choice
    }


@pytest.mark.parametrize("name", CHECKS)
def test_checks_pass(org: duckdb.DuckDBPyConnection, name: str) -> None:
    assert run_check(org, name) == []
