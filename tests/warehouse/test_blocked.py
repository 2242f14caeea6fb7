"""Blocked work and hand-offs (docs/contract.md §6) on hand-written timelines; days from T0, as_of = day 30,
window 90 days (every done item is in it).

Statuses: Open = Backlog/wait, In Progress = Dev/active, Ready for Review = Review/wait,
In Review = Review/active, Done = Done/done. Incident states: New wait, In Progress active,
On Hold wait (state 3), Resolved done.
"""

from __future__ import annotations

import itertools

import duckdb
import pytest
from pytest import approx

from tests.warehouse.wh_timeline import (
    T0,
    add_choices,
    add_issue,
    add_jira_statuses,
    add_record,
    build,
    config,
    day,
    new_warehouse,
    rows,
)

CONFIG = """
stages: [Backlog, Dev, Review, Done]
statuses:
  jira:
    Open: {stage: Backlog, kind: wait}
    In Progress: {stage: Dev, kind: active}
    Ready for Review: {stage: Review, kind: wait}
    In Review: {stage: Review, kind: active}
    Done: {stage: Done, kind: done}
value_streams:
  - name: Payments
    jira: {projects: [P]}
    servicenow: {assignment_groups: [Alpha, Beta]}
"""

_order = itertools.count(10_000)

FLAG_ID = "customfield_10021"
HOLD_REASONS = {"1": "Awaiting Caller", "4": "Awaiting Vendor"}


def issue_id(con: duckdb.DuckDBPyConnection, key: str) -> str:
    return con.execute(
        "select issue_id from raw.jira_issues where issue_key = ?", [key]
    ).fetchone()[0]


def sys_id(con: duckdb.DuckDBPyConnection, number: str) -> str:
    return con.execute(
        "select sys_id from raw.servicenow_records where number = ?", [number]
    ).fetchone()[0]


def flag(con: duckdb.DuckDBPyConnection, key: str, at: float, on: bool) -> None:
    """A Flagged changelog item: toString 'Impediment' when set, empty when cleared."""
    value = "Impediment"
    frm, to = ("", value) if on else (value, "")
    _field_change(con, key, at, "Flagged", FLAG_ID, "", frm, "", to)


def link(con: duckdb.DuckDBPyConnection, key: str, at: float, blocker: str, added: bool) -> None:
    """A Link changelog item naming `key` as the blocked side."""
    text = f"This issue is blocked by {blocker}"
    if added:
        _field_change(con, key, at, "Link", "issuelinks", "", "", blocker, text)
    else:
        _field_change(con, key, at, "Link", "issuelinks", blocker, text, "", "")


def team(con: duckdb.DuckDBPyConnection, key: str, at: float, frm: str, to: str) -> None:
    _field_change(
        con, key, at, "Team", "customfield_10001", frm and f"id-{frm}", frm, to and f"id-{to}", to
    )


def _field_change(
    con, key, at, field, field_id, from_value, from_string, to_value, to_string
) -> None:
    n = next(_order)
    con.execute(
        "insert into raw.jira_field_changes values (?, ?, 0, ?, 'alice', ?, ?, ?, ?, ?, ?, ?)",
        [
            issue_id(con, key),
            f"f{n}",
            day(at),
            field,
            field_id,
            from_value,
            from_string,
            to_value,
            to_string,
            n,
        ],
    )


def audit(
    con: duckdb.DuckDBPyConnection,
    number: str,
    at: float,
    field: str,
    old: str,
    new: str,
    checkpoint: int,
) -> None:
    n = next(_order)
    con.execute(
        "insert into raw.servicenow_field_changes values (?, 'incident', ?, ?, ?, ?, ?, 'bob', ?,"
        " null)",
        [f"fa{n}", sys_id(con, number), field, day(at), old, new, checkpoint],
    )


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = new_warehouse()
    from tests.warehouse.wh_timeline import INCIDENT_CHOICES, JIRA_STATUSES

    add_jira_statuses(con, JIRA_STATUSES)
    add_choices(con, "incident", INCIDENT_CHOICES)
    con.executemany(
        "insert into raw.servicenow_choices values ('incident', 'hold_reason', ?, ?, 0, false, ?)",
        [(v, label, T0) for v, label in HOLD_REASONS.items()],
    )
    con.executemany(
        "insert into raw.servicenow_groups values (?, ?, '{}', ?)",
        [("grp-alpha", "Alpha", T0), ("grp-beta", "Beta", T0)],
    )
    con.execute("insert into raw.jira_fields values (?, 'Flagged', true, '{}', ?)", [FLAG_ID, T0])
    return con


