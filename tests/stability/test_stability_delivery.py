"""core.item_links, metrics.stability and metrics.delivery on one hand-written timeline.

Weeks start Monday; day 0 = Monday 2024-01-01 (wh_timeline.T0). as_of = day 20 (Sunday of the
third week), window_days 30, so every change below is in the window. Periods:
week 0 = days [0, 7), week 1 = [7, 14), week 2 = [14, 21).

JIRA (project PAY, all Payments):
  PAY-1  created 0, In Progress 0.5, Done 1
  PAY-2  created 0, In Progress 1,   Done 4        (done after its change CHG1, day 2)
  PAY-3  created 1, In Progress 2,   Done 3
  PAY-4  created 2, In Progress 3,   Done 8
  PAY-5  created 3, open; parent PAY-1
  PAY-6  created 3, Won't Do at 5; named by CHG5 (dropped: never in the window)
ServiceNow (group Payments Ops):
  CHG1 done 2   correlation_id "PAY-1 PAY-2"           -> implements PAY-1, PAY-2
  CHG2 done 5   correlation_id "PAY-3", text "Deploy PAY-3"  -> one link, via correlation_id
  CHG3 done 9   correlation_id "WEB-77" (no WEB issue in the warehouse: outside),
                text "Release pay-4 and OPS-9" -> implements PAY-4 (OPS-9: no OPS project, text
                only, not a reference)
  CHG4 done 12  text "Hotfix PAY-12"   -> PAY-12 is no issue: outside; never PAY-1
  CHG5 done 16  correlation_id "PAY-4, PAY-6"  -> PAY-4 again (later: not its first change),
                PAY-6 (dropped)
  CHG6 opened 15, cancelled 17 (dropped: not done)
  INC1 opened 3, restored 4    caused_by CHG1 ({link, value} form)
  INC7 opened 1, restored 5
  INC2 opened 10, restored 13  caused_by CHG2 (a change done the week before)
  INC6 opened 11, open         caused_by a change that is not in the warehouse (outside)
  INC4 opened 15, restored 15.5, problem PRB1
  INC5 opened 16, open, problem PRB1
  INC3 opened 22 (after as_of) caused_by CHG5: CHG5 is not failed as of day 20
  PRB1 opened 14, New
"""

from __future__ import annotations

import pytest

from tests.stability.links_timeline import add_all_choices, add_snow, done_change
from tests.warehouse.wh_timeline import (
    JIRA_STATUSES,
    add_issue,
    add_jira_statuses,
    build,
    config,
    day,
    new_warehouse,
    one,
    rows,
)

CFG = """
window_days: 30
period: week
value_streams:
  - name: Payments
    jira: {projects: [PAY]}
    servicenow: {assignment_groups: [Payments Ops]}
"""


def _restored(number: str, opened: float, restored: float, **kw) -> dict:
    return {
        "table": "incident",
        "number": number,
        "opened": opened,
        "changes": [(opened, "1", "2"), (restored, "2", "6")],
        **kw,
    }


@pytest.fixture(scope="module")
def wh():
    con = new_warehouse()
    add_jira_statuses(con, JIRA_STATUSES)
    add_all_choices(con)
    add_issue(con, "PAY-1", 0, [(0.5, "1", "3"), (1, "3", "10")])
    add_issue(con, "PAY-2", 0, [(1, "1", "3"), (4, "3", "10")])
    add_issue(con, "PAY-3", 1, [(2, "1", "3"), (3, "3", "10")])
    add_issue(con, "PAY-4", 2, [(3, "1", "3"), (8, "3", "10")])
    add_issue(con, "PAY-5", 3, [])
    add_issue(con, "PAY-6", 3, [(5, "1", "11")])
    con.execute("update raw.jira_issues set parent_key = 'PAY-1' where issue_key = 'PAY-5'")
    add_snow(con, **done_change("CHG1", 0, 2, correlation_id="PAY-1 PAY-2"))
    add_snow(
        con, **done_change("CHG2", 1, 5, correlation_id="PAY-3", short_description="Deploy PAY-3")
    )
    add_snow(
        con,
        **done_change(
            "CHG3", 8, 9, correlation_id="WEB-77", short_description="Release pay-4 and OPS-9"
        ),
    )
    add_snow(con, **done_change("CHG4", 10, 12, short_description="Hotfix PAY-12"))
    add_snow(con, **done_change("CHG5", 15, 16, correlation_id="PAY-4, PAY-6"))
    add_snow(con, "change_request", "CHG6", 15, [(17, "-5", "4")])
    add_snow(
        con,
        **_restored(
            "INC1",
            3,
            4,
            caused_by={"link": "https://x/change_request/sys-CHG1", "value": "sys-CHG1"},
        ),
    )
    add_snow(con, **_restored("INC7", 1, 5, caused_by=""))
    add_snow(con, **_restored("INC2", 10, 13, caused_by="sys-CHG2"))
    add_snow(con, "incident", "INC6", 11, [(11, "1", "2")], caused_by="sys-not-synced")
    add_snow(con, **_restored("INC4", 15, 15.5, problem_id="sys-PRB1"))
    add_snow(con, "incident", "INC5", 16, [], problem_id="sys-PRB1")
    add_snow(con, "incident", "INC3", 22, [], caused_by="sys-CHG5")
    add_snow(con, "problem", "PRB1", 14, [])
    build(con, config(CFG), 20)
    yield con
    con.close()


