"""A whole raw layer generated inside DuckDB, for scale: millions of items in seconds.

Where the simulator (`sandbox.Sandbox`) serves JIRA and ServiceNow over HTTP for the
connectors, this fills `raw` directly, for what comes after the connectors: the metrics
benchmark (benchmarks/bench_metrics.py) and the tests that rebuild core and metrics on a
realistic volume (tests/warehouse/test_plans_agree.py, test_bench_agree.py). 85% JIRA issues
in four projects with a plausible workflow (Open -> Analysis -> In Progress -> Ready for Review
-> In Review -> Ready for Test -> Testing -> Done, with Blocked detours, backward moves,
reopens and Won't Do), 15% ServiceNow incidents (New -> In Progress <-> On Hold -> Resolved ->
Closed, some Canceled). The SQL is `sandbox/sql/warehouse_gen.sql`; the demo config
(`models/demo_flow.yaml`) maps it.

Like the rest of the sandbox it imports nothing of the product: the caller hands it a
connection to a bootstrapped warehouse (`warehouse.db.bootstrap`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources

import duckdb

#: The instant the generated history ends at (creation dates go back 400 days from it).
AS_OF = datetime(2025, 6, 2, 6, 0, tzinfo=UTC)
JIRA_SHARE = 0.85

#: JIRA statuses: id, name, category; the main path is ids 1,3,4,7,8,9,10,11.
STATUSES = [
    ("1", "Open", "new"),
    ("2", "Backlog", "new"),
    ("3", "Analysis", "indeterminate"),
    ("4", "In Progress", "indeterminate"),
    ("5", "Blocked", "indeterminate"),
    ("6", "Reopened", "indeterminate"),
    ("7", "Ready for Review", "indeterminate"),
    ("8", "In Review", "indeterminate"),
    ("9", "Ready for Test", "indeterminate"),
    ("10", "Testing", "indeterminate"),
    ("11", "Done", "done"),
    ("12", "Won't Do", "done"),
]

RAW_TABLES = (
    "jira_issues",
    "jira_status_changes",
    "servicenow_records",
    "servicenow_state_changes",
)


def generate_raw(con: duckdb.DuckDBPyConnection, items: int, per_item: int = 10) -> dict[str, int]:
    """Fill the raw tables with `items` items, `per_item` status changes per JIRA issue on
    average; returns the row count of each raw table written."""
    n_jira = int(items * JIRA_SHARE)
    n_snow = items - n_jira
    statuses = ", ".join(
        f"('{i}', '{n.replace(chr(39), chr(39) * 2)}', '{c}')" for i, n, c in STATUSES
    )
    template = resources.files("sandbox").joinpath("sql", "warehouse_gen.sql").read_text("utf-8")
    sql = template.format(statuses=statuses, n_jira=n_jira, n_snow=n_snow)
    if per_item != 10:  # mean transitions per JIRA issue = (max + 1) / 2
        sql = sql.replace("(hash(i, 'k') % 19)", f"(hash(i, 'k') % {2 * per_item - 1})")
    for stmt in [s for s in sql.split(";\n") if s.strip()]:
        con.execute(stmt, {"as_of": AS_OF} if "$as_of" in stmt else None)
    return {
        t: con.execute(f"select count(*) from raw.{t}").fetchone()[0]  # noqa: S608 - fixed names
        for t in RAW_TABLES
    }