@pytest.fixture(scope="module")
def wh() -> duckdb.DuckDBPyConnection:
    con = _warehouse()
    # P-1: In Progress 2-12, flag set 3 / cleared 4, set 6 / cleared 8.5 (one active interval)
    add_issue(con, "P-1", 0, [(2, "1", "3"), (12, "3", "10")])
    flag(con, "P-1", 3, True)
    flag(con, "P-1", 4, False)
    flag(con, "P-1", 6, True)
    flag(con, "P-1", 8.5, False)
    # P-2: In Progress 1-5, Ready for Review 5-7, In Review 7-10, Done 10; flagged 4-8
    add_issue(con, "P-2", 0, [(1, "1", "3"), (5, "3", "5"), (7, "5", "6"), (10, "6", "10")])
    flag(con, "P-2", 4, True)
    flag(con, "P-2", 8, False)
    # P-3 blocked by P-4 from 2, link removed 5; P-4 done at 8 (after the removal)
    add_issue(con, "P-3", 0, [(1, "1", "3"), (10, "3", "10")])
    add_issue(con, "P-4", 0, [(1, "1", "3"), (8, "3", "10")])
    link(con, "P-3", 2, "P-4", True)
    link(con, "P-3", 5, "P-4", False)
    # P-5 blocked by P-6 from 3, link removed 11; P-6 done at 7 (before the removal)
    add_issue(con, "P-5", 0, [(1, "1", "3"), (12, "3", "10")])
    add_issue(con, "P-6", 0, [(2, "1", "3"), (7, "3", "10")])
    link(con, "P-5", 3, "P-6", True)
    link(con, "P-5", 11, "P-6", False)
    # P-7 open, In Progress since 1, blocked by EXT-9 (outside the warehouse) from 2, never removed
    add_issue(con, "P-7", 0, [(1, "1", "3")])
    link(con, "P-7", 2, "EXT-9", True)
    # P-8 linked at 9 to P-4, which is already done (since 8): blocks nothing
    add_issue(con, "P-8", 0, [(1, "1", "3"), (14, "3", "10")])
    link(con, "P-8", 9, "P-4", True)
    # P-9: In Progress 1-11; flagged 2-6 and blocked by EXT-1 4-9: overlap 4-6
    add_issue(con, "P-9", 0, [(1, "1", "3"), (11, "3", "10")])
    flag(con, "P-9", 2, True)
    flag(con, "P-9", 6, False)
    link(con, "P-9", 4, "EXT-1", True)
    link(con, "P-9", 9, "EXT-1", False)
    # P-10: no blocked stretch at all (metrics unchanged): In Progress 1-5, Done 5
    add_issue(con, "P-10", 0, [(1, "1", "3"), (5, "3", "10")])

    # INC1: Alpha (insert row) -> Beta at 2 -> Alpha at 5; In Progress 1, Resolved 8
    add_record(con, "INC1", 0, [(1, "1", "2"), (8, "2", "6")], group="Alpha")
    audit(con, "INC1", 0, "assignment_group", "", "grp-alpha", 0)
    audit(con, "INC1", 2, "assignment_group", "grp-alpha", "grp-beta", 2)
    audit(con, "INC1", 5, "assignment_group", "grp-beta", "grp-alpha", 3)
    # INC2: Alpha all along (no audit rows: the current value), resolved at 4
    add_record(con, "INC2", 0, [(1, "1", "2"), (4, "2", "6")], group="Alpha")
    # INC3: In Progress 1-2, On Hold 2-6 (Awaiting Caller 2-4, Awaiting Vendor 4-6),
    # In Progress 6-9, Resolved 9. Insert row for hold_reason ('' at creation).
    add_record(
        con, "INC3", 0, [(1, "1", "2"), (2, "2", "3"), (6, "3", "2"), (9, "2", "6")], group="Beta"
    )
    audit(con, "INC3", 0, "hold_reason", "", "", 0)
    audit(con, "INC3", 2, "hold_reason", "", "1", 3)
    audit(con, "INC3", 4, "hold_reason", "1", "4", 4)
    audit(con, "INC3", 6, "hold_reason", "4", "", 5)
    con.execute(
        "update raw.servicenow_records set assignment_group_id = 'grp-' || "
        "lower(assignment_group_name)"
    )
    build(con, config(CONFIG), 30)
    return con


