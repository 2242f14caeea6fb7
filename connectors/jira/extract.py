"""Reading a JIRA sync: search pages, histories, checks and staging (the *extract* part of
`sync_jira`, connectors/jira/sync.py).

The requests run on two background threads (search pages one page ahead of the history
requests, which keep a batch or two ahead: `prefetch.prefetched`, see `_fetch`), while the
calling thread maps each batch to rows, checks it and stages it as Arrow columns; staged rows
are written by `land.land_staged` at the end, every `FLUSH_ROWS` on a very large sync, or --
in a backfill -- every `sync.backfill_chunk_rows`, each chunk committed with its resume point
(connectors/backfill.py). What is read lives in an `Extract`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from connectors import backfill
from connectors.http import RequestStats, RetryPolicy
from connectors.jira import catalogue
from connectors.jira.changelog import (
    BULK_IDS,
    ChangelogFetcher,
    History,
    chain_mismatch,
    check_complete,
)
from connectors.jira.client import JiraClient
from connectors.jira.fields import FIELD_CHANGE_SCHEMA, FieldSelection
from connectors.jira.fields import resolve as resolve_fields
from connectors.jira.jql import JqlScopeError, build_census_jql, build_issue_jql
from connectors.jira.land import land_staged
from connectors.jira.records import (
    CHANGE_SCHEMA,
    ISSUE_FIELDS,
    ISSUE_SCHEMA,
    ISSUE_STATUS_ID,
    BadRecord,
    check_shape,
    issue_row,
    parse_ts,
    scan_histories,
)
from connectors.jira.search import iter_issue_pages, split_order
from connectors.jira.settings import JiraSettings
from connectors.prefetch import prefetched
from connectors.result import Progress, SourceError
from connectors.run import QuarantineRecord, Run, dumps_payload, insert_quarantine
from connectors.staging import StagedRows
from connectors.state import SyncWindow
from connectors.writer import BackgroundWriter
from models.config import FlowConfig

log = logging.getLogger(__name__)

SOURCE = "jira"
STREAM = "issues"
#: Staged rows (issues + status changes) above which they are written before the run ends:
#: roughly 350 MB of Arrow at typical payload sizes (20k issues are ~150k rows, ~100 MB).
FLUSH_ROWS = 500_000
#: ids per `id in (...)` search when the census finds issues the warehouse lacks
RECOVER_BATCH = 100


@dataclass
class Extract:
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
    field_change_rows: StagedRows = field(default_factory=lambda: StagedRows(FIELD_CHANGE_SCHEMA))
    #: docs/contract.md §6 history fields to keep besides status, and the field catalogue read this run
    selection: FieldSelection | None = None
    field_catalogue: list[dict[str, Any]] | None = None
    staged_ids: set[str] = field(default_factory=set)
    landed_histories: dict[str, int] = field(default_factory=dict)
    reread: dict[str, dict[str, Any]] = field(default_factory=dict)
    quarantine: list[QuarantineRecord] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    census_ids: list[str] | None = None
    #: census candidates confirmed gone (`deletions.confirm_gone`): id -> why
    gone: dict[str, str] = field(default_factory=dict)
    #: JIRA's own count of the scope (the census: issues created before the window's end;
    #: else the count of those also last updated before it), and whether it is exact (the
    #: census, Data Center's total) or Cloud's approximate count
    source_count: tuple[int, bool] | None = None
    #: census ids the warehouse lacks (`_recover` reads them)
    missing: list[str] = field(default_factory=list)
    quarantined_absent: int = 0
    warnings: list[str] = field(default_factory=list)
    #: a backfill forgets the issues of each committed chunk (bounded memory) and keeps only
    #: these: their counts, and the status ids seen (for the catalogue check)
    issues_committed: int = 0
    histories_committed: int = 0
    quarantined_committed: int = 0
    status_ids: set[str | None] = field(default_factory=set)
    #: the backfill started here: issues landed by it have synced_at >= this (census)
    landed_since: datetime | None = None

    def forget_committed(self) -> list[QuarantineRecord]:
        """A chunk is landed: keep its counts, drop its issues; returns its quarantine."""
        self.status_ids.update(self.issues.values())
        self.issues_committed += len(self.issues)
        self.histories_committed += sum(self.landed_histories.values())
        self.issues, self.landed_histories = {}, {}
        taken, self.quarantine = self.quarantine, []
        self.quarantined_committed += len(taken)
        return taken

    @property
    def issue_count(self) -> int:
        return self.issues_committed + len(self.issues)

    @property
    def quarantined(self) -> int:
        return self.quarantined_committed + len(self.quarantine)

    def take_rows(self) -> tuple[StagedRows, StagedRows, StagedRows, bool]:
        """The staged (issue, status-change, field-change) rows and whether each issue is in
        them once, leaving empty ones in their place."""
        taken = (
            self.issue_rows,
            self.change_rows,
            self.field_change_rows,
            len(self.staged_ids) == self.issue_rows.rows,
        )
        self.issue_rows = StagedRows(ISSUE_SCHEMA)
        self.change_rows = StagedRows(CHANGE_SCHEMA)
        self.field_change_rows = StagedRows(FIELD_CHANGE_SCHEMA)
        self.staged_ids = set()
        return taken

    @property
    def histories(self) -> int:
        return self.histories_committed + sum(self.landed_histories.values())


def extract(
    con: duckdb.DuckDBPyConnection,
    settings: JiraSettings,
    cfg: FlowConfig,
    window: SyncWindow,
    run: Run,
    census_due: bool,
    stats: RequestStats,
    policy: RetryPolicy | None,
    progress: Progress,
    *,
    chunks: backfill.Chunks | None = None,
    search_from: datetime | None = None,
) -> Extract:
    scope = cfg.sources.jira.jql
    started = run.started_at
    try:
        # a resumed backfill searches from its resume point (same window end)
        jql = build_issue_jql(scope, search_from or window.start, window.end)
        # the census and the count cover what the warehouse can hold after this run: issues
        # created before the window's end (later ones cannot have been read yet)
        census_jql = build_census_jql(scope, window.end)
    except JqlScopeError as exc:
        raise SourceError(str(exc)) from None
    found = Extract()
    if chunks is not None:
        found.landed_since = chunks.backfill_started
    client = JiraClient(
        settings, verify_tls=cfg.sources.jira.verify_tls, policy=policy, stats=stats
    )
    log.info("JIRA %s at %s: %s sync, %s", client.deployment, settings.url, window.mode, jql)
    now = started
    known = catalogue.known_statuses(con, now, cfg.sync.census_days, force=window.is_full)
    if known is None:
        found.statuses = catalogue.read_statuses(client, now)
    found.selection, found.field_catalogue = resolve_fields(
        con, client, cfg.handoffs.jira_field, now, cfg.sync.census_days, force=known is None
    )
    fetcher = ChangelogFetcher(client, found.warnings, found.selection.bulk_field_ids())
    expand = None if client.is_cloud else "changelog"
    search = iter_issue_pages(
        client,
        jql,
        fields=found.selection.search_fields(ISSUE_FIELDS),
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
                before = found.issue_rows.rows + found.change_rows.rows
                _collect(found, batch, histories, settings.url, now)
                staged = found.issue_rows.rows + found.change_rows.rows
                resume = _resume_point(batch, found.reread) if chunks is not None else None
                if chunks is not None and chunks.add(staged - before) and resume is not None:
                    # a backfill's chunk is full: land it and COMMIT with its resume point, on
                    # the writer thread, in order; then forget its issues (bounded memory)
                    writer.submit(land_staged, con, *found.take_rows())
                    writer.submit(
                        _commit_chunk,
                        con,
                        run,
                        chunks,
                        resume,
                        found.forget_committed(),
                        chunks.take(),
                    )
                elif staged >= FLUSH_ROWS:
                    writer.submit(land_staged, con, *found.take_rows())
    if found.reread:
        # bulkfetch reports no total: re-read those issues by a route that does
        pending = list(found.reread.values())
        found.reread.clear()
        _collect(found, pending, fetcher.reread(pending), settings.url, now, final=True)
    land_staged(con, *found.take_rows())
    progress(SOURCE, STREAM, f"{found.issue_count} issues with status history", found.issue_count)
    if known is not None:
        unknown = (found.status_ids | set(found.issues.values())) - known - {None}
        if unknown:
            log.info(
                "JIRA: status ids %s not in raw.jira_statuses; re-reading the catalogue",
                sorted(unknown)[:10],
            )
            found.statuses = catalogue.read_statuses(client, now)
    catalogue.deletions(
        con, client, census_jql, window.end, found, cfg.sync.page_size, due=census_due
    )
    if found.missing:
        _recover(con, client, fetcher, census_jql, found, settings.url, now, expand)
    return found


def _resume_point(
    batch: list[Any], reread: dict[str, dict[str, Any]]
) -> backfill.ResumePoint | None:
    """Where a backfill's search goes on once this batch is committed: the latest `updated`
    (ms) of the batch -- the search is ordered by updated, so every issue before it is in --
    or earlier, to an issue set aside for a re-read (not landed yet). None: no usable instant.
    The search re-reads the issues at that very millisecond; landing by id makes it harmless.
    """

    def updated(issue: Any) -> int | None:
        try:
            return int(parse_ts(issue["fields"]["updated"]).timestamp() * 1000)
        except (BadRecord, KeyError, TypeError, ValueError):
            return None

    got = [u for u in map(updated, batch) if u is not None]
    if not got:
        return None
    at = max(got)
    pending = [u for u in map(updated, reread.values()) if u is not None]
    if pending:
        at = min(at, *pending)
    return backfill.ResumePoint("issues", STREAM, (at,))


def _commit_chunk(
    con: duckdb.DuckDBPyConnection,
    run: Run,
    chunks: backfill.Chunks,
    resume: backfill.ResumePoint,
    quarantine: list[QuarantineRecord],
    rows: int,
) -> None:
    """On the writer thread, after the chunk's rows: its quarantine, resume point, COMMIT."""
    insert_quarantine(con, run, quarantine, run.started_at)
    chunks.commit(resume, rows)


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


