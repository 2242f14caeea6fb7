"""`sync_servicenow`: one incremental (or full) sync of the configured ServiceNow tables.

Order of work: plan a window per table from its cursor; then, in ONE transaction, read every
table (records, history, deletions, labels) and the assignment groups -- each records page and
each sys_audit page lands as soon as it is mapped (`land.BatchLander`; DuckDB writes while the
prefetch thread reads the next page) -- land the rest and move the cursors. Any failure before
the commit (or a kill) rolls all of it back: the warehouse and the cursors stay as they were,
and a 'failed' row per stream goes to raw.sync_runs.

A backfill (a table's first sync, or `--full`) is the exception: its records and sys_audit
scans commit every `sync.backfill_chunk_rows` rows with a resume point (connectors/backfill.py),
so a kill loses at most one chunk and the next run goes on from there; the last chunk (labels,
groups, tombstones, cursors) commits as before. The run's shape -- clock, run id, success and
failure records, quarantine -- is the shared scaffold's (connectors/run.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import duckdb

from connectors import backfill
from connectors.http import RetryPolicy
from connectors.result import (
    Progress,
    SourceError,
    SourceNotConfigured,
    StreamResult,
    SyncResult,
    no_progress,
)
from connectors.run import (
    Run,
    StreamOutcome,
    bounded_memory,
    insert_quarantine,
    record_failure,
    record_success,
)
from connectors.secrets import describe
from connectors.servicenow import land
from connectors.servicenow.catalogue import load_catalogue
from connectors.servicenow.client import ServiceNowClient
from connectors.servicenow.fetch import SOURCE, TableFetch, TableReader
from connectors.servicenow.paging import clamp_page_size
from connectors.servicenow.query import validate_scope
from connectors.servicenow.settings import ServiceNowSettings
from connectors.state import SyncWindow, plan_window, read_cursor
from models.config import FlowConfig
from warehouse.db import transaction

log = logging.getLogger(__name__)

#: DuckDB's memory limit during a ServiceNow sync (`FLOW_SYNC_MEMORY_LIMIT` overrides). Half the
#: scaffold's 128 MiB: the run writes in batches of <= 24 MiB of Arrow (`land.FLUSH_BYTES`) and
#: reads back only small indexes, so a larger cache only kept blocks nobody reads again. At 1M
#: incidents it took the sync's share from 333 to 261 MiB at slightly less client CPU (240 ->
#: 228 s), at 20k from 228-239 to 196-198 MiB (docs/benchmarks.md). JIRA keeps 128 MiB: its
#: chunk goes in as one insert, which cost 12 % more CPU at 64 MiB.
SYNC_MEMORY_LIMIT = "64MiB"


def sync_servicenow(
    con: duckdb.DuckDBPyConnection,
    settings: ServiceNowSettings | None,
    cfg: FlowConfig,
    full: bool = False,
    run_started_at: datetime | None = None,
    progress: Progress = no_progress,
    policy: RetryPolicy | None = None,
) -> SyncResult:
    """Sync incidents (and change requests, problems) with their state history.

    Args:
        con: warehouse connection (raw tables bootstrapped).
        settings: from `ServiceNowSettings.from_env`; None means not configured.
        cfg: the `FlowConfig` (sources.servicenow.*, sync.*).
        full: ignore the cursors and re-read everything.
        run_started_at: the run's clock (tests and the sandbox pass a simulated one).
        progress: called after each page with (source, stream, message, records so far).
        policy: retry policy for the HTTP layer (tests inject a recording sleep).

    Raises:
        SourceNotConfigured: settings is None.
        SourceError: anything that stops the sync; the message names the setting or table
            at fault and never the password. Nothing is landed then.
    """
    if settings is None:
        raise SourceNotConfigured(
            "ServiceNow is not configured (set SERVICENOW_URL, SERVICENOW_USER and "
            "SERVICENOW_PASSWORD)"
        )
    snow_cfg = cfg.sources.servicenow
    sync_cfg = cfg.sync
    run = Run.start(SOURCE, run_started_at, whole_seconds=True)
    started = run.started_at
    tables: list[str] = list(snow_cfg.tables) or ["incident"]
    if "incident" not in tables:
        tables.insert(0, "incident")
    resumed = backfill.load(con, SOURCE)
    windows = {
        t: plan_window(
            read_cursor(con, SOURCE, t),
            started,
            overlap=timedelta(minutes=sync_cfg.overlap_minutes),
            lag=timedelta(minutes=sync_cfg.lag_minutes),
            full=full,
        )
        for t in tables
    }
    if resumed is not None:
        # a backfill under way: finish the same one (same window end) from its resume point
        windows = {t: SyncWindow(None, resumed.window_end, "full") for t in tables}
        log.info(
            "servicenow: resuming the backfill of run %s after %d chunks (%d rows) at %s",
            resumed.run_id,
            resumed.chunks,
            resumed.rows_landed,
            resumed.resume,
        )
    client: ServiceNowClient | None = None
    try:
        scope = validate_scope(snow_cfg.query)
        client = ServiceNowClient(settings, verify=snow_cfg.verify_tls, policy=policy)
        # ONE transaction for the whole run: batches land as they are read, yet a failure
        # anywhere rolls all of it back, so readers see last night's raw layer or tonight's.
        # (read before BEGIN: read_state leaves its result unfinished, and inside the
        # transaction DuckDB then refuses the next `register`)
        catalogue = load_catalogue(
            con, tables, timedelta(days=sync_cfg.census_days), run.clock.now()
        )
        with bounded_memory(con, SYNC_MEMORY_LIMIT), transaction(con):
            # records' synced_at: when this run began landing (one instant for the run)
            lander = land.BatchLander(con, run.clock.now())
            fetches: list[TableFetch] = []
            chunks = None
            if resumed is not None or any(w.is_full for w in windows.values()):
                chunks = _ChunkCommitter(
                    backfill.Chunks(
                        con,
                        run,
                        next(w.end for w in windows.values() if w.is_full),
                        chunk_rows=sync_cfg.backfill_chunk_rows,
                        resumed=resumed,
                    ),
                    lander,
                    run,
                    fetches,
                )
            reader = TableReader(
                client,
                settings,
                scope=scope,
                page_size=clamp_page_size(sync_cfg.page_size),
                progress=progress,
                sink=lander,
                chunks=chunks,
                resume=resumed.resume if resumed else None,
                extra_fields={"change_request": cfg.links.change_request_fields},
            )
            # observed history compares with the state stored BEFORE this run's copies landed
            got, groups = reader.read_all(tables, windows, lander.prior, catalogue, fetches)
            warnings: list[str] = [w for f in got for w in f.warnings]
            result = _land(con, run, got, groups, warnings)
    except SourceError as exc:
        record_failure(con, run, windows, str(exc))
        raise
    except Exception as exc:
        # Never str(exc): an unexpected exception's text may carry a header or a URL.
        detail = describe(exc, [settings.password], [settings.user])
        message = f"ServiceNow sync failed: {detail}"
        record_failure(con, run, windows, message)
        raise SourceError(message) from None
    finally:
        if client is not None:
            client.close()
    for w in warnings:
        log.warning("servicenow: %s", w)
    return result


class _ChunkCommitter:
    """Ends a backfill chunk: lands what is staged and the quarantined records, then commits
    with the resume point (`backfill.Chunks`); the lander forgets the chunk's ids."""

    def __init__(
        self, chunks: backfill.Chunks, lander: land.BatchLander, run: Run, fetches: list[TableFetch]
    ) -> None:
        self.chunks, self.lander, self.run, self.fetches = chunks, lander, run, fetches

    def add(self, rows: int) -> bool:
        return self.chunks.add(rows)

    @property
    def committed(self) -> int:
        return self.chunks.committed

    def commit(self, resume: backfill.ResumePoint) -> None:
        self.lander.flush()
        now = self.run.clock.now()
        for f in self.fetches:
            f.quarantined_landed += insert_quarantine(self.lander.con, self.run, f.quarantined, now)
            f.quarantined = []
            f.records = []  # landed: from now on the backfill holds no records
        self.chunks.commit(resume)
        self.lander.new_chunk()


