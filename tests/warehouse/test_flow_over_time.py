"""docs/contract.md §6 "Flow over time": metrics.daily_flow, aging_wip, flow_trends and forecast, on a small
hand-written timeline (days from T0 = Monday 2024-01-01 00:00 UTC).

Config: stages Backlog(1) Dev(2) Review(3) Done(4); window_days 3; as_of = day 5.5 (Saturday
Jan 6, 12:00: mid-day). Days of daily_flow: date(as_of - 3) = day 2 ... date(as_of) = day 5,
ending at 3, 4, 5 and 5.5 (the day holding as_of ends at as_of). The window: done in (2.5, 5.5].

  P1 PAY-1  created 0: 1 Open>In Progress, 2.5 >In Review, 3.25 >Done, 4.5 Done>In Progress
            (reopened across days), 5.25 >Done                        done_at 5.25, lead 5.25
  P2 PAY-2  created 1: 2 Open>In Progress, 3.5 >Won't Do              dropped
  P3 PAY-3  created 2: 3.0 (exactly midnight: a day boundary) Open>In Progress, 4.25 >In Review,
            4.5 In Review>In Progress (backward), 4.75 >In Review (Review re-entered)  open
  P4 PAY-4  created 4.2 (after day 2's and day 3's ends), 6 Open>In Progress (after as_of)
  P5 PAY-5  created 5.75: after as_of, absent
  P6 PAY-6  created 0: 0.5 Open>In Progress, 2.2 In Progress>Blocked (lateral: both Dev)  open
  D1 PAY-7  created 0, deleted                                         left out
  W1 WEB-1  created 2.5: 3.5 Open>In Progress, 4.0 (midnight) >Done   Web, lead 1.5
  O1 OPS-1  created 1, Open, no stream rule                            unassigned, open
"""

from __future__ import annotations

import duckdb
import pytest
from pytest import approx

from tests.warehouse.wh_timeline import (
    JIRA_STATUSES,
    add_issue,
    add_jira_statuses,
    build,
    config,
    new_warehouse,
    one,
    rows,
)
from warehouse.build import run_check

CONFIG = """
window_days: 3
stages: [Backlog, Dev, Review, Done]
statuses:
  jira:
    Open: {stage: Backlog, kind: wait}
    In Progress: {stage: Dev, kind: active}
    Blocked: {stage: Dev, kind: wait}
    In Review: {stage: Review, kind: active}
    Done: {stage: Done, kind: done}
    Won't Do: {stage: Done, kind: dropped}
value_streams:
  - name: Payments
    jira: {projects: [PAY]}
  - name: Web
    jira: {projects: [WEB]}
forecast: {history_days: 2, horizons_days: [3, 5], trials: 2000, seed: 7}
"""

AS_OF = 5.5


def timeline(time_zone: str = "UTC") -> duckdb.DuckDBPyConnection:
    con = new_warehouse()
    con.execute(f"set timezone = '{time_zone}'")
    add_jira_statuses(con, JIRA_STATUSES)
    add_issue(
        con,
        "PAY-1",
        0,
        [(1, "1", "3"), (2.5, "3", "6"), (3.25, "6", "10"), (4.5, "10", "3"), (5.25, "3", "10")],
    )
    add_issue(con, "PAY-2", 1, [(2, "1", "3"), (3.5, "3", "11")])
    add_issue(
        con, "PAY-3", 2, [(3.0, "1", "3"), (4.25, "3", "6"), (4.5, "6", "3"), (4.75, "3", "6")]
    )
    add_issue(con, "PAY-4", 4.2, [(6, "1", "3")])
    add_issue(con, "PAY-5", 5.75, [])
    add_issue(con, "PAY-6", 0, [(0.5, "1", "3"), (2.2, "3", "4")])
    add_issue(con, "PAY-7", 0, [], is_deleted=True)
    add_issue(con, "WEB-1", 2.5, [(3.5, "1", "3"), (4.0, "3", "10")])
    add_issue(con, "OPS-1", 1, [])
    build(con, config(CONFIG), AS_OF)
    return con


@pytest.fixture(scope="module")
def tl() -> duckdb.DuckDBPyConnection:
    con = timeline()
    yield con
    con.close()