def stretches(con: duckdb.DuckDBPyConnection, item: str) -> list[tuple]:
    return [
        (
            r["seq"],
            r["reason"],
            r["source_detail"],
            None if r["started_at"] is None else (r["started_at"] - T0).total_seconds() / 86400,
            None if r["ended_at"] is None else (r["ended_at"] - T0).total_seconds() / 86400,
            r["duration_days"],
        )
        for r in rows(con, "from core.blocked_intervals where item_id = ? order by seq", [item])
    ]


def flow(con: duckdb.DuckDBPyConnection, item: str) -> dict:
    return rows(con, "from metrics.item_flow where item_id = ?", [item])[0]


def test_flag_set_and_cleared_twice_inside_one_active_interval(wh) -> None:
    # stretches 3-4 (1 day) and 6-8.5 (2.5 days), both inside In Progress 2-12
    assert stretches(wh, "jira:P-1") == [
        (1, "flagged", "", 3.0, 4.0, 1.0),
        (2, "flagged", "", 6.0, 8.5, 2.5),
    ]
    f = flow(wh, "jira:P-1")
    # blocked 1 + 2.5 = 3.5, all active; lead 12, process 10: net (10 - 3.5) / 12
    assert (f["blocked_time_days"], f["blocked_active_days"]) == (3.5, 3.5)
    assert f["flow_efficiency"] == approx(10 / 12)
    assert f["flow_efficiency_net"] == approx(6.5 / 12)


def test_flag_spanning_a_status_change(wh) -> None:
    assert stretches(wh, "jira:P-2") == [(1, "flagged", "", 4.0, 8.0, 4.0)]
    f = flow(wh, "jira:P-2")
    # 4-5 in In Progress (1) + 5-7 Ready for Review (wait, 2) + 7-8 In Review (1): active 2
    # process 4 (1-5) + 3 (7-10) = 7, lead 10: net (7 - 2) / 10 = 0.5
    assert (f["blocked_time_days"], f["blocked_active_days"]) == (4.0, 2.0)
    assert f["flow_efficiency_net"] == approx(0.5)


def test_link_removed_before_the_blocker_is_done(wh) -> None:
    # added 2, removed 5, P-4 done 8: the removal ends it -> 3 days
    assert stretches(wh, "jira:P-3") == [(1, "blocked_by", "P-4", 2.0, 5.0, 3.0)]
    assert flow(wh, "jira:P-3")["blocked_active_days"] == 3.0


def test_blocker_done_before_the_link_is_removed(wh) -> None:
    # added 3, P-6 done 7, removed 11: the blocker's done ends it -> 4 days
    assert stretches(wh, "jira:P-5") == [(1, "blocked_by", "P-6", 3.0, 7.0, 4.0)]


def test_blocker_outside_the_warehouse_runs_on_and_done_blocker_blocks_nothing(wh) -> None:
    # EXT-9 is not synced: only a removal could end it; open at as_of 30 -> 30 - 2 = 28
    assert stretches(wh, "jira:P-7") == [(1, "blocked_by", "EXT-9", 2.0, None, 28.0)]
    f = flow(wh, "jira:P-7")
    assert (f["blocked_time_days"], f["blocked_active_days"]) == (28.0, 28.0)
    # P-4 was done at 8, linked at 9: a zero-length stretch, no blocked time
    assert stretches(wh, "jira:P-8") == [(1, "blocked_by", "P-4", 9.0, 9.0, 0.0)]
    assert flow(wh, "jira:P-8")["blocked_time_days"] == 0.0