def _collect(
    found: Extract,
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
    field_rows: list[tuple[Any, ...]] = []
    field_seqs: list[int] = []
    for issue in issues:
        bad: list[tuple[str, str, dict[str, Any]]] = []
        try:
            check_shape(issue)  # first: what follows may then trust the JSON types
            issue_id = str(issue["id"])
            got = histories.get(issue_id)
            if got is None:
                raise BadRecord("issue without an id")
            check_complete(issue, got)
            scan = scan_histories(
                issue_id, got.histories, bad, found.selection.wants if found.selection else None
            )
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
            found.quarantine.extend(_quarantine_row(k, r, p) for k, r, p in bad)
            continue
        if mismatch:
            # Complete by JIRA's own count, yet not ending in the current status (imported
            # or migrated issues): land it and let the history_complete check show it.
            message = f"JIRA history of {issue.get('key')} (id {issue_id}): {mismatch}"
            log.warning(message)
            found.warnings.append(message)
        found.quarantine.extend(_quarantine_row(k, r, p) for k, r, p in bad)
        found.copies += 1
        found.issues[issue_id] = row[ISSUE_STATUS_ID]
        found.landed_histories[issue_id] = scan.landed
        found.staged_ids.add(issue_id)
        issue_rows.append(row)
        issue_seqs.append(found.copies)
        change_rows.extend(scan.rows)
        change_seqs.extend([found.copies] * len(scan.rows))
        field_rows.extend(scan.field_rows)
        field_seqs.extend([found.copies] * len(scan.field_rows))
    found.issue_rows.add(issue_rows, issue_seqs)
    found.change_rows.add(change_rows, change_seqs)
    found.field_change_rows.add(field_rows, field_seqs)


def _record_key(issue: Any) -> str:
    """The id (else the key) a quarantined issue is filed under, whatever its shape."""
    if not isinstance(issue, dict):
        return ""
    for name in ("id", "key"):
        value = issue.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
            return str(value)
    return ""


def _quarantine_row(key: str, reason: str, payload: Any) -> QuarantineRecord:
    log.warning("JIRA record %s quarantined: %s", key or "(no id)", reason)
    return QuarantineRecord(STREAM, key or None, reason, dumps_payload(payload))


def _recover(
    con: duckdb.DuckDBPyConnection,
    client: JiraClient,
    fetcher: ChangelogFetcher,
    census_jql: str,
    found: Extract,
    base_url: str,
    now: datetime,
    expand: str | None,
) -> None:
    """Read and stage the census's `found.missing` issues (`id in (...)` searches of
    `RECOVER_BATCH` ids, then their histories as usual), so a lost issue heals on the next
    census night instead of staying lost until someone edits it."""
    log.info(
        "JIRA census: %d issues in scope missing from the warehouse; reading them",
        len(found.missing),
    )
    body, order = split_order(census_jql)
    for start in range(0, len(found.missing), RECOVER_BATCH):
        ids = found.missing[start : start + RECOVER_BATCH]
        jql = f"({body}) AND id in ({', '.join(ids)}) {order}".rstrip()
        for page in iter_issue_pages(
            client,
            jql,
            fields=ISSUE_FIELDS,
            page_size=RECOVER_BATCH,
            expand=expand,
            warnings=found.warnings,
        ):
            _collect(found, page, fetcher.fetch(_well_formed(page)), base_url, now, final=True)
    land_staged(con, *found.take_rows())