def test_days_are_utc_whatever_the_session_time_zone(tl: duckdb.DuckDBPyConnection) -> None:
    other = timeline("Asia/Kolkata")  # UTC+5:30: local midnight is not a UTC day boundary
    for table in ("daily_flow", "aging_wip", "flow_trends", "forecast"):
        sql = f"select * from metrics.{table} order by all"
        assert other.execute(sql).fetchall() == tl.execute(sql).fetchall(), table
    other.close()


def cfd(con: duckdb.DuckDBPyConnection, stream: str, column: str) -> dict[int, list[int]]:
    """{day of month: [value per stage in stage order]} for one stream."""
    got = rows(
        con,
        f"select day, stage_order, {column} from metrics.daily_flow"
        " where value_stream = ? order by day, stage_order",
        [stream],
    )
    out: dict[int, list[int]] = {}
    for r in got:
        out.setdefault(r["day"].day, []).append(r[column])
    return out


def test_daily_flow_items_at_each_days_end(tl: duckdb.DuckDBPyConnection) -> None:
    # Day 2 (Jan 3) ends at 3.0: P1 Review (2.5); P2 Dev; P3 Dev (its move at exactly 3.0 is
    #   in); P6 Dev (Blocked); W1 Backlog; O1 Backlog; P4 not created yet; D1 deleted.
    # Day 3 (Jan 4) ends at 4.0: P1 Done (3.25); P2 dropped at 3.5 (not counted); P3, P6 Dev;
    #   W1 Done (at exactly 4.0); O1 Backlog.
    # Day 4 (Jan 5) ends at 5.0: P1 Dev (reopened 4.5); P3 Review (4.75); P4 Backlog (created
    #   4.2); P6 Dev; W1 Done; O1 Backlog.
    # Day 5 (Jan 6) ends at as_of 5.5: P1 Done (5.25); P3 Review; P4 Backlog (its move at 6 is
    #   after as_of); P6 Dev; W1 Done; O1 Backlog; P5 (created 5.75) absent.
    #                  Backlog Dev Review Done
    assert cfd(tl, "all", "items") == {
        3: [2, 3, 1, 0],
        4: [1, 2, 0, 2],
        5: [2, 2, 1, 1],
        6: [2, 1, 1, 2],
    }
    # Payments: the same without W1 (Web) and O1 (unassigned).
    assert cfd(tl, "Payments", "items") == {
        3: [0, 3, 1, 0],
        4: [0, 2, 0, 1],
        5: [1, 2, 1, 0],
        6: [1, 1, 1, 1],
    }
    # Every stream x day x stage has a row (zeros included): 4 streams x 4 days x 4 stages.
    assert one(tl, "select count(*) as n from metrics.daily_flow")["n"] == 4 * 4 * 4


def test_daily_flow_entered(tl: duckdb.DuckDBPyConnection) -> None:
    # Intervals beginning in [day, day + 1), dropped and zero-length included, once per item:
    # day 2: Backlog P3 (created 2.0), W1 (2.5); Dev P2 (2.0), P6 (Blocked 2.2: a lateral move
    #        is a new interval in Dev); Review P1 (2.5).
    # day 3: Dev P3 (3.0: the boundary instant belongs to the day it starts), W1 (3.5);
    #        Done P1 (3.25), P2 (Won't Do 3.5: dropped, still entered).
    # day 4: Backlog P4 (4.2); Dev P1 (4.5), P3 (4.5); Review P3 (4.25 and 4.75: once);
    #        Done W1 (4.0).
    # day 5: Done P1 (5.25). P4's move at 6 is after as_of.
    assert cfd(tl, "all", "entered") == {
        3: [2, 2, 1, 0],
        4: [0, 2, 0, 2],
        5: [1, 2, 1, 1],
        6: [0, 0, 0, 1],
    }