def test_overlapping_flag_and_link_count_once_in_the_union(wh) -> None:
    assert stretches(wh, "jira:P-9") == [
        (1, "flagged", "", 2.0, 6.0, 4.0),
        (2, "blocked_by", "EXT-1", 4.0, 9.0, 5.0),
    ]
    f = flow(wh, "jira:P-9")
    # union 2-9 = 7 (not 4 + 5 = 9); all inside In Progress 1-11. lead 11, process 10
    assert (f["blocked_time_days"], f["blocked_active_days"]) == (7.0, 7.0)
    assert f["flow_efficiency_net"] == approx(3 / 11)


def test_item_without_blocked_stretches_keeps_its_metrics(wh) -> None:
    f = flow(wh, "jira:P-10")
    assert stretches(wh, "jira:P-10") == []
    # lead 5, process 4: both efficiencies 0.8
    assert (f["blocked_time_days"], f["blocked_active_days"]) == (0.0, 0.0)
    assert f["flow_efficiency"] == f["flow_efficiency_net"] == approx(4 / 5)


def test_on_hold_with_two_reasons_in_a_row(wh) -> None:
    assert stretches(wh, "servicenow:INC3") == [
        (1, "on_hold", "Awaiting Caller", 2.0, 4.0, 2.0),
        (2, "on_hold", "Awaiting Vendor", 4.0, 6.0, 2.0),
    ]
    f = flow(wh, "servicenow:INC3")
    # on hold is a wait state: 4 blocked days, none active; lead 9, process 1 + 3 = 4
    assert (f["blocked_time_days"], f["blocked_active_days"]) == (4.0, 0.0)
    assert f["flow_efficiency_net"] == f["flow_efficiency"] == approx(4 / 9)


def test_blocked_work(wh) -> None:
    got = {(r["value_stream"], r["reason"]): r for r in rows(wh, "from metrics.blocked_work")}
    # flagged: P-1 3.5, P-2 4, P-9 4 -> 3 items, 11.5; p85 of [3.5, 4, 4] = 4
    fl = got[("Payments", "flagged")]
    assert (fl["items"], fl["total_blocked_days"], fl["p85_blocked_days"]) == (3, 11.5, 4.0)
    assert fl["mean_blocked_days"] == approx(11.5 / 3)
    # blocked_by (done items only; P-7 is open, P-8 zero): P-3 3, P-5 4, P-9 5 -> 12
    bb = got[("Payments", "blocked_by")]
    assert (bb["items"], bb["total_blocked_days"]) == (3, 12.0)
    # lead of the Payments window items: P-1 12, P-2 10, P-3 10, P-4 8, P-5 12, P-6 7, P-8 14,
    # P-9 11, P-10 5, INC1 8, INC2 4, INC3 9 = 110
    assert bb["share_of_lead_time"] == approx(12 / 110)
    oh = got[("all", "on_hold")]
    assert (oh["items"], oh["total_blocked_days"], oh["share_of_lead_time"]) == (
        1,
        4.0,
        approx(4 / 110),
    )


def test_assignments_reassigned_a_b_a(wh) -> None:
    got = [
        (
            r["seq"],
            r["owner"],
            (r["started_at"] - T0).days,
            r["ended_at"] and (r["ended_at"] - T0).days,
            r["duration_days"],
        )
        for r in rows(wh, "from core.assignments where item_id = 'servicenow:INC1' order by seq")
    ]
    # the insert row gives Alpha at creation; changes at 2 and 5; open to as_of 30
    assert got == [(1, "Alpha", 0, 2, 2.0), (2, "Beta", 2, 5, 3.0), (3, "Alpha", 5, None, 25.0)]
    # no audit rows: the current group, one open stretch
    assert [
        (r["owner"], r["ended_at"])
        for r in rows(wh, "from core.assignments where item_id = 'servicenow:INC2'")
    ] == [("Alpha", None)]
    # no JIRA owner field configured: no JIRA rows
    assert rows(wh, "from core.assignments where item_id like 'jira:%'") == []


