"""Landing a JIRA sync inside the run's transaction (the *land* part of `sync_jira`):
staged issues with their whole status history, then statuses, quarantine, deletions and the
count JIRA reported. Run by `sync.py` (and by `extract.py` for staged rows written before the
end: the writer thread, a backfill's chunks)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

import duckdb
import pandas as pd

from connectors.landing import delete_where_in, upsert_frame
from connectors.run import Run, insert_quarantine
from connectors.staging import StagedRows, upsert_latest

if TYPE_CHECKING:
    from connectors.jira.extract import Extract

log = logging.getLogger(__name__)

SOURCE = "jira"
STREAM = "issues"


def land_staged(
    con: duckdb.DuckDBPyConnection,
    issues: StagedRows,
    changes: StagedRows,
    field_changes: StagedRows,
    once: bool = False,
) -> None:
    """Upsert staged issues and replace their whole status history and docs/contract.md §6 field history
    (entries may have gone since an earlier copy was landed). `once`: every issue is staged once (and so, by
    `scan_histories`, each history item), so the rows go in as they are: no latest-copy
    window, ~20 % less landing time at 20k issues."""
    if issues.rows == 0:
        return
    upsert_latest(con, "raw.jira_issues", issues, ["issue_id"], unique=once)
    ids = issues.table().column("issue_id").unique().to_pylist()
    for table, staged in (
        ("raw.jira_status_changes", changes),
        ("raw.jira_field_changes", field_changes),
    ):
        delete_where_in(con, table, "issue_id", ids)
        upsert_latest(
            con,
            table,
            staged,
            ["issue_id", "history_id", "item_index"],
            winners=(issues, "issue_id"),
            tiebreak="source_order",
            unique=once,
        )


def land_rest(con: duckdb.DuckDBPyConnection, found: Extract, run: Run) -> int:
    """Write what is left once the issues are in (statuses, quarantine, census); returns the
    number of issues newly marked deleted."""
    observed = run.started_at
    upsert_frame(con, "raw.jira_statuses", pd.DataFrame(found.statuses), ["status_id"])
    if found.field_catalogue:
        upsert_frame(con, "raw.jira_fields", pd.DataFrame(found.field_catalogue), ["field_id"])
    insert_quarantine(con, run, found.quarantine, run.started_at)
    if not found.census_ids:
        return 0  # no census, or nothing it could affect (see _deletions)
    present = sorted(set(found.census_ids) | set(found.issues))
    con.execute(
        "update raw.jira_issues set is_deleted = false, deleted_at = null"
        " where is_deleted and issue_id in (select unnest(?::varchar[]))",
        [present],
    )
    if not found.gone:
        return 0
    row = con.execute(
        "update raw.jira_issues set is_deleted = true, deleted_at = ?"
        " where not is_deleted and issue_id in (select unnest(?::varchar[]))"
        " returning issue_id",
        [observed, sorted(found.gone)],
    ).fetchall()
    if row:
        log.info("JIRA census: %d issues no longer in scope marked deleted (confirmed)", len(row))
    return len(row)


def record_count(
    con: duckdb.DuckDBPyConnection, run_id: str, end: datetime, found: Extract, at: datetime
) -> None:
    """raw.source_counts: what JIRA counts in scope, for the `matches_source` asset check."""
    if found.source_count is None:
        return
    count, exact = found.source_count
    census = found.census_ids is not None  # else the count was asked and matched
    how = "census" if census else "count" if exact else "approximate count"
    con.execute(
        "insert or replace into raw.source_counts values (?, ?, ?, ?, ?, ?, ?, ?)",
        [SOURCE, STREAM, run_id, at, end, count, found.quarantined_absent, how],
    )