def test_aging_wip(tl: duckdb.DuckDBPyConnection) -> None:
    got = {r["item_id"]: r for r in rows(tl, "from metrics.aging_wip")}
    # Open at as_of: P3, P4, P6 (Payments), O1 (unassigned). Not P1/W1 (done), P2 (dropped).
    assert sorted(got) == ["jira:OPS-1", "jira:PAY-3", "jira:PAY-4", "jira:PAY-6"]
    # SLE: Payments' window items: P1 only (lead 5.25), so p85 = 5.25.
    p3 = got["jira:PAY-3"]
    # age 5.5 - 2 = 3.5; current run in Review since 4.75 (the 4.5 move back to Dev broke the
    # run that began 4.25) -> 0.75; last transition 4.75 -> 0.75; 5.25 <= 3.5? no -> 0 / 1.
    assert (p3["stage"], p3["status"], p3["status_kind"]) == ("Review", "In Review", "active")
    assert (
        p3["age_days"],
        p3["stage_age_days"],
        p3["days_since_last_transition"],
        p3["sle_days"],
        p3["age_percentile"],
        p3["over_sle"],
    ) == approx((3.5, 0.75, 0.75, 5.25, 0.0, False))
    p4 = got["jira:PAY-4"]
    # age 5.5 - 4.2 = 1.3 (its move at 6 is after as_of: no transition yet -> from created_at)
    assert (
        p4["stage"],
        p4["age_days"],
        p4["stage_age_days"],
        p4["days_since_last_transition"],
    ) == ("Backlog", approx(1.3), approx(1.3), approx(1.3))
    p6 = got["jira:PAY-6"]
    # age 5.5; Dev since 0.5 (In Progress, then Blocked in the same stage) -> 5.0; last
    # transition 2.2 -> 3.3; lead 5.25 <= 5.5 -> 1 / 1; 5.5 > 5.25 -> over the SLE.
    assert (p6["stage"], p6["status"], p6["status_kind"]) == ("Dev", "Blocked", "wait")
    assert (
        p6["age_days"],
        p6["stage_age_days"],
        p6["days_since_last_transition"],
        p6["age_percentile"],
        p6["over_sle"],
    ) == approx((5.5, 5.0, 3.3, 1.0, True))
    o1 = got["jira:OPS-1"]
    # unassigned has no window item: no SLE, no percentile, over_sle unknown (NULL).
    assert (
        o1["value_stream"],
        o1["age_days"],
        o1["sle_days"],
        o1["age_percentile"],
        o1["over_sle"],
    ) == ("unassigned", 4.5, None, None, None)


def test_flow_trends_single_week_as_of_mid_day(tl: duckdb.DuckDBPyConnection) -> None:
    al = one(tl, "from metrics.flow_trends where value_stream = 'all'")
    # One week (Jan 1); its end is as_of 5.5. Done in it: P1 (5.25, lead 5.25, started 1 ->
    # cycle 4.25), W1 (4.0, lead 1.5, cycle 0.5). Leads [1.5, 5.25]: p50 3.375,
    # p85 1.5 + .85 * 3.75 = 4.6875, p95 1.5 + .95 * 3.75 = 5.0625; cycles [0.5, 4.25]:
    # p85 0.5 + .85 * 3.75 = 3.6875. Process: P1 1-2.5 + 2.5-3.25 + 4.5-5.25 = 3.0, W1 0.5
    # -> 3.5 / 6.75. Backward: P1's reopen 1, W1 0 -> 1 / 2.
    # Open at 5.5: P3 (age 3.5), P4 (1.3), P6 (5.5), O1 (4.5) -> 14.8 / 4 = 3.7.
    assert (al["items_done"], al["wip_at_end"]) == (2, 4)
    assert (
        al["lead_time_p50_days"],
        al["lead_time_p85_days"],
        al["lead_time_p95_days"],
        al["cycle_time_p85_days"],
    ) == approx((3.375, 4.6875, 5.0625, 3.6875))
    assert al["flow_efficiency"] == approx(3.5 / 6.75)
    assert al["backward_moves_per_item"] == approx(0.5)
    assert al["mean_wip_age_days"] == approx(3.7)


