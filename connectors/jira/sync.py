"""sync_jira: one incremental (or full) JIRA sync, landed in one transaction.

Split along the shared run scaffold (connectors/run.py): `extract.py` reads and stages,
`land.py` writes, `catalogue.py` handles statuses, counts and the census; this module runs
them in the run's transaction and records the outcome.

Order of work: read the window from the cursor; on a full sync (or when the stored catalogue is
older than `sync.census_days`) fetch the status catalogue; page the search and, every 1000
issues, fetch their complete status histories (one bulkfetch call on Cloud) -- these requests
on two background threads (search pages one page ahead of the history requests, which keep a
batch or two ahead: `prefetch.prefetched`, see `_fetch`), while this thread maps each batch to
rows, checks it and stages it as Arrow columns; re-read per issue
what bulkfetch left short; re-read the catalogue when an issue is in a status the warehouse does
not know; ask JIRA's count for the scope and take the id census when it differs from the
warehouse's (or when due), confirm its deletion candidates and read back what the warehouse
lacks (`catalogue.deletions`, `connectors.jira.deletions`); then land statuses, issues, status
changes, quarantine, deletions, the source count, the run record and the cursor. All of it
happens inside ONE transaction opened before the first request (staged rows are written at the
end, or every `FLUSH_ROWS` on a very large sync), so a failure anywhere rolls everything back:
the warehouse stays as it was (plus a 'failed' run row) and the next run re-reads the same
window.

A backfill (the first sync, or `--full`) is the exception: every `sync.backfill_chunk_rows`
staged rows it lands and COMMITs them with a resume point -- the `updated` instant (ms) from
which the search must go on (connectors/backfill.py) -- so a kill loses at most one chunk and
the next run searches `updated >= resume` within the same window end. The run's shape (clock,
run id, success and failure records, quarantine) is the shared scaffold's (connectors/run.py).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import duckdb

from connectors import backfill
from connectors.http import RequestStats, RetryPolicy
from connectors.jira import catalogue, extract, land
from connectors.jira.errors import explain
from connectors.jira.extract import SOURCE, STREAM
from connectors.jira.settings import JiraSettings
from connectors.result import Progress, StreamResult, SyncResult, no_progress
from connectors.run import Run, StreamOutcome, bounded_memory, record_failure, record_success
from connectors.state import SyncWindow, plan_window, read_state
from models.config import FlowConfig
from warehouse.db import transaction

log = logging.getLogger(__name__)

__all__ = ["SOURCE", "STREAM", "sync_jira"]


def sync_jira(
    con: duckdb.DuckDBPyConnection,
    settings: JiraSettings,
    cfg: FlowConfig,
    full: bool = False,
    run_started_at: datetime | None = None,
    progress: Progress = no_progress,
    policy: RetryPolicy | None = None,
) -> SyncResult:
    """Sync JIRA issues and their complete status history into the raw layer.

    Raises:
        SourceError: with one clear message; nothing landed, cursor unchanged, and a 'failed'
            row in raw.sync_runs.
    """
    run = Run.start(SOURCE, run_started_at)
    started = run.started_at
    sync = cfg.sync
    state = read_state(con, SOURCE, STREAM)
    window = plan_window(
        state.get("cursor_end"),  # type: ignore[arg-type]
        started,
        overlap=timedelta(minutes=sync.overlap_minutes),
        lag=timedelta(minutes=sync.lag_minutes),
        full=full,
    )
    resumed = backfill.load(con, SOURCE)
    search_from: datetime | None = None
    if resumed is not None:
        # a backfill under way: finish the same one (same window end) from its resume point
        window = SyncWindow(None, resumed.window_end, "full")
        if resumed.resume.after:
            search_from = datetime.fromtimestamp(int(resumed.resume.after[0]) / 1000, tz=UTC)
        log.info(
            "JIRA: resuming the backfill of run %s after %d chunks (%d rows) from %s",
            resumed.run_id,
            resumed.chunks,
            resumed.rows_landed,
            search_from,
        )
    census_due = (
        full
        or resumed is not None
        or catalogue.census_due(state.get("last_census_at"), started, sync.census_days)
    )
    stats = RequestStats()
    try:
        # ONE transaction for the whole run (rows a very large sync writes before the end are
        # in it too): a failure anywhere rolls all of it back, so readers see either last
        # night's raw layer or tonight's, never half. A backfill commits its chunks on the way.
        with bounded_memory(con), transaction(con):
            chunks = None
            if window.is_full:
                chunks = backfill.Chunks(
                    con, run, window.end, chunk_rows=sync.backfill_chunk_rows, resumed=resumed
                )
            found = extract.extract(
                con,
                settings,
                cfg,
                window,
                run,
                census_due,
                stats,
                policy,
                progress,
                chunks=chunks,
                search_from=search_from,
            )
            # Times derive from run_started_at, so an injected clock (tests, the sandbox's time
            # travel) keeps cursor, census age and run records consistent with each other.
            synced = run.clock.now()
            # deleted_at = the run's own instant: as_of (= run start by default) must see it
            deleted = land.land_rest(con, found, run)
            record_success(
                con,
                run,
                StreamOutcome(
                    STREAM,
                    window,
                    records=found.issue_count,
                    histories=found.histories,
                    deleted=deleted,
                    requests=stats.requests,
                    census=found.census_ids is not None,
                ),
                synced,
            )
            land.record_count(con, run.run_id, window.end, found, synced)
            con.execute("delete from raw.backfill_state where source = ?", [SOURCE])
    except Exception as exc:
        error = explain(exc, settings)
        log.error("JIRA sync failed: %s", error)
        record_failure(con, run, {STREAM: window}, str(error), requests=stats.requests)
        raise error from None
    seconds = run.clock.elapsed()
    log.info(
        "JIRA sync %s: %d issues, %d histories, %d deleted, %d quarantined, %d requests "
        "(%d retries, %.1fs waited) in %.1fs",
        window.mode,
        found.issue_count,
        found.histories,
        deleted,
        found.quarantined,
        stats.requests,
        stats.retries,
        stats.waited_s,
        seconds,
    )
    stream = StreamResult(
        source=SOURCE,
        stream=STREAM,
        mode=window.mode,
        window_start=window.start,
        window_end=window.end,
        records=found.issue_count,
        histories=found.histories,
        deleted=deleted,
        quarantined=found.quarantined,
        requests=stats.requests,
        seconds=seconds,
    )
    return SyncResult(source=SOURCE, run_id=run.run_id, streams=[stream], warnings=found.warnings)
