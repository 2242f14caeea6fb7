"""metrics tables on the hand-written organisation (timeline in wh_org.py; as_of = day 20,
window (6, 20]). Window items: A PAY-1 (Payments, feature), B PAY-2 (Payments, defect),
H INC1 (Payments, incident), F WEB-2 (Web, debt). Not in it: C dropped, D/E/G open, I deleted,
J done on day 1.

Per window item (days):          lead  cycle  process            wait
  A created 0, started 2, done 10  10    8    3+2+2 = 7           Open 2 + Blocked 1 = 3
  B created 1, started 2, done 12  11   10    2+1+2+2+1 = 8       Open 1 (Done 9-11 is neither)
  H opened 2, started 3, done 8     6    5    1+2 = 3             New 1 + On Hold 2 = 3
  F created 6, started 6, done 9    3    3    3                   Open 0 (zero-length)
"""

from __future__ import annotations

import duckdb
from pytest import approx

from tests.warehouse.wh_timeline import one, rows


def test_item_flow(org: duckdb.DuckDBPyConnection) -> None:
    got = {r["item_id"]: r for r in rows(org, "select * from metrics.item_flow")}
    assert "jira:PAY-5" not in got  # deleted
    a = got["jira:PAY-1"]
    assert (
        a["lead_time_days"],
        a["cycle_time_days"],
        a["process_time_days"],
        a["wait_time_days"],
    ) == (10.0, 8.0, 7.0, 3.0)
    assert a["flow_efficiency"] == approx(7 / 10) and a["age_days"] is None
    b = got["jira:PAY-2"]
    assert (b["lead_time_days"], b["cycle_time_days"], b["process_time_days"]) == (11, 10, 8)
    assert (b["backward_moves"], b["reopens"]) == (2, 1)  # Review>Dev and Done>Dev
    c = got["jira:PAY-3"]  # dropped: no lead, cycle or age
    assert (c["lead_time_days"], c["cycle_time_days"], c["age_days"]) == (None, None, None)
    assert c["process_time_days"] == 2.0  # In Progress 4-6
    d = got["jira:PAY-4"]  # never started, open: age 20 - 15
    assert (d["started_at"], d["age_days"], d["process_time_days"]) == (None, 5.0, 0.0)
    e = got[
        "jira:WEB-1"
    ]  # open: age 20 - 4; process In Progress 5-17; wait Open 4-5 + QA Hold 17-20
    assert (e["age_days"], e["process_time_days"], e["wait_time_days"]) == (16.0, 12.0, 4.0)
    h = got["servicenow:INC1"]  # Resolved 8 -> Closed 13 must not move done_at
    assert (h["lead_time_days"], h["cycle_time_days"], h["process_time_days"]) == (6, 5, 3)


def test_lead_time(org: duckdb.DuckDBPyConnection) -> None:
    got = {(r["value_stream"], r["flow_type"]): r for r in rows(org, "from metrics.lead_time")}
    al = got[("all", "all")]
    # leads [3, 6, 10, 11] (even count): p50 pos 1.5 -> 8; p85 pos 2.55 -> 10 + .55 = 10.55;
    # p95 pos 2.85 -> 10.85; mean 30 / 4 = 7.5. cycles [3, 5, 8, 10]: p50 6.5,
    # p85 pos 2.55 -> 8 + .55 * 2 = 9.1. Within 10 days: 3, 6, 10 -> 3 / 4.
    assert al["items"] == 4
    assert (
        al["lead_time_p50_days"],
        al["lead_time_p85_days"],
        al["lead_time_p95_days"],
        al["lead_time_mean_days"],
    ) == approx((8.0, 10.55, 10.85, 7.5))
    assert (al["cycle_time_p50_days"], al["cycle_time_p85_days"]) == approx((6.5, 9.1))
    assert al["share_within_target"] == approx(0.75)
    pay = got[("Payments", "all")]
    # leads [6, 10, 11]: p50 10, p85 pos 1.7 -> 10.7, p95 pos 1.9 -> 10.9, mean 9; 2 of 3 <= 10
    assert (
        pay["items"],
        pay["lead_time_p50_days"],
        pay["lead_time_p85_days"],
        pay["lead_time_p95_days"],
        pay["lead_time_mean_days"],
    ) == approx((3, 10.0, 10.7, 10.9, 9.0))
    assert pay["share_within_target"] == approx(2 / 3)
    assert got[("Payments", "defect")]["lead_time_p50_days"] == 11.0  # B alone
    assert got[("Web", "debt")]["items"] == 1 and got[("all", "incident")]["items"] == 1
    # the unassigned stream (J, done before the window) keeps an empty 'all' row
    un = got[("unassigned", "all")]
    assert (un["items"], un["lead_time_p50_days"]) == (0, None)


