"""A hand-made `metrics` schema with the exact columns of docs/contract.md §4.5 and awkward values.

Two value streams plus 'all'. The awkward values: formula-looking names ('=HYPERLINK("x")',
'+1', '-2', '@SUM(A1)', a tab), unicode, a '<script>' value stream, NULLs, a negative gap and
timestamps off the hour.
"""

from __future__ import annotations

from types import SimpleNamespace

import duckdb
import pytest

AS_OF = "2026-01-31 12:00:00+00"
SCRIPT_STREAM = "<script>alert(1)</script>"

DDL = """
create schema metrics;
create schema core;
create table core.build_settings (as_of timestamptz, window_days integer, period varchar);
create table metrics.item_flow (
  item_id varchar, value_stream varchar, flow_type varchar, created_at timestamptz,
  started_at timestamptz, done_at timestamptz, lead_time_days double, cycle_time_days double,
  process_time_days double, wait_time_days double, flow_efficiency double,
  backward_moves integer, reopens integer, age_days double);
create table metrics.lead_time (
  value_stream varchar, flow_type varchar, items bigint, lead_time_p50_days double,
  lead_time_p85_days double, lead_time_p95_days double, lead_time_mean_days double,
  cycle_time_p50_days double, cycle_time_p85_days double, share_within_target double);
create table metrics.wait_states (
  value_stream varchar, stage varchar, status varchar, items bigint, total_wait_days double,
  mean_wait_days double, p85_wait_days double, share_of_lead_time double, rank bigint);
create table metrics.rework (
  value_stream varchar, stage varchar, items_passed bigint, items_sent_back bigint,
  items_returned_from bigint, pct_complete_accurate double, reopened_items bigint);
create table metrics.value_stream_map (
  value_stream varchar, stage varchar, stage_order integer, items_visited bigint,
  lead_time_days double, process_time_days double, pct_complete_accurate double);
create table metrics.value_stream_summary (
  value_stream varchar, items_done bigint, wip bigint, throughput_per_week double,
  total_lead_time_days double, total_process_time_days double, activity_ratio double,
  rolled_pct_complete_accurate double, lead_time_p50_days double, lead_time_p95_days double,
  tech_debt_ratio double, unplanned_ratio double);
create table metrics.flow_distribution (
  value_stream varchar, period_start timestamptz, items_done bigint, feature_items bigint,
  defect_items bigint, debt_items bigint, risk_items bigint, incident_items bigint,
  debt_ratio_items double, debt_ratio_effort double, unplanned_ratio double,
  wip_at_end bigint, arrivals bigint);
create table metrics.scorecard (
  value_stream varchar, target varchar, target_value double, actual_value double,
  met boolean, gap double);
create table metrics.blocked_work (
  value_stream varchar, reason varchar, items bigint, total_blocked_days double,
  mean_blocked_days double, p85_blocked_days double, share_of_lead_time double);
create table metrics.handoffs (
  value_stream varchar, owner varchar, items bigint, total_days double, mean_days double,
  handoffs_in bigint, loops bigint, reassignments_per_item double,
  first_owner_resolution_rate double);
create table metrics.blocked_stages (
  value_stream varchar, stage varchar, stage_order integer, items_blocked bigint,
  blocked_time_days double, blocked_active_days double);
create table metrics.handoff_loops (
  value_stream varchar, owner varchar, via_owner varchar, loops bigint, items bigint);
create table metrics.item_labels (item_id varchar, labels varchar[], is_x boolean);
create table metrics.stability (
  value_stream varchar, period_start timestamptz, changes_done bigint, failed_changes bigint,
  change_failure_rate double, incidents_opened bigint, incidents_restored bigint,
  time_to_restore_p50_days double, time_to_restore_p85_days double,
  failed_change_keys varchar[]);
create table metrics.delivery (
  value_stream varchar, items bigint, idea_to_production_p50_days double,
  idea_to_production_p85_days double, done_to_production_p50_days double,
  done_to_production_p85_days double, idea_to_production_mean_days double,
  done_to_production_items bigint, done_to_production_mean_days double);
"""

STAGES = ("Backlog", "Analysé", "Development", "Review")