def _land(
    con: duckdb.DuckDBPyConnection,
    run: Run,
    fetches: Sequence[TableFetch],
    groups: Sequence[dict[str, object]] | None,
    warnings: list[str],
) -> SyncResult:
    """What is left once records and sys_audit history are in (inside the run's transaction):
    fallback history, labels, tombstones, quarantine, cursors, run records, groups."""
    finished = run.clock.now()
    result = SyncResult(source=SOURCE, run_id=run.run_id, warnings=warnings)
    for f in fetches:
        records = f.record_count  # landed page by page (one row per sys_id)
        # sys_audit rows landed page by page (one per change_id); metric_instance / observed
        # history is computed after its scan and lands here
        histories = f.history_rows if f.changes_landed else land.land_changes(con, f.changes)
        land.land_field_changes(con, f.field_changes)  # when no sink took them
        if f.choices is not None:
            land.land_choices(con, f.table, f.choices, finished)
        deleted = land.apply_tombstones(con, f.table, f.deletions)
        f.quarantined_landed += insert_quarantine(con, run, f.quarantined, finished)
        f.quarantined = []
        record_success(
            con,
            run,
            StreamOutcome(
                f.table,
                f.window,
                records=records,
                histories=histories,
                deleted=deleted,
                requests=f.requests,
                census=f.catalogue_read,
            ),
            finished,
        )
        if f.approximate_since is not None:
            land.mark_history_approximate(con, f.table, f.approximate_since)
        result.streams.append(
            StreamResult(
                source=SOURCE,
                stream=f.table,
                mode=f.window.mode,
                window_start=f.window.start,
                window_end=f.window.end,
                records=records,
                histories=histories,
                deleted=deleted,
                quarantined=f.quarantined_count,
                requests=f.requests,
                seconds=f.seconds,
            )
        )
    if groups is not None:
        land.land_groups(con, groups, finished)
    # complete: no backfill under way any more (the cursors moved in this same transaction)
    con.execute("delete from raw.backfill_state where source = ?", [SOURCE])
    return result