def test_wait_states(org: duckdb.DuckDBPyConnection) -> None:
    got = [
        (
            r["stage"],
            r["status"],
            r["items"],
            r["total_wait_days"],
            r["mean_wait_days"],
            r["p85_wait_days"],
            r["share_of_lead_time"],
            r["rank"],
        )
        for r in rows(org, "from metrics.wait_states where value_stream = 'all' order by rank")
    ]
    # Open: A 2 + B 1 (F's zero-length Open is not "spent time"); p85 of [1, 2] = 1.85;
    # shares over total window lead 30. Ties at 1.0 day: Backlog (order 1) before Dev.
    assert got == [
        ("Backlog", "Open", 2, 3.0, 1.5, approx(1.85), approx(3 / 30), 1),
        ("Dev", "On Hold", 1, 2.0, 2.0, 2.0, approx(2 / 30), 2),
        ("Backlog", "New", 1, 1.0, 1.0, 1.0, approx(1 / 30), 3),
        ("Dev", "Blocked", 1, 1.0, 1.0, 1.0, approx(1 / 30), 4),
    ]
    pay = one(org, "from metrics.wait_states where value_stream = 'Payments' and status = 'Open'")
    assert pay["share_of_lead_time"] == approx(3 / 27)  # Payments lead 10 + 11 + 6
    assert rows(org, "from metrics.wait_states where value_stream = 'Web'") == []


def test_rework(org: duckdb.DuckDBPyConnection) -> None:
    got = {
        r["stage"]: (
            r["items_passed"],
            r["items_sent_back"],
            r["items_returned_from"],
            r["pct_complete_accurate"],
            r["reopened_items"],
        )
        for r in rows(org, "from metrics.rework where value_stream = 'all'")
    }
    # Dev: passed by A, B, F, H; B sent back into it (Review>Dev after passing, Done>Dev);
    # 1 - 1/4. Review: A and B left it forward; B returned from it. Done: B reopened out of
    # it. Test: nobody passed -> NULL.
    assert got == {
        "Backlog": (4, 0, 0, 1.0, 0),
        "Dev": (4, 1, 0, 0.75, 1),
        "Review": (2, 0, 1, 1.0, 0),
        "Test": (0, 0, 0, None, 0),
        "Done": (0, 0, 1, None, 0),
    }
    pay = one(org, "from metrics.rework where value_stream = 'Payments' and stage = 'Dev'")
    assert pay["pct_complete_accurate"] == approx(1 - 1 / 3)  # A, B, H passed; B sent back


def test_value_stream_map(org: duckdb.DuckDBPyConnection) -> None:
    got = [
        (
            r["stage"],
            r["stage_order"],
            r["items_visited"],
            r["lead_time_days"],
            r["process_time_days"],
            r["pct_complete_accurate"],
        )
        for r in rows(
            org, "from metrics.value_stream_map where value_stream = 'all' order by stage_order"
        )
    ]
    # time per item in non-done intervals of the stage, mean over 4 window items:
    # Backlog A 2, B 1, F 0, H 1 -> 1.0 (process 0)
    # Dev     A 3+1+2, B 2+2+1, F 3, H 1+2+2 = 19 -> 4.75; process A 5, B 5, F 3, H 3 -> 4.0
    # Review  A 2, B 1+2 -> 1.25 (all active); Test never visited -> 0. Done excluded.
    assert got == [
        ("Backlog", 1, 4, 1.0, 0.0, 1.0),
        ("Dev", 2, 4, 4.75, 4.0, 0.75),
        ("Review", 3, 2, 1.25, 1.25, 1.0),
        ("Test", 4, 0, 0.0, 0.0, None),
    ]
    # blocks 7.0 = mean lead 7.5 - B's 2 days done before its reopen / 4


