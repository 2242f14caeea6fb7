"""sync_jira: one incremental (or full) JIRA sync, landed in one transaction.

Order of work: read the window from the cursor; on a full sync (or when the stored catalogue is
older than `sync.census_days`) fetch the status catalogue; page the search and, every 1000
issues, fetch their complete status histories (one bulkfetch call on Cloud) -- these requests
on two background threads (search pages one page ahead of the history requests, which keep a
batch or two ahead: `prefetch.prefetched`, see `_fetch`), while this thread maps each batch to
rows, checks it and stages it as Arrow columns; re-read per issue
what bulkfetch left short; re-read the catalogue when an issue is in a status the warehouse does
not know; when due, take an id census; then land statuses, issues, status changes, quarantine,
deletions, the run record and the cursor. All of it happens inside ONE transaction opened
before the first request (staged rows are written at the end, or every `FLUSH_ROWS` on a very
large sync), so a failure anywhere rolls everything back: the warehouse stays as it was (plus a
'failed' run row) and the next run re-reads the same window.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from connectors.http import RequestStats, RetryPolicy
from connectors.jira.changelog import (
    BULK_IDS,
    ChangelogFetcher,
    History,
    chain_mismatch,
    check_complete,
)
from connectors.jira.client import JiraClient
from connectors.jira.errors import explain
from connectors.jira.jql import JqlScopeError, build_census_jql, build_issue_jql
from connectors.jira.records import (
    CHANGE_SCHEMA,
    ISSUE_FIELDS,
    ISSUE_SCHEMA,
    ISSUE_STATUS_ID,
    BadRecord,
    check_shape,
    issue_row,
    scan_histories,
    status_row,
)
from connectors.jira.search import iter_issue_pages
from connectors.jira.settings import JiraSettings
from connectors.landing import delete_where_in, registered, upsert_frame
from connectors.prefetch import prefetched
from connectors.result import (
    Progress,
    SourceError,
    StreamResult,
    SyncResult,
    no_progress,
)
from connectors.staging import StagedRows, upsert_latest
from connectors.state import (
    SyncWindow,
    advance_cursor,
    new_run_id,
    plan_window,
    read_state,
    record_run,
)
from connectors.writer import BackgroundWriter
from models.config import FlowConfig
from warehouse.db import transaction

log = logging.getLogger(__name__)

SOURCE = "jira"
STREAM = "issues"
CENSUS_PAGE_CLOUD = 5000
#: Staged rows (issues + status changes) above which they are written before the run ends:
#: roughly 350 MB of Arrow at typical payload sizes (20k issues are ~150k rows, ~100 MB).
FLUSH_ROWS = 500_000


@dataclass
class _Extract:
    """What one run read: rows staged as Arrow columns until they are landed (inside the
    run's transaction), and what the checks and the census need.

    `issues` maps the ids read to their current status id; `copies` numbers every issue copy
    mapped, so a later copy of an issue wins within the staged rows (and a later flush
    replaces an earlier one). `staged_ids` are the issues in the staged rows: fewer ids than
    rows means one is there twice (it moved between search pages), and only then must landing
    choose the latest copy, the costlier statement.
    """

    issues: dict[str, str | None] = field(default_factory=dict)
    copies: int = 0
    issue_rows: StagedRows = field(default_factory=lambda: StagedRows(ISSUE_SCHEMA))
    change_rows: StagedRows = field(default_factory=lambda: StagedRows(CHANGE_SCHEMA))
    staged_ids: set[str] = field(default_factory=set)
    landed_histories: dict[str, int] = field(default_factory=dict)
    reread: dict[str, dict[str, Any]] = field(default_factory=dict)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    census_ids: list[str] | None = None
    warnings: list[str] = field(default_factory=list)

    def take_rows(self) -> tuple[StagedRows, StagedRows, bool]:
        """The staged (issue, status-change) rows and whether each issue is in them once,
        leaving empty ones in their place."""
        taken = self.issue_rows, self.change_rows, len(self.staged_ids) == self.issue_rows.rows
        self.issue_rows = StagedRows(ISSUE_SCHEMA)
        self.change_rows = StagedRows(CHANGE_SCHEMA)
        self.staged_ids = set()
        return taken

    @property
    def histories(self) -> int:
        return sum(self.landed_histories.values())


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
    started = (run_started_at or datetime.now(UTC)).astimezone(UTC)
    clock = time.monotonic()
    run_id = new_run_id()
    sync = cfg.sync
    state = read_state(con, SOURCE, STREAM)
    window = plan_window(
        state.get("cursor_end"),  # type: ignore[arg-type]
        started,
        overlap=timedelta(minutes=sync.overlap_minutes),
        lag=timedelta(minutes=sync.lag_minutes),
        full=full,
    )
    census_due = full or _census_due(state.get("last_census_at"), started, sync.census_days)
    stats = RequestStats()
    try:
        # ONE transaction for the whole run (rows a very large sync writes before the end are
        # in it too): a failure anywhere rolls all of it back, so readers see either last
        # night's raw layer or tonight's, never half.
        with transaction(con):
            found = _extract(
                con, settings, cfg, window, started, census_due, stats, policy, progress
            )
            # Times derive from run_started_at, so an injected clock (tests, the sandbox's time
            # travel) keeps cursor, census age and run records consistent with each other.
            synced = started + timedelta(seconds=time.monotonic() - clock)
            # deleted_at = the run's own instant: as_of (= run start by default) must see it
            deleted = _land(con, found, started, run_id)
            record_run(
                con,
                run_id=run_id,
                source=SOURCE,
                stream=STREAM,
                window=window,
                started_at=started,
                finished_at=synced,
                status="success",
                records=len(found.issues),
                histories=found.histories,
                deleted=deleted,
                requests=stats.requests,
            )
            advance_cursor(
                con, SOURCE, STREAM, window, finished_at=synced, census=found.census_ids is not None
            )
    except Exception as exc:
        error = explain(exc, settings)
        log.error("JIRA sync failed: %s", error)
        finished = started + timedelta(seconds=time.monotonic() - clock)
        _record_failure(con, run_id, window, started, finished, stats, str(error))
        raise error from None
    seconds = time.monotonic() - clock
    log.info(
        "JIRA sync %s: %d issues, %d histories, %d deleted, %d quarantined, %d requests "
        "(%d retries, %.1fs waited) in %.1fs",
        window.mode, len(found.issues), found.histories, deleted, len(found.quarantine),
        stats.requests, stats.retries, stats.waited_s, seconds,
    )
    stream = StreamResult(
        source=SOURCE,
        stream=STREAM,
        mode=window.mode,
        window_start=window.start,
        window_end=window.end,
        records=len(found.issues),
        histories=found.histories,
        deleted=deleted,
        quarantined=len(found.quarantine),
        requests=stats.requests,
        seconds=seconds,
    )
    return SyncResult(source=SOURCE, run_id=run_id, streams=[stream], warnings=found.warnings)


def _census_due(last: object, now: datetime, days: float) -> bool:
    if not isinstance(last, datetime):
        return True
    return now - last >= timedelta(days=days)


def _extract(
    con: duckdb.DuckDBPyConnection,
    settings: JiraSettings,
    cfg: FlowConfig,
    window: SyncWindow,
    started: datetime,
    census_due: bool,
    stats: RequestStats,
    policy: RetryPolicy | None,
    progress: Progress,
) -> _Extract:
    scope = cfg.sources.jira.jql
    try:
        jql = build_issue_jql(scope, window.start, window.end)
        census_jql = build_census_jql(scope, started)
    except JqlScopeError as exc:
        raise SourceError(str(exc)) from None
    found = _Extract()
    client = JiraClient(
        settings, verify_tls=cfg.sources.jira.verify_tls, policy=policy, stats=stats
    )
    log.info("JIRA %s at %s: %s sync, %s", client.deployment, settings.url, window.mode, jql)
    now = started
    known = _known_statuses(con, now, cfg.sync.census_days, force=window.is_full)
    if known is None:
        found.statuses = _read_statuses(client, now)
    fetcher = ChangelogFetcher(client, found.warnings)
    expand = None if client.is_cloud else "changelog"
    search = iter_issue_pages(
        client,
        jql,
        fields=ISSUE_FIELDS,
        page_size=cfg.sync.page_size,
        expand=expand,
        warnings=found.warnings,
    )
    # Requests run on the prefetch threads (they own `client` until the loop ends), mapping
    # here; rows are staged as Arrow and written in as few statements as memory allows: one
    # at the end for up to FLUSH_ROWS rows (per-batch statements cost DuckDB ~3x the CPU and
    # a slow commit), else every FLUSH_ROWS on the writer thread (it owns `con` until the
    # `with` ends), so a very large full sync keeps bounded memory. All in the one transaction.
    with BackgroundWriter(depth=2, name="jira-writer") as writer:
        for item in prefetched(_fetch(search, fetcher), depth=2, name="jira-prefetch"):
            if item[0] == "page":
                _, pages, size, read = item
                progress(SOURCE, STREAM, f"page {pages}: {size} issues", read)
            else:
                _, batch, histories = item
                _collect(found, batch, histories, settings.url, now)
                if found.issue_rows.rows + found.change_rows.rows >= FLUSH_ROWS:
                    writer.submit(_land_staged, con, *found.take_rows())
    if found.reread:
        # bulkfetch reports no total: re-read those issues by a route that does
        pending = list(found.reread.values())
        found.reread.clear()
        _collect(found, pending, fetcher.reread(pending), settings.url, now, final=True)
    _land_staged(con, *found.take_rows())
    progress(SOURCE, STREAM, f"{len(found.issues)} issues with status history", len(found.issues))
    if known is not None:
        unknown = set(found.issues.values()) - known - {None}
        if unknown:
            log.info("JIRA: status ids %s not in raw.jira_statuses; re-reading the catalogue",
                     sorted(unknown)[:10])
            found.statuses = _read_statuses(client, now)
    if census_due:
        found.census_ids = _census(con, client, census_jql, found, cfg.sync.page_size)
    return found


def _fetch(
    search: Iterator[list[dict[str, Any]]], fetcher: ChangelogFetcher
) -> Iterator[tuple[Any, ...]]:
    """The requests of a sync, in order: ("page", n, size, read so far) after each search page,
    ("batch", issues, histories) for every `BULK_IDS` issues and for the rest at the end.

    Search pages are read on their own thread, one page ahead of the history requests, so the
    next search page and the current batch's bulkfetch are in flight together: the server
    never waits for us to read and parse an answer before it gets the next question (on the
    sandbox that took the fetch chain from ~1.2x to ~0.9x of a one-request-at-a-time loop;
    against JIRA Cloud's per-request latency it saves more). Both threads share the client's
    session: urllib3's pool and the cookie jar lock for themselves, `RequestStats` counts
    under a lock, and no request is shared. Closing this generator stops the search thread
    before its next request and waits for it.
    """
    pending: list[dict[str, Any]] = []
    read = 0
    with closing(prefetched(search, depth=1, name="jira-search")) as pages:
        for count, page in enumerate(pages, start=1):
            pending.extend(page)
            read += len(page)
            yield ("page", count, len(page), read)
            while len(pending) >= BULK_IDS:
                batch, pending = pending[:BULK_IDS], pending[BULK_IDS:]
                yield ("batch", batch, fetcher.fetch(_well_formed(batch)))
    if pending:
        yield ("batch", pending, fetcher.fetch(_well_formed(pending)))


def _well_formed(issues: list[Any]) -> list[dict[str, Any]]:
    """The issues whose history is worth a request (the rest are quarantined by `_collect`)."""
    out = []
    for issue in issues:
        try:
            check_shape(issue)
        except BadRecord:
            continue
        out.append(issue)
    return out


def _known_statuses(
    con: duckdb.DuckDBPyConnection, now: datetime, max_age_days: float, *, force: bool
) -> set[str] | None:
    """The status ids in raw.jira_statuses, or None when the catalogue must be read now: on a
    full sync, when the table is empty, or when it is older than `max_age_days`."""
    if force:
        return None
    rows = con.execute("select status_id, synced_at from raw.jira_statuses").fetchall()
    if not rows:
        return None
    newest = max(r[1] for r in rows)
    if newest is None or now - newest >= timedelta(days=max_age_days):
        return None
    return {r[0] for r in rows}


def _read_statuses(client: JiraClient, now: datetime) -> list[dict[str, Any]]:
    return [
        row for row in (status_row(s, now) for s in client.get("/rest/api/2/status") or []) if row
    ]


def _collect(
    found: _Extract,
    issues: list[dict[str, Any]],
    histories: dict[str, History],
    base_url: str,
    synced_at: datetime,
    *,
    final: bool = False,
) -> None:
    """Check the batch's histories and stage it as issue and status-change rows (Arrow
    columns, converted now while the next page is on the wire); later copies of an issue win.

    A bulkfetch history that does not reach the issue's current status is set aside in
    `found.reread` (unless `final`: it already was re-read); complete-by-count but still
    inconsistent histories land with a warning.
    """
    issue_rows: list[tuple[Any, ...]] = []
    issue_seqs: list[int] = []
    change_rows: list[tuple[Any, ...]] = []
    change_seqs: list[int] = []
    for issue in issues:
        bad: list[tuple[str, str, dict[str, Any]]] = []
        try:
            check_shape(issue)  # first: what follows may then trust the JSON types
            issue_id = str(issue["id"])
            got = histories.get(issue_id)
            if got is None:
                raise BadRecord("issue without an id")
            check_complete(issue, got)
            scan = scan_histories(issue_id, got.histories, bad)
            mismatch = chain_mismatch(issue, got, scan.last_item, scan.last_created)
            if mismatch and got.route == "bulkfetch" and not final:
                found.reread[issue_id] = issue
                continue
            found.reread.pop(issue_id, None)  # this later copy wins over one set aside
            row = issue_row(
                issue,
                base_url=base_url,
                synced_at=synced_at,
                changelog_total=got.total,
                status_histories=scan.status_histories,
            )
        except BadRecord as exc:
            bad.append((_record_key(issue), str(exc), issue))
            found.quarantine.extend(_quarantine_row(k, r, p, synced_at) for k, r, p in bad)
            continue
        if mismatch:
            # Complete by JIRA's own count, yet not ending in the current status (imported
            # or migrated issues): land it and let the history_complete check show it.
            message = f"JIRA history of {issue.get('key')} (id {issue_id}): {mismatch}"
            log.warning(message)
            found.warnings.append(message)
        found.quarantine.extend(_quarantine_row(k, r, p, synced_at) for k, r, p in bad)
        found.copies += 1
        found.issues[issue_id] = row[ISSUE_STATUS_ID]
        found.landed_histories[issue_id] = scan.landed
        found.staged_ids.add(issue_id)
        issue_rows.append(row)
        issue_seqs.append(found.copies)
        change_rows.extend(scan.rows)
        change_seqs.extend([found.copies] * len(scan.rows))
    found.issue_rows.add(issue_rows, issue_seqs)
    found.change_rows.add(change_rows, change_seqs)


def _record_key(issue: Any) -> str:
    """The id (else the key) a quarantined issue is filed under, whatever its shape."""
    if not isinstance(issue, dict):
        return ""
    for name in ("id", "key"):
        value = issue.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
            return str(value)
    return ""


def _land_staged(
    con: duckdb.DuckDBPyConnection, issues: StagedRows, changes: StagedRows, once: bool = False
) -> None:
    """Upsert staged issues and replace their whole status history (entries may have gone
    since an earlier copy was landed). `once`: every issue is staged once (and so, by
    `scan_histories`, each history item), so the rows go in as they are: no latest-copy
    window, ~20 % less landing time at 20k issues."""
    if issues.rows == 0:
        return
    upsert_latest(con, "raw.jira_issues", issues, ["issue_id"], unique=once)
    ids = issues.table().column("issue_id").unique().to_pylist()
    delete_where_in(con, "raw.jira_status_changes", "issue_id", ids)
    upsert_latest(
        con,
        "raw.jira_status_changes",
        changes,
        ["issue_id", "history_id", "item_index"],
        winners=(issues, "issue_id"),
        tiebreak="source_order",
        unique=once,
    )


def _quarantine_row(key: str, reason: str, payload: Any, seen_at: datetime) -> dict[str, Any]:
    log.warning("JIRA record %s quarantined: %s", key or "(no id)", reason)
    return {
        "source": SOURCE,
        "stream": STREAM,
        "record_key": key or None,
        "reason": reason,
        "payload": json.dumps(payload, separators=(",", ":"), default=str),
        "seen_at": seen_at,
    }


def _census(
    con: duckdb.DuckDBPyConnection,
    client: JiraClient,
    jql: str,
    found: _Extract,
    page_size: int,
) -> list[str] | None:
    """All issue ids in scope, or None when nothing in the warehouse could be affected.

    Skipped (free) when every stored issue was re-read in this run, e.g. a first full sync.
    """
    row = con.execute(
        "select count(*) from raw.jira_issues where issue_id not in (select unnest(?::varchar[]))",
        [list(found.issues)],
    ).fetchall()  # fetch to the end: the run's transaction goes on on this connection
    if not row or row[0][0] == 0:
        return []
    ids: list[str] = []
    size = CENSUS_PAGE_CLOUD if client.is_cloud else page_size
    for page in iter_issue_pages(client, jql, fields=["id"], page_size=size, warnings=found.warnings):
        ids.extend(str(i["id"]) for i in page if i.get("id"))
    log.info("JIRA census: %d issue ids in scope", len(ids))
    if not ids and not found.issues:
        message = (
            "JIRA census found no issues in scope although the warehouse holds some: "
            "deletions were NOT marked (lost Browse permission looks the same)"
        )
        log.warning(message)
        found.warnings.append(message)
    return ids


def _land(con: duckdb.DuckDBPyConnection, found: _Extract, observed: datetime, run_id: str) -> int:
    """Write what is left once the issues are in (statuses, quarantine, census); returns the
    number of issues newly marked deleted."""
    upsert_frame(con, "raw.jira_statuses", pd.DataFrame(found.statuses), ["status_id"])
    if found.quarantine:
        frame = pd.DataFrame(found.quarantine).assign(run_id=run_id)
        with registered(con, "_jira_quarantine", frame):
            con.execute(
                "insert into raw.quarantine (source, stream, record_key, reason, payload, run_id,"
                " seen_at) select source, stream, record_key, reason, payload, run_id, seen_at"
                " from _jira_quarantine"
            )
    if not found.census_ids:
        return 0  # no census, or nothing it could affect (see _census)
    present = sorted(set(found.census_ids) | set(found.issues))
    con.execute(
        "update raw.jira_issues set is_deleted = false, deleted_at = null"
        " where is_deleted and issue_id in (select unnest(?::varchar[]))",
        [present],
    )
    row = con.execute(
        "update raw.jira_issues set is_deleted = true, deleted_at = ?"
        " where not is_deleted and issue_id not in (select unnest(?::varchar[]))"
        " returning issue_id",
        [observed, present],
    ).fetchall()
    if row:
        log.info("JIRA census: %d issues no longer in JIRA marked deleted", len(row))
    return len(row)


def _record_failure(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    window: SyncWindow,
    started: datetime,
    finished: datetime,
    stats: RequestStats,
    error: str,
) -> None:
    try:
        with transaction(con):
            record_run(
                con,
                run_id=run_id,
                source=SOURCE,
                stream=STREAM,
                window=window,
                started_at=started,
                finished_at=finished,
                status="failed",
                requests=stats.requests,
                error=error,
            )
    except duckdb.Error:
        log.exception("could not record the failed JIRA run")