def test_handoffs(wh) -> None:
    got = {r["owner"]: r for r in rows(wh, "from metrics.handoffs where value_stream = 'Payments'")}
    # INC1 (done 8): Alpha 0-2 + 5-8 = 5, Beta 2-5 = 3; INC2 (done 4): Alpha 4; INC3 (done 9):
    # Beta 9. Reassignments: INC1 Alpha->Beta (into Beta), Beta->Alpha (into Alpha, a loop)
    alpha, beta, stream = got["Alpha"], got["Beta"], got[None]
    assert (
        alpha["items"],
        alpha["total_days"],
        alpha["mean_days"],
        alpha["handoffs_in"],
        alpha["loops"],
    ) == (2, 9.0, 4.5, 1, 1)
    assert (
        beta["items"],
        beta["total_days"],
        beta["mean_days"],
        beta["handoffs_in"],
        beta["loops"],
    ) == (2, 12.0, 6.0, 1, 0)
    # 3 owned items, 2 reassignments: 2/3 per item; INC2 and INC3 never reassigned: 2/3
    assert stream["items"] == 3
    assert stream["reassignments_per_item"] == approx(2 / 3)
    assert stream["first_owner_resolution_rate"] == approx(2 / 3)


def test_jira_owner_field_and_checks() -> None:
    con = _warehouse()
    add_issue(con, "P-1", 0, [(1, "1", "3"), (10, "3", "10")])
    team(con, "P-1", 3, "Red", "Blue")
    team(con, "P-1", 6, "Blue", "")
    add_issue(con, "P-2", 0, [(1, "1", "3"), (4, "3", "10")])
    con.execute(
        "update raw.jira_issues set payload = ? where issue_key = 'P-2'",
        ['{"fields": {"customfield_10001": {"id": "id-Green", "name": "Green"}}}'],
    )
    con.execute(
        "insert into raw.jira_fields values ('customfield_10001', 'Team', true, '{}', ?)", [T0]
    )
    build(con, config(CONFIG + "handoffs: {jira_field: team}\n"), 30)
    got = [
        (r["item_id"], r["owner"], (r["started_at"] - T0).days)
        for r in rows(con, "from core.assignments order by item_id, seq")
    ]
    # P-1: the oldest change's old value (Red) from creation, Blue at 3, empty (NULL) at 6;
    # P-2: no change: its current value from the issue payload
    assert got == [
        ("jira:P-1", "Red", 0),
        ("jira:P-1", "Blue", 3),
        ("jira:P-1", None, 6),
        ("jira:P-2", "Green", 0),
    ]
    h = {r["owner"]: r for r in rows(con, "from metrics.handoffs where value_stream = 'all'")}
    # P-1 done 10: Red 3, Blue 3 (3-6), NULL 6-10 not counted; one reassignment Red -> Blue
    assert (h["Red"]["total_days"], h["Blue"]["total_days"], h["Blue"]["handoffs_in"]) == (
        3.0,
        3.0,
        1,
    )
    assert h[None]["first_owner_resolution_rate"] == approx(1 / 2)


def test_checks_pass_on_the_timelines_and_catch_a_bad_stretch(wh) -> None:
    from warehouse.build import check_sql

    assert rows(wh, check_sql("blocked_within_life")) == []
    assert rows(wh, check_sql("assignments_tile")) == []
    con = _warehouse()
    add_issue(con, "P-1", 5, [(6, "1", "3")])
    add_record(con, "INC1", 0, [], group="Alpha")
    build(con, config(CONFIG), 30)
    # a stretch before created_at (5) and an owner stretch leaving a gap (2-3)
    con.execute(
        "insert into core.blocked_intervals values ('jira:P-1', 1, 'flagged', '', ?, ?, 1)",
        [day(4), day(5)],
    )
    con.execute(
        "update core.assignments set ended_at = ? where item_id = 'servicenow:INC1'", [day(2)]
    )
    con.execute(
        "insert into core.assignments values ('servicenow:INC1', 2, 'Beta', ?, null, 27)", [day(3)]
    )
    assert [r["problem"] for r in rows(con, check_sql("blocked_within_life"))] == [
        "starts before created_at"
    ]
    assert [r["problem"] for r in rows(con, check_sql("assignments_tile"))] == ["gap or overlap"]


