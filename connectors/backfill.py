"""Resumable backfills: a first (or `--full`) sync commits `raw` in chunks, each with its
resume point, so a killed or failed backfill goes on from its last committed chunk (docs/contract.md §5).

How: the sync runs inside `warehouse.db.transaction` as always; every `chunk_rows` rows landed,
the connector flushes what it staged and calls `Chunks.commit(resume)`, which writes the resume
point to raw.backfill_state and COMMITs, then BEGINs the next chunk's transaction. The cursor
(raw.sync_state) does not move until the last chunk: the transaction that lands it also deletes
the raw.backfill_state row and moves the cursor, so `cursor_end` never passes unlanded data.

Next run: a raw.backfill_state row means a backfill is under way. The connector reads the same
window (`window_end` is pinned) from the resume point, re-reading at most what was read after
the last commit (under one chunk plus the pages in flight). Rows are upserted by their ids, so
a re-read changes nothing: the finished backfill equals an uninterrupted one.

While the row exists the backfill is incomplete: `core` and `metrics` must not be built from
such a raw layer (`incomplete`, checked by the pipeline before the core build).

Nightly incremental runs never chunk: their ONE transaction stays as it was.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from connectors.run import Run
from models.crashpoints import crash_point

log = logging.getLogger(__name__)

#: Rows (records + history rows) per committed chunk of a backfill: large enough that commits
#: cost little (each is one small write plus DuckDB's commit), small enough that a kill loses
#: little work and staged rows stay well under the memory ceiling (docs/benchmarks.md).
DEFAULT_CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class ResumePoint:
    """Where a backfill goes on: the phase (connector-defined, e.g. 'records' / 'history'),
    the stream it was reading, and the keyset cursor after the last committed row (JSON)."""

    phase: str
    stream: str | None = None
    after: tuple[Any, ...] | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "phase": self.phase,
                "stream": self.stream,
                "after": list(self.after) if self.after is not None else None,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ResumePoint:
        data = json.loads(text)
        after = data.get("after")
        return cls(data["phase"], data.get("stream"), tuple(after) if after is not None else None)


@dataclass(frozen=True)
class BackfillState:
    """The raw.backfill_state row of a backfill under way."""

    source: str
    window_end: datetime
    resume: ResumePoint
    chunks: int
    rows_landed: int
    run_id: str
    started_at: datetime


def load(con: duckdb.DuckDBPyConnection, source: str) -> BackfillState | None:
    """The backfill of `source` under way, or None."""
    row = con.execute(
        "select window_end, resume, chunks, rows_landed, run_id, started_at"
        " from raw.backfill_state where source = ?",
        [source],
    ).fetchall()
    if not row:
        return None
    end, resume, chunks, rows, run_id, started = row[0]
    return BackfillState(source, end, ResumePoint.from_json(resume), chunks, rows, run_id, started)


def incomplete(con: duckdb.DuckDBPyConnection) -> list[BackfillState]:
    """Every backfill under way (empty when raw is complete for `core`)."""
    return [
        s
        for (src,) in con.execute(
            "select source from raw.backfill_state order by source"
        ).fetchall()
        if (s := load(con, src)) is not None
    ]


class Chunks:
    """Counts the rows landed in the current chunk; `commit` ends the chunk with its resume
    point. Used only by backfills (a full window); the caller owns the open transaction."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        run: Run,
        window_end: datetime,
        *,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        resumed: BackfillState | None = None,
    ) -> None:
        self.con = con
        self.run = run
        self.window_end = window_end
        self.chunk_rows = max(1, chunk_rows)
        self.resumed = resumed
        self.rows_in_chunk = 0
        self.committed = 0  # chunks committed by this run
        self._chunks = resumed.chunks if resumed else 0
        self._rows = resumed.rows_landed if resumed else 0
        self._started = resumed.started_at if resumed else run.started_at

    def add(self, rows: int) -> bool:
        """Count rows handed to the lander; True when the chunk is full (flush, then commit)."""
        self.rows_in_chunk += rows
        return self.rows_in_chunk >= self.chunk_rows

    @property
    def backfill_started(self) -> datetime:
        """When the backfill's first run started (rows it landed are stamped at or after)."""
        return self._started

    def take(self) -> int:
        """The rows counted for the chunk about to commit, restarting the count (for a commit
        made on another thread: pass the result to `commit`)."""
        rows, self.rows_in_chunk = self.rows_in_chunk, 0
        return rows

    def commit(self, resume: ResumePoint, rows: int | None = None) -> None:
        """Record the resume point and commit everything landed so far; begin the next chunk.

        `rows`: the chunk's rows when counted with `take` (a commit on the writer thread)."""
        if rows is None:
            rows = self.take()
        self._chunks += 1
        self._rows += rows
        self.con.execute(
            "insert or replace into raw.backfill_state values (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                self.run.source,
                self.window_end,
                resume.to_json(),
                self._chunks,
                self._rows,
                self.run.run_id,
                self._started,
                self.run.clock.now(),
            ],
        )
        log.info(
            "%s backfill: committing chunk %d (%d rows; %d in all) resume at %s",
            self.run.source,
            self._chunks,
            rows,
            self._rows,
            resume.to_json(),
        )
        crash_point("chunk")  # test-only (FLOWMETRICS_CRASH_AT): just before a chunk commits
        self.con.execute("commit")
        self.con.execute("begin transaction")
        self.committed += 1

    def finish(self) -> None:
        """The backfill is complete: drop its row (in the transaction that moves the cursor)."""
        self.con.execute("delete from raw.backfill_state where source = ?", [self.run.source])