def test_item_links_only_between_warehouse_items(wh):
    got = [
        tuple(r.values())
        for r in rows(
            wh,
            "select from_item, to_item, kind, via from core.item_links"
            " order by from_item, kind, to_item",
        )
    ]
    assert got == [
        ("jira:PAY-5", "jira:PAY-1", "parent", "parent"),
        # two JIRA issues in one field
        ("servicenow:CHG1", "jira:PAY-1", "implements", "correlation_id"),
        ("servicenow:CHG1", "jira:PAY-2", "implements", "correlation_id"),
        # the key in both fields: one link, the configured field named
        ("servicenow:CHG2", "jira:PAY-3", "implements", "correlation_id"),
        # lower-case key in the text; WEB-77 and OPS-9 are not warehouse items
        ("servicenow:CHG3", "jira:PAY-4", "implements", "short_description"),
        ("servicenow:CHG5", "jira:PAY-4", "implements", "correlation_id"),
        ("servicenow:CHG5", "jira:PAY-6", "implements", "correlation_id"),
        ("servicenow:INC1", "servicenow:CHG1", "caused_by", "caused_by"),
        ("servicenow:INC2", "servicenow:CHG2", "caused_by", "caused_by"),
        ("servicenow:INC4", "servicenow:PRB1", "problem", "problem_id"),
        ("servicenow:INC5", "servicenow:PRB1", "problem", "problem_id"),
        # INC3 (created day 22) is not in the warehouse as of day 20: no link from it
    ]


def test_references_outside_the_warehouse_are_kept_apart(wh):
    got = [
        tuple(r.values())
        for r in rows(
            wh,
            "select from_item, kind, target, target_landed from core.link_references"
            " where target_item is null order by from_item, target",
        )
    ]
    # WEB-77: a configured field names it, no such issue landed (the JQL leaves WEB out);
    # PAY-12 (whole word: not PAY-1) is of a synced project, but no issue; INC6's change
    # was never synced. OPS-9 is text of a project the warehouse has never seen: no reference.
    assert got == [
        ("servicenow:CHG3", "implements", "WEB-77", False),
        ("servicenow:CHG4", "implements", "PAY-12", False),
        ("servicenow:INC6", "caused_by", "sys-not-synced", False),
    ]


def test_stability_per_week(wh):
    got = rows(
        wh,
        "select * exclude (value_stream) from metrics.stability"
        " where value_stream = 'Payments' order by period_start",
    )
    assert [r["period_start"] for r in got] == [day(0), day(7), day(14)]
    w0, w1, w2 = got
    # week 0: CHG1 (day 2) and CHG2 (day 5) done; both caused an incident created by as_of
    # (INC1 day 3; INC2 day 10, a week later but still CHG2's failure): 2 / 2 = 1.0.
    # Opened: INC7 (day 1), INC1 (day 3) = 2. Restored: INC1 after 4 - 3 = 1.0 day,
    # INC7 after 5 - 1 = 4.0 days: p50 = (1 + 4) / 2 = 2.5, p85 = 1 + 0.85 * (4 - 1) = 3.55.
    assert (w0["changes_done"], w0["failed_changes"], w0["change_failure_rate"]) == (2, 2, 1.0)
    assert w0["failed_change_keys"] == ["CHG1", "CHG2"]
    assert (w0["incidents_opened"], w0["incidents_restored"]) == (2, 2)
    assert w0["time_to_restore_p50_days"] == pytest.approx(2.5)
    assert w0["time_to_restore_p85_days"] == pytest.approx(3.55)
    # week 1: CHG3 (day 9), CHG4 (day 12) done, no incident names them: 0 / 2 = 0.0.
    # Opened: INC2 (10), INC6 (11) = 2. Restored: INC2 after 13 - 10 = 3.0 days.
    assert (w1["changes_done"], w1["failed_changes"], w1["change_failure_rate"]) == (2, 0, 0.0)
    assert (w1["incidents_opened"], w1["incidents_restored"]) == (2, 1)
    assert w1["time_to_restore_p50_days"] == pytest.approx(3.0)
    assert w1["time_to_restore_p85_days"] == pytest.approx(3.0)
    # week 2: CHG5 (day 16) done; INC3 names it but was opened on day 22 > as_of: not failed
    # as of day 20, 0 / 1. CHG6 was cancelled: not done. Opened INC4 (15), INC5 (16);
    # restored INC4 after 15.5 - 15 = 0.5 days.
    assert (w2["changes_done"], w2["failed_changes"], w2["change_failure_rate"]) == (1, 0, 0.0)
    assert (w2["incidents_opened"], w2["incidents_restored"]) == (2, 1)
    assert w2["time_to_restore_p50_days"] == pytest.approx(0.5)