def test_blocked_stages(wh) -> None:
    got = {
        r["stage"]: r for r in rows(wh, "from metrics.blocked_stages where value_stream = 'all'")
    }
    # 12 window items (P-7 is open). Blocked union per stage before done_at:
    # Dev: P-1 3.5 + P-2 1 (4-5) + P-3 3 + P-5 4 + P-9 7 + INC3 4 (On Hold is in Dev) = 22.5,
    #      active: all but INC3's hold = 18.5; Review: P-2 5-8 = 3 (7-8 In Review active = 1)
    dev, review, backlog = got["Dev"], got["Review"], got["Backlog"]
    assert (dev["items_blocked"], dev["blocked_time_days"], dev["blocked_active_days"]) == (
        6,
        approx(22.5 / 12),
        approx(18.5 / 12),
    )
    assert (
        review["items_blocked"],
        review["blocked_time_days"],
        review["blocked_active_days"],
    ) == (1, approx(3 / 12), approx(1 / 12))
    assert (backlog["items_blocked"], backlog["blocked_time_days"]) == (0, 0.0)
    assert "Done" not in got  # the final stage is not a block of the map


def test_handoff_loops_name_the_ping_pong(wh) -> None:
    got = [
        (r["value_stream"], r["owner"], r["via_owner"], r["loops"], r["items"])
        for r in rows(wh, "from metrics.handoff_loops order by value_stream")
    ]
    # INC1: Alpha -> Beta -> Alpha
    assert got == [("Payments", "Alpha", "Beta", 1, 1), ("all", "Alpha", "Beta", 1, 1)]


def test_report_shows_blocked_time_in_the_map_and_the_two_sections(wh) -> None:
    from reports.report import render_report
    from reports.report_blocked import load_blocked, net_efficiency

    page = render_report(wh)
    assert "Blocked by reason" in page and "Hand-offs by group" in page
    assert "Alpha → Beta → Alpha: once, 1 item</li>" in page  # the loop, named
    assert 'class="blocked-share"' in page  # the marked share inside each block
    # Dev block of 'all': blocked 22.5 / 12 = 1.875 -> "1.9 d" on the Blocked line
    assert "<title>blocked 1.9 d of" in page
    data = load_blocked(wh, "all", (day(-60), day(30)))
    # window items: lead 110 (see test_blocked_work), process: P-1 10, P-2 7, P-3 9, P-4 7,
    # P-5 11, P-6 5, P-8 13, P-9 10, P-10 4, INC1 7, INC2 3, INC3 4 = 90; blocked in active
    # time: P-1 3.5 + P-2 2 + P-3 3 + P-5 4 + P-9 7 = 19.5 -> (90 - 19.5) / 110
    assert data.totals["process"] == approx(90.0)
    assert net_efficiency(data) == approx(70.5 / 110)


def test_report_without_spec6_tables_has_no_blocked_section() -> None:
    from reports.report import render_report

    con = duckdb.connect(":memory:")
    con.execute(
        "create schema metrics; create table metrics.value_stream_summary"
        " (value_stream varchar, items_done bigint, throughput_per_week double)"
    )
    con.execute("insert into metrics.value_stream_summary values ('all', 0, 0)")
    page = render_report(con)
    assert "Blocked by reason" not in page and "blocked-share" not in page


