"""`sync_servicenow`: one incremental (or full) sync of the configured ServiceNow tables.

Order of work: plan a window per table from its cursor; then, in ONE transaction, read every
table (records, history, deletions, labels) and the assignment groups -- each records page and
each sys_audit page lands as soon as it is mapped (`land.BatchLander`; DuckDB writes while the
prefetch thread reads the next page) -- land the rest and move the cursors. Any failure before
the commit (or a kill) rolls all of it back: the warehouse and the cursors stay as they were,
and a 'failed' row per stream goes to raw.sync_runs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import duckdb

from connectors.http import RetryPolicy
from connectors.result import (
    Progress,
    SourceError,
    SourceNotConfigured,
    StreamResult,
    SyncResult,
    no_progress,
)
from connectors.servicenow import land
from connectors.servicenow.client import ServiceNowClient
from connectors.servicenow.fetch import SOURCE, Catalogue, TableFetch, TableReader
from connectors.servicenow.paging import clamp_page_size
from connectors.servicenow.query import validate_scope
from connectors.servicenow.settings import ServiceNowSettings
from connectors.state import (
    SyncWindow,
    advance_cursor,
    new_run_id,
    plan_window,
    read_cursor,
    read_state,
    record_run,
)
from models.config import FlowConfig
from warehouse.db import transaction

log = logging.getLogger(__name__)


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
    started = (run_started_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    run_id = new_run_id()
    tables: list[str] = list(snow_cfg.tables) or ["incident"]
    if "incident" not in tables:
        tables.insert(0, "incident")
    windows = {
        t: plan_window(
            read_cursor(con, SOURCE, t), started,
            overlap=timedelta(minutes=sync_cfg.overlap_minutes),
            lag=timedelta(minutes=sync_cfg.lag_minutes), full=full,
        )
        for t in tables
    }
    client: ServiceNowClient | None = None
    try:
        scope = validate_scope(snow_cfg.query)
        client = ServiceNowClient(settings, verify=snow_cfg.verify_tls, policy=policy)
        # ONE transaction for the whole run: batches land as they are read, yet a failure
        # anywhere rolls all of it back, so readers see last night's raw layer or tonight's.
        # (read before BEGIN: read_state leaves its result unfinished, and inside the
        # transaction DuckDB then refuses the next `register`)
        catalogue = _catalogue(con, tables, timedelta(days=sync_cfg.census_days))
        with transaction(con):
            # records' synced_at: when this run began landing (one instant for the run)
            lander = land.BatchLander(con, datetime.now(UTC))
            reader = TableReader(client, settings, scope=scope,
                                 page_size=clamp_page_size(sync_cfg.page_size),
                                 progress=progress, sink=lander,
                                 extra_fields={"change_request":
                                               cfg.links.change_request_fields})
            # observed history compares with the state stored BEFORE this run's copies landed
            fetches, groups = reader.read_all(tables, windows, lander.prior, catalogue)
            warnings: list[str] = [w for f in fetches for w in f.warnings]
            result = _land(con, run_id, started, fetches, groups, warnings)
    except SourceError as exc:
        _record_failure(con, run_id, started, windows, str(exc))
        raise
    except Exception as exc:
        message = f"ServiceNow sync failed: {type(exc).__name__}: {exc}"
        _record_failure(con, run_id, started, windows, message)
        raise SourceError(message) from exc
    finally:
        if client is not None:
            client.close()
    for w in warnings:
        log.warning("servicenow: %s", w)
    return result


def _land(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    started: datetime,
    fetches: Sequence[TableFetch],
    groups: Sequence[dict[str, object]] | None,
    warnings: list[str],
) -> SyncResult:
    """What is left once records and sys_audit history are in (inside the run's transaction):
    fallback history, labels, tombstones, quarantine, cursors, run records, groups."""
    finished = datetime.now(UTC)
    result = SyncResult(source=SOURCE, run_id=run_id, warnings=warnings)
    for f in fetches:
        records = len(f.records)  # landed page by page (one row per sys_id)
        # sys_audit rows landed page by page (one per change_id); metric_instance / observed
        # history is computed after its scan and lands here
        histories = (f.history_rows if f.changes_landed
                     else land.land_changes(con, f.changes))
        if f.choices is not None:
            land.land_choices(con, f.table, f.choices, finished)
        deleted = land.apply_tombstones(con, f.table, f.deletions)
        land.land_quarantine(con, f.quarantined, run_id, finished)
        advance_cursor(con, SOURCE, f.table, f.window, finished_at=finished,
                       census=f.catalogue_read)
        if f.approximate_since is not None:
            land.mark_history_approximate(con, f.table, f.approximate_since)
        record_run(con, run_id=run_id, source=SOURCE, stream=f.table, window=f.window,
                   started_at=started, finished_at=finished, status="success",
                   records=records, histories=histories, deleted=deleted,
                   requests=f.requests)
        result.streams.append(StreamResult(
            source=SOURCE, stream=f.table, mode=f.window.mode,
            window_start=f.window.start, window_end=f.window.end, records=records,
            histories=histories, deleted=deleted, quarantined=len(f.quarantined),
            requests=f.requests, seconds=f.seconds,
        ))
    if groups is not None:
        land.land_groups(con, groups, finished)
    return result


def _catalogue(con: duckdb.DuckDBPyConnection, tables: Sequence[str],
               max_age: timedelta) -> Catalogue:
    """The labels and groups already landed, and when each table's were last read.

    `last_census_at` is written with the landing clock (`datetime.now`), so it is aged against
    that clock too, not against a simulated `run_started_at`.
    """
    values: dict[str, set[str]] = {}
    for table, value in con.execute(
            "select table_name, value from raw.servicenow_choices where element = 'state'"
    ).fetchall():
        values.setdefault(table, set()).add(value)
    group_ids: set[str] = {r[0] for r in con.execute(
        "select sys_id from raw.servicenow_groups").fetchall()}
    if values or group_ids:
        # Values already landed on records were checked when they first came (a state
        # sys_choice lacks, a group the user may not read): they trigger no re-read each night.
        for table, value, group in con.execute(
                "select distinct table_name, state, assignment_group_id"
                " from raw.servicenow_records").fetchall():
            if value is not None and table in values:
                values[table].add(value)
            if group is not None and group_ids:
                group_ids.add(group)
    read_at = {t: read_state(con, SOURCE, t).get("last_census_at") for t in tables}
    return Catalogue(
        choice_values={t: frozenset(v) for t, v in values.items()},
        group_ids=frozenset(group_ids),
        read_at={t: v if isinstance(v, datetime) else None for t, v in read_at.items()},
        now=datetime.now(UTC), max_age=max_age,
    )


def _record_failure(con: duckdb.DuckDBPyConnection, run_id: str, started: datetime,
                    windows: Mapping[str, SyncWindow], message: str) -> None:
    try:
        for table, window in windows.items():
            record_run(con, run_id=run_id, source=SOURCE, stream=table, window=window,
                       started_at=started, finished_at=datetime.now(UTC), status="failed",
                       error=message)
    except duckdb.Error:
        log.exception("could not record the failed ServiceNow sync in raw.sync_runs")