#: (stream, stage, order, visited, lead, process, %C/A)
VSM = [
    ("all", "Backlog", 1, 6, 4.25, 0.0, None),
    ("all", "Analysé", 2, 5, 2.5, 1.0, 0.8),
    ("all", "Development", 3, 6, 6.0, 3.5, 0.75),
    ("all", "Review", 4, 4, 1.75, 0.5, 1.0),
    ("Payments", "Backlog", 1, 4, 5.0, 0.0, None),
    ("Payments", "Analysé", 2, 3, 3.0, 1.25, 0.6667),
    ("Payments", "Development", 3, 4, 7.0, 4.0, 0.5),
    ("Payments", "Review", 4, 3, 2.0, 0.5, 1.0),
    (SCRIPT_STREAM, "Backlog", 1, 2, 3.0, 0.0, None),
    (SCRIPT_STREAM, "Development", 2, 2, 4.0, 2.0, 1.0),
]


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> None:
    """One multi-row INSERT (much faster than executemany on DuckDB)."""
    one = "(" + ", ".join("?" * len(rows[0])) + ")"
    params = [v for row in rows for v in row]
    con.execute(f"insert into {table} values " + ", ".join([one] * len(rows)), params)


def build(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL)
    con.execute("insert into core.build_settings values (?, 90, 'week')", [AS_OF])
    _insert(
        con,
        "metrics.item_flow",
        [
            (
                "jira:PAY-1",
                "Payments",
                "feature",
                "2026-01-01 09:30:00+00",
                "2026-01-02 10:00:00+00",
                "2026-01-11 09:30:00+00",
                10.0,
                9.0,
                4.0,
                6.0,
                0.4,
                1,
                0,
                None,
            ),
            (
                "jira:PAY-2",
                "Payments",
                "debt",
                "2026-01-10 00:00:00+01",
                "2026-01-12 00:00:00+00",
                "2026-01-13 23:00:00+00",
                3.5,
                2.0,
                1.5,
                2.0,
                0.43,
                0,
                0,
                None,
            ),
            (
                "jira:PAY-3",
                "Payments",
                "defect",
                "2026-01-20 00:00:00+00",
                None,
                None,
                None,
                None,
                0.0,
                11.5,
                None,
                0,
                0,
                11.5,
            ),
            (
                "servicenow:INC0010001",
                SCRIPT_STREAM,
                "incident",
                "2026-01-25 08:00:00+00",
                "2026-01-25 09:00:00+00",
                "2026-01-27 20:00:00+00",
                2.5,
                2.46,
                1.0,
                1.5,
                0.4,
                0,
                1,
                None,
            ),
            # Done before the window: left out of the histogram.
            (
                "jira:PAY-0",
                "Payments",
                "feature",
                "2025-06-01 00:00:00+00",
                "2025-06-02 00:00:00+00",
                "2025-07-01 00:00:00+00",
                30.0,
                29.0,
                5.0,
                25.0,
                0.17,
                0,
                0,
                None,
            ),
        ],
    )
    _insert(
        con,
        "metrics.lead_time",
        [
            ("all", "all", 3, 3.5, 8.75, 9.65, 5.33, 2.46, 7.6, 0.6667),
            ("all", "feature", 1, 10.0, 10.0, 10.0, 10.0, 9.0, 9.0, 0.0),
            ("Payments", "all", 2, 6.75, 9.025, 9.675, 6.75, 5.5, 8.25, 0.5),
            ("Payments", "debt", 1, 3.5, 3.5, 3.5, 3.5, 2.0, 2.0, None),
            (SCRIPT_STREAM, "all", 1, 2.5, 2.5, 2.5, 2.5, 2.46, 2.46, 1.0),
        ],
    )
    _insert(
        con,
        "metrics.wait_states",
        [
            ("all", "Backlog", "Open", 3, 12.75, 4.25, 5.1, 0.7969, 1),
            ("all", "Review", '=HYPERLINK("x")', 2, 2.5, 1.25, 1.4, 0.1563, 2),
            ("all", "Development", "+1", 1, 0.5, 0.5, 0.5, 0.0313, 3),
            ("all", "Development", "-2", 1, 0.25, 0.25, 0.25, 0.0156, 4),
            ("all", "Development", "@SUM(A1)", 1, 0.125, 0.125, 0.125, 0.0078, 5),
            ("all", "Development", "\tTabbed", 1, 0.0625, 0.0625, 0.0625, None, 6),
            ("Payments", "Backlog", "Open", 2, 10.0, 5.0, 5.5, 0.7407, 1),
            ("Payments", "Review", "Wartet auf Prüfung ✓", 1, 2.0, 2.0, 2.0, 0.1481, 2),
        ],
    )
    _insert(
        con,
        "metrics.rework",
        [
            ("all", "Development", 4, 1, 1, 0.75, 0),
            ("all", "Backlog", 6, 0, 0, 1.0, 0),
            ("all", "Analysé", 5, 1, 0, 0.8, 1),
            ("all", "Review", 0, 0, 1, None, 0),
            ("Payments", "Development", 2, 1, 0, 0.5, 0),
        ],
    )
    _insert(con, "metrics.value_stream_map", VSM)
    _insert(
        con,
        "metrics.value_stream_summary",
        [
            ("all", 3, 4, 0.2333, 14.5, 5.0, 0.3448, 0.6, 3.5, 9.65, 0.1818, 0.3333),
            ("Payments", 2, 3, 0.1556, 17.0, 5.75, 0.3382, 0.3333, 6.75, 9.675, 0.2727, 0.0),
            (SCRIPT_STREAM, 1, 0, 0.0778, 7.0, 2.0, 0.2857, 1.0, 2.5, 2.5, None, 1.0),
        ],
    )
    _insert(
        con,
        "metrics.flow_distribution",
        [
            ("all", "2026-01-05 00:00:00+00", 1, 1, 0, 0, 0, 0, 0.0, 0.0, 0.0, 3, 2),
            ("all", "2026-01-12 00:00:00+00", 1, 0, 0, 1, 0, 0, 1.0, 1.0, 0.0, 2, 1),
            ("all", "2026-01-19 00:00:00+00", 0, 0, 0, 0, 0, 0, None, None, None, 3, 1),
            ("all", "2026-01-26 00:00:00+00", 1, 0, 0, 0, 0, 1, 0.0, 0.0, 1.0, 2, 1),
            ("Payments", "2026-01-05 00:00:00+00", 1, 1, 0, 0, 0, 0, 0.0, 0.0, 0.0, 2, 1),
            ("Payments", "2026-01-12 00:00:00+00", 1, 0, 0, 1, 0, 0, 1.0, 1.0, 0.0, 1, 1),
        ],
    )
    _insert(
        con,
        "metrics.scorecard",
        [
            ("all", "lead_time_p95_days", 7.0, 9.65, False, -2.65),
            ("all", "tech_debt_ratio_min", 0.2, 0.1818, False, -0.0182),
            ("all", "flow_efficiency_min", 0.25, 0.3448, True, 0.0948),
            ("all", "pct_complete_accurate_min", 0.8, None, False, None),
            ("Payments", "lead_time_p95_days", 7.0, 9.675, False, -2.675),
            ("Payments", "tech_debt_ratio_min", 0.25, 0.2727, True, 0.0227),
        ],
    )
    _insert(
        con,
        "metrics.stability",
        [
            ("Payments", "2026-01-05 00:00:00+00", 2, 1, 0.5, 3, 2, 1.25, 2.0, ["CHG<b>7</b>"]),
            ("Payments", "2026-01-12 00:00:00+00", 0, 0, None, 1, 0, None, None, []),
        ],
    )
    _insert(
        con,
        "metrics.delivery",
        [
            ("Payments", 4, 3.0, 5.65, 1.0, 1.7, 3.75, 3, 1.3333),
            ("all", 0, None, None, None, None, None, 0, None),
        ],
    )
    _insert(
        con,
        "metrics.item_labels",
        [("jira:PAY-1", ["tech-debt", "=cmd|' /C calc'!A0", None], True), ("jira:PAY-2", [], None)],
    )


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(":memory:")
    connection.execute("set timezone = 'America/New_York'")  # exports must not depend on it
    build(connection)
    yield connection
    connection.close()


@pytest.fixture
def fixture_data() -> SimpleNamespace:
    """The builder and the rows above, for tests that need the expected values."""
    return SimpleNamespace(build=build, vsm=VSM, script_stream=SCRIPT_STREAM)