def test_past_as_of_takes_the_first_value_from_the_whole_history() -> None:
    """docs/contract.md §4: a past as_of reproduces the numbers as they stood. The value an item
    starts with is read from its whole history (the oldest change's old value), even when that
    change comes after as_of; the current value is what it holds *now*, not at a past as_of."""
    con = _warehouse()
    # P-1: created 0, In Progress at 1, Team Red -> Blue at 6 (now Blue), flagged since
    # creation and cleared at 6 (no entry sets it: the first entry's fromString says it was)
    add_issue(con, "P-1", 0, [(1, "1", "3")])
    team(con, "P-1", 6, "Red", "Blue")
    flag(con, "P-1", 6, False)
    con.execute(
        "update raw.jira_issues set payload = ? where issue_key = 'P-1'",
        ['{"fields": {"customfield_10001": {"id": "id-Blue", "name": "Blue"}}}'],
    )
    con.execute(
        "insert into raw.jira_fields values ('customfield_10001', 'Team', true, '{}', ?)", [T0]
    )
    # INC1: created 0 with Alpha (no insert row: the instance does not audit inserts), Alpha
    # -> Beta at 6 (now Beta); On Hold from 1 with reason 1 (Awaiting Caller), 1 -> 4 (Awaiting
    # Vendor) at 6 (now 4)
    add_record(con, "INC1", 0, [(1, "1", "3")], group="Beta")
    con.execute(
        "update raw.servicenow_records set assignment_group_id = 'grp-beta',"
        " payload = '{\"hold_reason\": \"4\"}' where number = 'INC1'"
    )
    audit(con, "INC1", 6, "assignment_group", "grp-alpha", "grp-beta", 3)
    audit(con, "INC1", 6, "hold_reason", "1", "4", 3)
    build(con, config(CONFIG + "handoffs: {jira_field: Team}\n"), 4)
    owners = [
        (r["item_id"], r["owner"], (r["started_at"] - T0).days, r["ended_at"], r["duration_days"])
        for r in rows(con, "from core.assignments order by item_id, seq")
    ]
    # as of day 4 each item is still with its first owner: one open stretch 0-4 = 4 days
    assert owners == [("jira:P-1", "Red", 0, None, 4.0), ("servicenow:INC1", "Alpha", 0, None, 4.0)]
    # P-1 flagged from creation, still at 4: 4 days; INC1 on hold 1-4 for Awaiting Caller: 3 days
    assert stretches(con, "jira:P-1") == [(1, "flagged", "", 0.0, None, 4.0)]
    assert stretches(con, "servicenow:INC1") == [(1, "on_hold", "Awaiting Caller", 1.0, None, 3.0)]


def test_a_change_at_done_at_is_not_a_handoff() -> None:
    """docs/contract.md §6 counts "only time and changes before each item's done_at": a group
    change written in the same update as the resolution (a closure group, a routing rule) is not
    a reassignment, and its owner did no work on the item."""
    con = _warehouse()
    # INC1: Alpha from creation (insert row), In Progress 1, Resolved at 4; the same update
    # (same instant 4) moves it Alpha -> Beta
    add_record(con, "INC1", 0, [(1, "1", "2"), (4, "2", "6")], group="Beta")
    con.execute("update raw.servicenow_records set assignment_group_id = 'grp-beta'")
    audit(con, "INC1", 0, "assignment_group", "", "grp-alpha", 0)
    audit(con, "INC1", 4, "assignment_group", "grp-alpha", "grp-beta", 3)
    build(con, config(CONFIG), 30)
    got = {r["owner"]: r for r in rows(con, "from metrics.handoffs where value_stream = 'all'")}
    # Alpha 0-4 = 4 days, one item, nothing handed to it; Beta has no time before done_at: no row
    assert set(got) == {"Alpha", None}
    assert (got["Alpha"]["items"], got["Alpha"]["total_days"], got["Alpha"]["handoffs_in"]) == (
        1,
        4.0,
        0,
    )
    # one owned item, no reassignment before done_at: 0 per item, resolved by its first owner
    assert (
        got[None]["items"],
        got[None]["reassignments_per_item"],
        got[None]["first_owner_resolution_rate"],
    ) == (1, 0.0, 1.0)