def test_flow_trends_per_week(org: duckdb.DuckDBPyConnection) -> None:
    """The organisation of wh_org.py (as_of day 20, weeks of Jan 1, 8, 15)."""
    got = [
        (
            r["period_start"].day,
            r["items_done"],
            r["lead_time_p50_days"],
            r["lead_time_p85_days"],
            r["cycle_time_p85_days"],
            r["flow_efficiency"],
            r["backward_moves_per_item"],
            r["wip_at_end"],
            r["mean_wip_age_days"],
        )
        for r in rows(
            org, "from metrics.flow_trends where value_stream = 'all' order by period_start"
        )
    ]
    # Week 1: J done (lead 1, never started, process 0): efficiency 0 / 1; WIP at day 7:
    #   A 7, B 6, E 3, F 1, H 5 days old -> 22 / 5 = 4.4.
    # Week 2: A B F H done: leads [3, 6, 10, 11] p50 8, p85 10.55; cycles [3, 5, 8, 10] p85 9.1;
    #   process 7 + 8 + 3 + 3 = 21 / lead 30; backward B 2 / 4; WIP at day 14: E 10, G 4 -> 7.
    # Week 3 (ends at as_of, day 20): nothing done -> NULLs; WIP D 5, E 16, G 10 -> 31 / 3.
    assert got == [
        (1, 1, 1.0, 1.0, None, 0.0, 0.0, 5, approx(4.4)),
        (8, 4, 8.0, approx(10.55), approx(9.1), approx(0.7), 0.5, 2, approx(7.0)),
        (15, 0, None, None, None, None, None, 3, approx(31 / 3)),
    ]
    pay = [
        (r["period_start"].day, r["wip_at_end"], r["mean_wip_age_days"])
        for r in rows(
            org, "from metrics.flow_trends where value_stream = 'Payments' order by period_start"
        )
    ]
    # Payments WIP: day 7 A 7, B 6, H 5 -> 6; day 14 none -> NULL; as_of D 5.
    assert pay == [(1, 3, 6.0), (8, 0, None), (15, 1, 5.0)]


def test_checks_pass_on_the_timeline(tl: duckdb.DuckDBPyConnection) -> None:
    assert run_check(tl, "daily_flow_matches_wip") == []
    assert run_check(tl, "flow_trends_percentiles_ordered") == []
    assert run_check(tl, "forecast_percentiles_ordered") == []
    assert run_check(tl, "flow_over_time_ratios_in_range") == []


def test_daily_flow_check_catches_a_drift(tl: duckdb.DuckDBPyConnection) -> None:
    tl.execute("begin transaction")
    try:
        tl.execute(
            "update metrics.daily_flow set items = items + 1"
            " where value_stream = 'Payments' and stage = 'Dev'"
            " and day = (select max(day) from metrics.daily_flow)"
        )
        bad = run_check(tl, "daily_flow_matches_wip")
    finally:
        tl.execute("rollback")
    # Payments' Dev on as_of's day: 1 in the CFD + 1 = 2 against P6 alone in core.work_items.
    assert bad == [("Payments", "Dev", 2, 1)]


def test_forecast_history_and_empty_throughput(tl: duckdb.DuckDBPyConnection) -> None:
    got = {(r["value_stream"], r["horizon_days"]): r for r in rows(tl, "from metrics.forecast")}
    # History: the 2 days before as_of's day (day 5): days 3 and 4. Done then, by current
    # done_at: W1 (4.0, day 4) only; P1's first done (3.25) was reopened, its done_at is 5.25
    # (as_of's own day, not history). 'all' samples [0, 1]; Payments [0, 0].
    assert got[("all", None)]["history_items"] == 1
    assert got[("all", None)]["wip"] == 4  # P3, P4, P6, O1
    pay = got[("Payments", None)]
    # no throughput in the history: "at least 0 items", and WIP 3 is never done (NULL)
    assert (
        pay["wip"],
        pay["wip_done_days_p50"],
        pay["wip_done_days_p85"],
        pay["wip_done_days_p95"],
    ) == (3, None, None, None)
    assert [got[("Payments", h)]["items_p50"] for h in (3, 5)] == [0, 0]
    # Web: WIP 0 -> done within 0 days
    assert got[("Web", None)]["wip_done_days_p85"] == 0


@pytest.mark.parametrize("period", ["2weeks", "month"])
def test_flow_trends_other_periods(period: str) -> None:
    # Monday 2024-01-01 starts a week, a 2weeks bucket (2000-01-03 + 626 x 14 days) and a
    # month: one period, holding as_of, with the single week's numbers.
    con = timeline()
    build(con, config(CONFIG.replace("window_days: 3", f"window_days: 3\nperiod: {period}")), AS_OF)
    got = [
        (
            r["period_start"].day,
            r["items_done"],
            r["wip_at_end"],
            r["mean_wip_age_days"],
            r["flow_efficiency"],
        )
        for r in rows(con, "from metrics.flow_trends where value_stream = 'all'")
    ]
    assert got == [(1, 2, 4, approx(3.7), approx(3.5 / 6.75))]
    con.close()
