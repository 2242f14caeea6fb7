"""The run scaffold both connectors share: clock, run id, run records, quarantine, chunks.

Why one scaffold: a sync of either source has the same shape -- one clock for the run, one run
id, rows landed inside a transaction, a success record and a cursor move in that same
transaction, a failure record written on its own after a rollback, quarantined records kept
with their payload -- and a backfill additionally commits in chunks, each with its resume
point (`connectors.backfill`). Solved once here, the two connectors cannot drift apart on the
rules that keep a warehouse honest (a cursor never passes unlanded data; a failed run leaves a
'failed' row; secrets never reach a record).

Times: `RunClock.started_at` is the run's one start instant (injected in tests and by the
sandbox's time travel); every stamp a run writes (synced_at, finished_at, seen_at, census
times) is `clock.now()` = that start plus the monotonic time elapsed since, so an injected
clock keeps cursors, census ages and run records consistent with each other.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from connectors.landing import registered
from connectors.memory import system_arrow_pool
from connectors.state import SyncWindow, advance_cursor, record_run
from warehouse.db import DEFAULT_MEMORY_LIMIT

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunClock:
    """One start instant for the run; `now()` moves on from it with the monotonic clock."""

    started_at: datetime
    _t0: float = field(default_factory=time.monotonic, repr=False, compare=False)

    @classmethod
    def start(
        cls, run_started_at: datetime | None = None, *, whole_seconds: bool = False
    ) -> RunClock:
        """The clock of a run that starts now (or at the injected instant); `whole_seconds`
        drops the microseconds (ServiceNow's timestamps have none: its windows end on one)."""
        started = (run_started_at or datetime.now(UTC)).astimezone(UTC)
        return cls(started.replace(microsecond=0) if whole_seconds else started)

    def now(self) -> datetime:
        return self.started_at + timedelta(seconds=self.elapsed())

    def elapsed(self) -> float:
        """Seconds since the run started (monotonic: immune to wall-clock jumps)."""
        return time.monotonic() - self._t0


@dataclass(frozen=True)
class Run:
    """Who is running: the source, a run id shared by every row the run writes, its clock."""

    source: str
    run_id: str
    clock: RunClock

    @classmethod
    def start(
        cls, source: str, run_started_at: datetime | None = None, *, whole_seconds: bool = False
    ) -> Run:
        return cls(
            source,
            uuid.uuid4().hex[:16],
            RunClock.start(run_started_at, whole_seconds=whole_seconds),
        )

    @property
    def started_at(self) -> datetime:
        return self.clock.started_at


#: DuckDB's memory limit while a sync writes, unless the connector asks for its own. Why: DuckDB
#: keeps the blocks it writes cached up to its limit (2GB for the table builds, warehouse/db.py),
#: so under the builds' limit a backfill's resident memory grew with the raw tables (measured at
#: 50k JIRA issues: 640 MiB peak with the builds' limit, 489 MiB with 128MB). Fixed, not grown
#: with the warehouse: since schema v2 the big raw tables carry no primary-key index, the one
#: thing DuckDB must hold in memory while rows go in (warehouse/raw_schema.py); before that the
#: limit had to grow ~200 bytes a raw row, and so did the sync. JIRA runs under it; ServiceNow
#: under 64 MiB (`connectors.servicenow.sync.SYNC_MEMORY_LIMIT`, measured there).
#: `FLOW_SYNC_MEMORY_LIMIT` (any DuckDB size) overrides both.
SYNC_MEMORY_LIMIT = "128MiB"


def sync_memory_limit(default: str = SYNC_MEMORY_LIMIT) -> str:
    """The memory limit for a sync's statements: `FLOW_SYNC_MEMORY_LIMIT`, else `default`."""
    return os.environ.get("FLOW_SYNC_MEMORY_LIMIT") or default


@contextmanager
def bounded_memory(
    con: duckdb.DuckDBPyConnection, default: str = SYNC_MEMORY_LIMIT
) -> Iterator[None]:
    """Run a sync under `sync_memory_limit(default)`; give the connection its limit back after.

    A sync that ends well is checkpointed before the limit goes back: DuckDB writes its log
    into the database file at the next checkpoint -- at the latest when the connection closes,
    by then under the restored (larger) limit. With a backfill's last chunks in the log that
    cost ~200 MB more than the whole sync at 1M incidents (docs/benchmarks.md); under the
    sync's limit the same checkpoint costs ~70 MB.

    For the same length Arrow allocates from the system pool (`connectors.memory`): its default
    pool kept what the sync's staged batches had freed, and the peak grew with it."""
    before = _memory_limit(con)
    # DuckDB reads its limit back rounded ("2GB" -> "1.8 GiB"): when the connection holds the
    # warehouse's configured limit, restore that exact value rather than the rounded text
    configured = os.environ.get("FLOW_DUCKDB_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT
    con.execute("set memory_limit = ?", [configured])
    if _memory_limit(con) != before:
        configured = before
    con.execute("set memory_limit = ?", [sync_memory_limit(default)])
    try:
        with system_arrow_pool():
            yield
            _checkpoint(con)
    finally:
        try:
            con.execute("set memory_limit = ?", [configured])
        except duckdb.Error:
            log.warning("could not restore DuckDB's memory limit (%s)", configured)


def _checkpoint(con: duckdb.DuckDBPyConnection) -> None:
    """Best effort: a checkpoint DuckDB cannot take now (another transaction open on the
    file) is taken later by DuckDB itself; the sync's data is committed either way."""
    try:
        con.execute("checkpoint")
    except duckdb.Error as exc:
        log.info("checkpoint after the sync deferred to DuckDB: %s", exc)


def _memory_limit(con: duckdb.DuckDBPyConnection) -> str:
    return str(con.execute("select current_setting('memory_limit')").fetchall()[0][0])


@dataclass(frozen=True)
class StreamOutcome:
    """What one stream of a successful run landed: its success record in raw.sync_runs."""

    stream: str
    window: SyncWindow
    records: int = 0
    histories: int = 0
    deleted: int = 0
    requests: int = 0
    #: the status catalogue / id census was read this run (moves last_census_at)
    census: bool = False


def record_success(
    con: duckdb.DuckDBPyConnection,
    run: Run,
    outcome: StreamOutcome,
    finished_at: datetime | None = None,
) -> datetime:
    """The success record and the cursor move of one stream, inside the landing transaction
    (never outside: the cursor must move with the rows). Returns the finish instant used."""
    finished = finished_at or run.clock.now()
    record_run(
        con,
        run_id=run.run_id,
        source=run.source,
        stream=outcome.stream,
        window=outcome.window,
        started_at=run.started_at,
        finished_at=finished,
        status="success",
        records=outcome.records,
        histories=outcome.histories,
        deleted=outcome.deleted,
        requests=outcome.requests,
    )
    advance_cursor(
        con, run.source, outcome.stream, outcome.window, finished_at=finished, census=outcome.census
    )
    return finished


def record_failure(
    con: duckdb.DuckDBPyConnection,
    run: Run,
    windows: Mapping[str, SyncWindow],
    message: str,
    *,
    requests: int = 0,
) -> None:
    """A 'failed' row per stream, written on its own after the run's transaction rolled back.

    `message` must already be secret-free (the connectors' error explainers make it so). A
    warehouse that cannot take even this row is logged, not raised: the caller is already
    raising the failure that matters.
    """
    finished = run.clock.now()
    try:
        for stream, window in windows.items():
            record_run(
                con,
                run_id=run.run_id,
                source=run.source,
                stream=stream,
                window=window,
                started_at=run.started_at,
                finished_at=finished,
                status="failed",
                requests=requests,
                error=message,
            )
    except duckdb.Error:
        log.exception("could not record the failed %s sync in raw.sync_runs", run.source)


@dataclass(frozen=True)
class QuarantineRecord:
    """A record that could not be trusted: kept whole, with the reason, out of `core`."""

    stream: str
    record_key: str | None
    reason: str
    payload: str | None


def dumps_payload(value: Any) -> str:
    """A payload as compact JSON text (for quarantine rows of sources without their own)."""
    return json.dumps(value, separators=(",", ":"), default=str)


def insert_quarantine(
    con: duckdb.DuckDBPyConnection, run: Run, items: Iterable[QuarantineRecord], seen_at: datetime
) -> int:
    """Append quarantined records to raw.quarantine (inside the landing transaction)."""
    rows = list(items)
    if not rows:
        return 0
    frame = pd.DataFrame(
        {
            "source": [run.source] * len(rows),
            "stream": [q.stream for q in rows],
            "record_key": pd.Series([q.record_key for q in rows], dtype=object),
            "reason": [q.reason for q in rows],
            "payload": pd.Series([q.payload for q in rows], dtype=object),
            "run_id": [run.run_id] * len(rows),
            "seen_at": pd.Series(
                pd.to_datetime([seen_at] * len(rows), utc=True), dtype="datetime64[us, UTC]"
            ),
        }
    )
    with registered(con, "_quarantine", frame):
        con.execute(
            "insert into raw.quarantine (source, stream, record_key, reason, payload, run_id,"
            " seen_at) select source, stream, record_key, reason, payload, run_id, seen_at"
            " from _quarantine"
        )
    return len(rows)
