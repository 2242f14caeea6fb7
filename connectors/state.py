"""Incremental sync bookkeeping in DuckDB: windows, cursors and run records.

The rule that keeps a nightly sync honest: the cursor moves only inside the same transaction
that lands the records, so a failed or killed sync re-reads its window next time and never
skips data. Windows are half-open `[previous end - overlap, run start - lag)`: the overlap
absorbs JIRA's eventually consistent search and same-second ServiceNow updates; upserts by
immutable id make re-reading harmless.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb


@dataclass(frozen=True)
class SyncWindow:
    """The `[start, end)` interval of `updated` times one sync reads; `start` None = everything."""

    start: datetime | None
    end: datetime
    mode: str  # full | incremental

    @property
    def is_full(self) -> bool:
        return self.start is None


def plan_window(
    previous_end: datetime | None,
    run_started_at: datetime,
    *,
    overlap: timedelta,
    lag: timedelta,
    full: bool = False,
) -> SyncWindow:
    """Pure: the window to read this run, from the last committed cursor."""
    end = (run_started_at - lag).astimezone(UTC)
    if full or previous_end is None:
        return SyncWindow(None, end, "full")
    start = min(previous_end - overlap, end).astimezone(UTC)
    return SyncWindow(start, end, "incremental")


def read_cursor(con: duckdb.DuckDBPyConnection, source: str, stream: str) -> datetime | None:
    row = con.execute(
        "select cursor_end from raw.sync_state where source = ? and stream = ?", [source, stream]
    ).fetchone()
    return row[0] if row else None


def read_state(con: duckdb.DuckDBPyConnection, source: str, stream: str) -> dict[str, object]:
    """The whole sync_state row as a dict (empty when the stream never synced)."""
    cur = con.execute(
        "select * from raw.sync_state where source = ? and stream = ?", [source, stream]
    )
    row = cur.fetchone()
    if row is None:
        return {}
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def advance_cursor(
    con: duckdb.DuckDBPyConnection,
    source: str,
    stream: str,
    window: SyncWindow,
    *,
    finished_at: datetime,
    census: bool = False,
) -> None:
    """Move the cursor to `window.end`. Call inside the landing transaction, never outside."""
    con.execute(
        """
        insert into raw.sync_state (source, stream, cursor_end, last_success_at, last_full_at,
                                    last_census_at)
        values (?, ?, ?, ?, ?, ?)
        on conflict (source, stream) do update set
            cursor_end = excluded.cursor_end,
            last_success_at = excluded.last_success_at,
            last_full_at = coalesce(excluded.last_full_at, raw.sync_state.last_full_at),
            last_census_at = coalesce(excluded.last_census_at, raw.sync_state.last_census_at)
        """,
        [
            source,
            stream,
            window.end,
            finished_at,
            finished_at if window.is_full else None,
            finished_at if (census or window.is_full) else None,
        ],
    )


def new_run_id() -> str:
    return uuid.uuid4().hex[:16]


def record_run(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    source: str,
    stream: str,
    window: SyncWindow,
    started_at: datetime,
    finished_at: datetime,
    status: str,
    records: int = 0,
    histories: int = 0,
    deleted: int = 0,
    requests: int = 0,
    error: str | None = None,
) -> None:
    """Append one row to raw.sync_runs (successes in the landing transaction, failures alone)."""
    con.execute(
        "insert into raw.sync_runs values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            source,
            stream,
            window.mode,
            started_at,
            finished_at,
            status,
            window.start,
            window.end,
            records,
            histories,
            deleted,
            requests,
            error,
        ],
    )