def test_stability_all_rows_and_empty_ratios(wh):
    # Everything is Payments, so 'all' equals it; a week without done changes would have a NULL
    # rate (no 0/0) - shown by the later as_of below.
    a = rows(
        wh,
        "select changes_done, failed_changes from metrics.stability"
        " where value_stream = 'all' order by period_start",
    )
    assert [(r["changes_done"], r["failed_changes"]) for r in a] == [(2, 2), (2, 0), (1, 0)]


def test_delivery_idea_to_production(wh):
    d = one(wh, "select * from metrics.delivery where value_stream = 'Payments'")
    # First implementing change per JIRA item (by done_at), all in the window (-10, 20]:
    #   PAY-1 CHG1 day 2: idea 2 - 0 = 2.0, done 1 <= 2: done-to-production 2 - 1 = 1.0
    #   PAY-2 CHG1 day 2: idea 2 - 0 = 2.0, done 4 > 2 (change first): not in done-to-prod
    #   PAY-3 CHG2 day 5: idea 5 - 1 = 4.0, done 3: 5 - 3 = 2.0
    #   PAY-4 CHG3 day 9 (CHG5, day 16, is later): idea 9 - 2 = 7.0, done 8: 9 - 8 = 1.0
    #   PAY-6 is dropped (Won't Do): never in the window.
    # idea [2, 2, 4, 7]: p50 = 2 + 0.5 * (4 - 2) = 3.0; p85 at 0.85 * 3 = 2.55:
    #   4 + 0.55 * (7 - 4) = 5.65; mean 15 / 4 = 3.75.
    # done [1, 1, 2]: p50 = 1.0; p85 at 0.85 * 2 = 1.7: 1 + 0.7 * (2 - 1) = 1.7; mean 4/3.
    assert d["items"] == 4
    assert d["idea_to_production_p50_days"] == pytest.approx(3.0)
    assert d["idea_to_production_p85_days"] == pytest.approx(5.65)
    assert d["idea_to_production_mean_days"] == pytest.approx(3.75)
    assert d["done_to_production_items"] == 3
    assert d["done_to_production_p50_days"] == pytest.approx(1.0)
    assert d["done_to_production_p85_days"] == pytest.approx(1.7)
    assert d["done_to_production_mean_days"] == pytest.approx(4 / 3)
    a = one(
        wh,
        "select items, idea_to_production_p50_days from metrics.delivery"
        " where value_stream = 'all'",
    )
    assert (a["items"], a["idea_to_production_p50_days"]) == (4, pytest.approx(3.0))


def test_text_search_off_and_a_custom_field():
    con = new_warehouse()
    add_jira_statuses(con, JIRA_STATUSES)
    add_all_choices(con)
    add_issue(con, "PAY-1", 0, [])
    add_issue(con, "PAY-12", 0, [])
    add_snow(con, **done_change("CHG1", 0, 2, short_description="Deploy PAY-12", u_jira="PAY-1"))
    build(con, config(CFG), 20)
    # defaults: text on, correlation_id only -> PAY-12 (whole word, never PAY-1)
    assert [r["to_item"] for r in rows(con, "select to_item from core.item_links")] == [
        "jira:PAY-12"
    ]
    build(con, config(CFG + "links: {change_request_fields: [u_jira], search_text: false}\n"), 20)
    assert [r["to_item"] for r in rows(con, "select to_item from core.item_links")] == [
        "jira:PAY-1"
    ]
    con.close()


def test_deleted_records_neither_link_nor_are_linked():
    """As after a full re-sync, where a deleted record is simply absent: INC9 (deleted) names
    CHG1; INC8 names CHG2, which was deleted. Neither is a link, INC8's reference counts as
    outside, and CHG1 is not a failed change."""
    con = new_warehouse()
    add_jira_statuses(con, JIRA_STATUSES)
    add_all_choices(con)
    add_snow(con, **done_change("CHG1", 0, 2))
    add_snow(con, **done_change("CHG2", 0, 3))
    add_snow(con, **_restored("INC9", 3, 4, caused_by="sys-CHG1"))
    add_snow(con, **_restored("INC8", 4, 5, caused_by="sys-CHG2"))
    con.execute(
        "update raw.servicenow_records set is_deleted = true, deleted_at = ?"
        " where number in ('INC9', 'CHG2')",
        [day(6)],
    )
    build(con, config(CFG), 20)
    assert rows(con, "select * from core.item_links") == []
    assert [
        tuple(r.values())
        for r in rows(
            con, "select from_item, target, target_item, target_landed from core.link_references"
        )
    ] == [("servicenow:INC8", "sys-CHG2", None, False)]
    w0 = one(
        con,
        "select changes_done, failed_changes from metrics.stability"
        " where value_stream = 'Payments' and period_start = ?",
        [day(0)],
    )
    assert (w0["changes_done"], w0["failed_changes"]) == (1, 0)  # CHG1 only; CHG2 deleted
    con.close()