def test_value_stream_summary(org: duckdb.DuckDBPyConnection) -> None:
    al = one(org, "from metrics.value_stream_summary where value_stream = 'all'")
    # wip: D, E, G (open, wait/active); throughput 4 / (14 / 7); blocks 1 + 4.75 + 1.25 = 7,
    # process 5.25, activity .75; rolled %C/A 1 * .75 * 1 = .75 (Test undefined);
    # debt effort F 3 / (7 + 8 + 3 + 3); unplanned B + H = 2 / 4
    assert al == {
        "value_stream": "all",
        "items_done": 4,
        "wip": 3,
        "throughput_per_week": 2.0,
        "total_lead_time_days": 7.0,
        "total_process_time_days": 5.25,
        "activity_ratio": approx(0.75),
        "rolled_pct_complete_accurate": approx(0.75),
        "lead_time_p50_days": 8.0,
        "lead_time_p95_days": approx(10.85),
        "tech_debt_ratio": approx(3 / 21),
        "unplanned_ratio": 0.5,
    }
    web = one(org, "from metrics.value_stream_summary where value_stream = 'Web'")
    # F only: Backlog 1.0 * Dev 1.0 (Review, Test undefined); wip E, G
    assert (
        web["items_done"],
        web["wip"],
        web["rolled_pct_complete_accurate"],
        web["tech_debt_ratio"],
        web["unplanned_ratio"],
    ) == (1, 2, 1.0, 1.0, 0.0)
    un = one(org, "from metrics.value_stream_summary where value_stream = 'unassigned'")
    # nothing done in the window: every ratio NULL, never 0
    assert (
        un["items_done"],
        un["activity_ratio"],
        un["tech_debt_ratio"],
        un["unplanned_ratio"],
        un["rolled_pct_complete_accurate"],
    ) == (0, None, None, None, None)


def test_flow_distribution_week(org: duckdb.DuckDBPyConnection) -> None:
    got = [
        (
            r["period_start"].day,
            r["items_done"],
            r["feature_items"],
            r["defect_items"],
            r["debt_items"],
            r["incident_items"],
            r["debt_ratio_items"],
            r["debt_ratio_effort"],
            r["unplanned_ratio"],
            r["wip_at_end"],
            r["arrivals"],
        )
        for r in rows(
            org, "from metrics.flow_distribution where value_stream = 'all' order by period_start"
        )
    ]
    # weeks of Jan 1, 8, 15 (as_of day 20 = Sun Jan 21). Arrivals: A B C E F H J | G | D.
    # Done: J day 1 (incident, no process time) | A B F H | none.
    # WIP at day 7: A B E F H; at day 14: E G; last week at as_of: D E G.
    assert got == [
        (1, 1, 0, 0, 0, 1, 0.0, None, 1.0, 5, 7),
        (8, 4, 1, 1, 1, 1, 0.25, approx(3 / 21), 0.5, 2, 1),
        (15, 0, 0, 0, 0, 0, None, None, None, 3, 1),
    ]


def test_scorecard(org: duckdb.DuckDBPyConnection) -> None:
    got = {
        (r["value_stream"], r["target"]): (r["actual_value"], r["met"], r["gap"])
        for r in rows(org, "from metrics.scorecard")
    }
    # max targets: gap = target - actual; min targets: gap = actual - target
    assert got[("all", "lead_time_p95_days")] == (approx(10.85), False, approx(-0.85))
    assert got[("all", "unplanned_ratio_max")] == (0.5, True, 0.0)
    assert got[("all", "tech_debt_ratio_min")] == (approx(1 / 7), False, approx(1 / 7 - 0.2))
    assert got[("all", "pct_complete_accurate_min")] == (approx(0.75), False, approx(-0.05))
    assert got[("Web", "lead_time_p95_days")] == (3.0, True, 7.0)
    assert got[("Web", "tech_debt_ratio_min")] == (1.0, True, approx(0.8))
    assert got[("unassigned", "unplanned_ratio_max")] == (None, False, None)  # NULL: not met
    assert ("all", "flow_efficiency_min") not in got  # not configured: no row