def test_owner_changes_stamped_before_created_at_keep_their_time_order() -> None:
    """docs/contract.md §4: a change stamped before created_at counts at created_at, and changes
    are ordered by time, ties by source order (as core.transitions does). Two owner changes both
    stamped before created_at keep the order of their stamps, not the order the source listed
    them in."""
    con = _warehouse()
    # P-1 created at day 5; JIRA lists the day-3 entry (Blue -> Green) before the day-2 entry
    # (Red -> Blue). In time order: Red from 5, Blue at 5 (zero-length), Green at 5, open to 30
    add_issue(con, "P-1", 5, [(6, "1", "3")])
    team(con, "P-1", 3, "Blue", "Green")
    team(con, "P-1", 2, "Red", "Blue")
    con.execute(
        "insert into raw.jira_fields values ('customfield_10001', 'Team', true, '{}', ?)", [T0]
    )
    # INC1 opened at 5 (no insert row); audit rows stamped 3 (beta -> alpha, checkpoint 1) and
    # 2 (alpha -> beta, checkpoint 2): in time order Alpha from 5, Beta at 5, Alpha at 5
    add_record(con, "INC1", 5, [(6, "1", "2")], group="Alpha")
    con.execute("update raw.servicenow_records set assignment_group_id = 'grp-alpha'")
    audit(con, "INC1", 3, "assignment_group", "grp-beta", "grp-alpha", 1)
    audit(con, "INC1", 2, "assignment_group", "grp-alpha", "grp-beta", 2)
    build(con, config(CONFIG + "handoffs: {jira_field: Team}\n"), 30)
    got = [
        (r["item_id"], r["seq"], r["owner"], (r["started_at"] - T0).days, r["duration_days"])
        for r in rows(con, "from core.assignments order by item_id, seq")
    ]
    assert got == [
        ("jira:P-1", 1, "Red", 5, 0.0),
        ("jira:P-1", 2, "Blue", 5, 0.0),
        ("jira:P-1", 3, "Green", 5, 25.0),  # 30 - 5
        ("servicenow:INC1", 1, "Alpha", 5, 0.0),
        ("servicenow:INC1", 2, "Beta", 5, 0.0),
        ("servicenow:INC1", 3, "Alpha", 5, 25.0),
    ]


def test_audit_rows_without_checkpoint_or_sys_created_on_are_still_changes() -> None:
    """An audit row from empty is the insert only when it was written at creation; with no
    record_checkpoint (or a record without sys_created_on) the comparison is unknown, and an
    unknown must not make the row vanish: it is a change."""
    con = _warehouse()
    # INC1 opened 0: Alpha (insert row at 0), unassigned at 2, Beta at 3 (from empty), no
    # checkpoints. Stretches: Alpha 0-2 (2 days), NULL 2-3 (1 day), Beta 3-30 (27 days)
    add_record(con, "INC1", 0, [(1, "1", "2")], group="Beta")
    audit(con, "INC1", 0, "assignment_group", "", "grp-alpha", None)
    audit(con, "INC1", 2, "assignment_group", "grp-alpha", "", None)
    audit(con, "INC1", 3, "assignment_group", "", "grp-beta", None)
    # INC2 opened 0 without sys_created_on: Alpha (insert row, checkpoint 0), unassigned at 2,
    # Beta at 3 (from empty, checkpoint 3): the same stretches
    add_record(con, "INC2", 0, [(1, "1", "2")], group="Beta")
    con.execute("update raw.servicenow_records set created_at = null where number = 'INC2'")
    audit(con, "INC2", 0, "assignment_group", "", "grp-alpha", 0)
    audit(con, "INC2", 2, "assignment_group", "grp-alpha", "", 2)
    audit(con, "INC2", 3, "assignment_group", "", "grp-beta", 3)
    con.execute("update raw.servicenow_records set assignment_group_id = 'grp-beta'")
    build(con, config(CONFIG), 30)
    for item in ("servicenow:INC1", "servicenow:INC2"):
        got = [
            (r["owner"], (r["started_at"] - T0).days, r["duration_days"])
            for r in rows(con, "from core.assignments where item_id = ? order by seq", [item])
        ]
        assert got == [("Alpha", 0, 2.0), (None, 2, 1.0), ("Beta", 3, 27.0)], item


def test_a_blocker_deleted_at_the_source_is_outside_the_warehouse() -> None:
    """A deleted item is left out of everything (docs/contract.md §4) and a full re-sync never
    sees it: as a blocker it is "outside the warehouse", so the link ends only by its removal,
    whatever the stale history of the deleted blocker says."""
    con = _warehouse()
    # P-1 blocked by P-2 from 2, link removed at 6; P-2 (deleted at the source) was done at 1:
    # were it live, the link would block nothing (zero-length); deleted, it runs 2-6 = 4 days
    add_issue(con, "P-1", 0, [(1, "1", "3"), (10, "3", "10")])
    add_issue(con, "P-2", 0, [(1, "1", "10")], is_deleted=True)
    link(con, "P-1", 2, "P-2", True)
    link(con, "P-1", 6, "P-2", False)
    build(con, config(CONFIG), 30)
    assert stretches(con, "jira:P-1") == [(1, "blocked_by", "P-2", 2.0, 6.0, 4.0)]
