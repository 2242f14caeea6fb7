"""Reading the tables' windows: records, state history (with fallbacks), deletions, labels.

Nothing here writes to DuckDB itself. Given a `BatchSink` (sync.py passes `land.BatchLander`),
each records page and each sys_audit page is handed to it as soon as it is mapped, while the
prefetch thread reads the next page; sync.py runs all of it inside the run's ONE transaction,
so a failure half-way still leaves the warehouse and the cursors untouched. Without a sink
everything is only collected in the returned `TableFetch`es.

Request economy (docs/benchmarks.md): the records of each table are one keyset scan; the
history of ALL tables that share a window is one `sys_audit` scan (`tablenameIN…`), either
restricted to the changed records (`documentkeyIN…`, when they fit in one batch) or, for
many records, the whole `tablename+fieldname+sys_created_on` window (api-facts §2.4)
filtered here to the records read; no changed record, no sys_audit request. Tombstones are one
`sys_audit_delete` scan for all tables. Labels (`sys_choice`) and groups (`sys_user_group`) are
read only when due (see `catalogue_due`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from connectors.backfill import ResumePoint
from connectors.prefetch import prefetched
from connectors.progress import report_total
from connectors.result import Progress, SourceError
from connectors.servicenow import query as q
from connectors.servicenow.catalogue import Catalogue, catalogue_due
from connectors.servicenow.client import Row, ServiceNowClient, TableForbidden
from connectors.servicenow.history import (
    AUDIT_FIELDS,
    DELETE_FIELDS,
    HISTORY_FIELDS,
    METRIC_FIELDS,
    METRIC_INSTANCE,
    OBSERVED,
    STATE_FIELD,
    SYS_AUDIT,
    ChangeRow,
    FieldChangeRow,
    audit_changes,
    metric_changes,
    observed_changes,
)
from connectors.servicenow.paging import Pager
from connectors.servicenow.records import (
    Quarantined,
    RecordRow,
    fields_for,
    parse_snow_ts,
    ref_value,
    text_value,
    to_record,
)
from connectors.servicenow.settings import ServiceNowSettings
from connectors.state import SyncWindow

log = logging.getLogger(__name__)

SOURCE = "servicenow"
CHOICE_FIELDS = ("sys_id", "name", "element", "value", "label", "sequence", "inactive", "language")
GROUP_FIELDS = ("sys_id", "name")
#: sys_choice elements read in the one label scan: state, and hold_reason (docs/contract.md §6 reasons).
CHOICE_ELEMENTS = (STATE_FIELD, "hold_reason")

#: Changed records whose sys_ids fit in this many documentkeyIN lists (~120 sys_ids each) are
#: read by key; more, and one window scan of sys_audit is cheaper: each keyed list is its own
#: scan with its own last page, while the window scan reads only full pages of history rows.
AUDIT_BATCHES = 1

#: Looks up the landed (state, updated_at) of records by sys_id, for observed history.
LandedLookup = Callable[[Sequence[str]], Mapping[str, tuple[str | None, datetime]]]


class BatchSink(Protocol):
    """Where mapped batches go as they are read (`land.BatchLander`)."""

    changes_landed: int

    def records(self, rows: Sequence[RecordRow]) -> None: ...

    def changes(self, rows: Sequence[ChangeRow]) -> int: ...

    def field_changes(self, rows: Sequence[FieldChangeRow]) -> None: ...

    def flush(self) -> None: ...

    def discard_changes(self) -> None: ...

    def tables_of(self, sys_ids: Sequence[str]) -> dict[str, str]: ...

    def seen_at(self, tables: Sequence[str], at: datetime) -> dict[str, set[tuple[str, Any]]]: ...

    def landed_records(self, table: str) -> list[RecordRow]: ...


class ChunkSink(Protocol):
    """Ends a backfill chunk (`sync._ChunkCommitter`): flush, quarantine, resume point, COMMIT.

    `add(rows)` counts rows handed to the sink and says whether the chunk is full."""

    def add(self, rows: int) -> bool: ...

    committed: int

    def commit(self, resume: ResumePoint) -> None: ...


@dataclass
class TableFetch:
    """Everything read for one table in one run, ready to land."""

    table: str
    window: SyncWindow
    #: with a sink (every sync) the records are landed page by page and held here without
    #: their payload ("")
    records: list[RecordRow] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    changes: list[ChangeRow] = field(default_factory=list)
    #: hold_reason / assignment_group audit rows (docs/contract.md §6) when there is no sink to take them
    field_changes: list[FieldChangeRow] = field(default_factory=list)
    #: sys_choice rows when the labels were read this run; None = not due (see catalogue_due)
    choices: list[Row] | None = None
    deletions: list[tuple[str, datetime]] = field(default_factory=list)
    history_source: str = SYS_AUDIT
    #: the history went to the reader's sink page by page (sys_audit with a sink): `changes`
    #: is then left empty (not kept twice in memory) and `history_rows` counts them
    changes_landed: bool = False
    history_rows: int = 0
    approximate_since: datetime | None = None
    #: records landed this run (in a chunked backfill `records` stays empty: not held)
    record_count: int = 0
    #: a resumed backfill landed this table's records in earlier runs
    resumed: bool = False
    #: quarantined records already landed with a committed chunk
    quarantined_landed: int = 0
    record_pages: int = 0
    history_pages: int = 0
    requests: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def catalogue_read(self) -> bool:
        return self.choices is not None

    @property
    def quarantined_count(self) -> int:
        return self.quarantined_landed + len(self.quarantined)


def _updated_key(row: Row) -> tuple[str, str] | None:
    return _key(row, "sys_updated_on")


def _created_key(row: Row) -> tuple[str, str] | None:
    return _key(row, "sys_created_on")


def _key(row: Row, order_field: str) -> tuple[str, str] | None:
    at, sys_id = row.get(order_field), row.get("sys_id")
    if type(at) is str and type(sys_id) is str:  # the raw shape (the same answer, faster)
        sys_id = sys_id.strip()
        return (at, sys_id) if at and sys_id else None
    at, sys_id = text_value(at), ref_value(sys_id)
    return (at, sys_id) if at and sys_id else None


def _sys_id(row: Row) -> str | None:
    return ref_value(row.get("sys_id"))


class TableReader:
    """Reads tables through one client with one page size, scope and progress sink."""

    def __init__(
        self,
        client: ServiceNowClient,
        settings: ServiceNowSettings,
        *,
        scope: str,
        page_size: int,
        progress: Progress,
        keys_budget: int = q.DEFAULT_KEYS_BUDGET,
        audit_batches: int | None = None,
        sink: BatchSink | None = None,
        chunks: ChunkSink | None = None,
        resume: ResumePoint | None = None,
        extra_fields: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.client = client
        #: per table, configured fields read beside ours (links.change_request_fields)
        self.extra_fields = dict(extra_fields or {})
        self.settings = settings
        self.scope = scope
        self.page_size = page_size
        self.progress = progress
        self.keys_budget = keys_budget
        self.audit_batches = AUDIT_BATCHES if audit_batches is None else audit_batches
        self.sink = sink
        #: a backfill: full windows commit in chunks (needs `sink`); see connectors/backfill.py
        self.chunks = chunks if sink is not None else None
        self.resume = resume

    def _chunked(self, window: SyncWindow) -> bool:
        return self.chunks is not None and window.is_full

    def _window_scan(self, group: Sequence[TableFetch]) -> bool:
        """The changed records are too many for `documentkeyIN` lists (`_audit`)."""
        keys = [r.sys_id for f in group for r in f.records]
        return len(list(q.batch_keys(keys, self.keys_budget))) > self.audit_batches

    def _spilled(self) -> bool:
        """Records are no longer all held: a chunk committed, or this run resumes a backfill."""
        return self.chunks is not None and (self.resume is not None or self.chunks.committed > 0)

    def _done_before(self, table: str, tables: Sequence[str]) -> bool:
        """A resumed backfill already committed every record of this (full-window) table."""
        r = self.resume
        if r is None:
            return False
        if r.phase == "history":
            return True
        return r.stream in tables and tables.index(table) < tables.index(r.stream)

    # -- all tables ----------------------------------------------------------------------------
    def read_all(
        self,
        tables: Sequence[str],
        windows: Mapping[str, SyncWindow],
        landed: LandedLookup,
        catalogue: Catalogue | None = None,
        fetches: list[TableFetch] | None = None,
    ) -> tuple[list[TableFetch], list[Row] | None]:
        """Every table's window; returns the fetches and the groups (None = not due).

        Requests of the scans shared by several tables (history, tombstones, labels, groups)
        are counted with the first table of the scan, so the per-stream counts add up to the
        run's total. `fetches`, when given, is filled in place (a backfill's chunk commits
        land the quarantined records of every table read so far).
        """
        if fetches is None:
            fetches = []
        fetches.extend(TableFetch(t, windows[t]) for t in tables)  # the caller may hold the list
        for f in fetches:
            if self._chunked(f.window) and self.resume is not None:
                # records of this table were landed by the backfill's earlier runs (all of
                # them, or up to the resume point): its history is read even if none is left
                f.resumed = (
                    self._done_before(f.table, list(tables)) or self.resume.stream == f.table
                )
                if self._done_before(f.table, list(tables)):
                    continue
            self._timed(f, self._records, f)
            if self.scope and not f.window.is_full:
                self._timed(f, self._left_scope, f)
        by_window: dict[tuple[datetime | None, datetime], list[TableFetch]] = {}
        for f in fetches:
            by_window.setdefault((f.window.start, f.window.end), []).append(f)
        for group in by_window.values():
            self._timed(group[0], self._history, group, landed)
            self._timed(group[0], self._deletions, group)
        due, groups_due = catalogue_due(fetches, catalogue or Catalogue())
        if due:
            first = next(f for f in fetches if f.table in due)
            self._timed(first, self._choices, [f for f in fetches if f.table in due])
        groups: list[Row] | None = None
        if groups_due and fetches:
            warnings: list[str] = []
            groups = self._timed(fetches[0], self.groups, warnings)
            fetches[0].warnings.extend(warnings)
        return fetches, groups

    def _timed(self, owner: TableFetch, fn: Callable[..., Any], *args: Any) -> Any:
        started, before = time.monotonic(), self.client.stats.requests
        try:
            return fn(*args)
        finally:
            owner.requests += self.client.stats.requests - before
            owner.seconds += time.monotonic() - started

    def _records(self, out: TableFetch) -> None:
        window, table = out.window, out.table
        start = None
        if (
            self._chunked(window)
            and self.resume is not None
            and self.resume.phase == "records"
            and self.resume.stream == table
            and self.resume.after is not None
        ):
            start = (str(self.resume.after[0]), str(self.resume.after[1]))
        pager: Pager[tuple[str, str]] = Pager(
            self.client,
            table,
            fields_for(table, self.extra_fields.get(table, ())),
            lambda after: q.records_query(window.start, window.end, self.scope, after),
            _updated_key,
            self.page_size,
            count=not window.is_full,
            count_ends=True,
            after=start,
        )
        latest: dict[str, RecordRow] = {}
        sink = self.sink
        chunks = self.chunks if self._chunked(window) else None
        counted = 0  # records of chunks already committed (then forgotten: `latest` restarts)
        told = False
        # the next page is fetched while this one is mapped and landed (pager and client stay
        # on the worker; DuckDB releases the GIL while it writes)
        for page in prefetched(pager, name=f"servicenow-{table}"):
            winners: list[RecordRow] = []
            for row in page:
                mapped = to_record(table, row, self.settings)
                if isinstance(mapped, Quarantined):
                    out.quarantined.append(mapped)
                    continue
                known = latest.get(mapped.sys_id)
                if known is None or mapped.updated_at >= known.updated_at:
                    latest[mapped.sys_id] = mapped  # updated mid-scan: keep the newest
                    winners.append(mapped)  # the sink lands only copies that win
            if sink is not None:
                sink.records(winners)
                # staged (as Arrow columns) for landing: what later steps read of a record is
                # its keys, state and times, so the held copy drops the payload (most of a
                # record's bytes; a chunk of 50k full records is ~100 MB)
                for r in winners:
                    latest[r.sys_id] = r._replace(payload="")
            if not told and pager.total is not None:  # the scan's size, for an ETA
                report_total(self.progress, SOURCE, table, pager.total)
                told = True
            self.progress(
                SOURCE,
                table,
                f"page {pager.pages}: {counted + len(latest)} records read",
                counted + len(latest),
            )
            if chunks is not None and chunks.add(len(winners)) and page.cursor is not None:
                # a backfill's chunk is full: commit it with this page's keyset cursor as the
                # resume point, and hold none of its records any more (bounded memory)
                counted += len(latest)
                latest.clear()
                chunks.commit(ResumePoint("records", table, page.cursor))
        if sink is not None:
            sink.flush()  # all records are in before the history scan starts
        out.records = list(latest.values())
        out.record_count = counted + len(out.records)
        out.record_pages = pager.pages
        if pager.denied_rows:
            out.warnings.append(f"{table}: {pager.denied_rows} rows hidden by ACLs ({{}} rows)")

    def _left_scope(self, out: TableFetch) -> None:
        """Records updated in the window that the scoped query no longer returns: they left
        `sources.servicenow.query`, which docs/contract.md §4 counts as deleted (tombstoned at their update,
        only if landed; a record back in scope is re-read and revived by its upsert).

        Why a second scan: a record leaves a scope by an update (resolved, reassigned, ...),
        so it is in tonight's window, but the scoped records query cannot return it. This scan
        asks the same window without the scope, `sys_id` and `sys_updated_on` only: its cost
        follows the night's changes, not the table's size. Only with a scope, on incremental
        windows (a full sync re-reads the scope and leaves the rest alone).
        """
        window, table = out.window, out.table
        pager: Pager[tuple[str, str]] = Pager(
            self.client,
            table,
            ("sys_id", "sys_updated_on"),
            lambda after: q.records_query(window.start, window.end, "", after),
            _updated_key,
            self.page_size,
            count=True,
            count_ends=True,
        )
        # quarantined tonight: still in scope (its stored copy, if any, stays as it is)
        read = {r.sys_id for r in out.records} | {_payload_sys_id(x) for x in out.quarantined}
        for page in pager:
            for row in page:
                sys_id = ref_value(row.get("sys_id"))
                at = _safe_ts(row.get("sys_updated_on"))
                if sys_id and at and sys_id not in read:
                    out.deletions.append((sys_id, at))
        out.record_pages += pager.pages

    # -- history ------------------------------------------------------------------------------
    def _history(self, group: list[TableFetch], landed: LandedLookup) -> None:
        """State history of the tables of one window: one sys_audit scan, else per-table
        fallbacks (metric_instance, then observation)."""
        # a backfill that committed a chunk (or resumed) holds no records: they are landed; one
        # that still holds them but reads sys_audit as one window scan anyway commits its
        # history in chunks too (the same requests: the scan does not depend on the chunks)
        chunked = self._chunked(group[0].window) and (
            self._spilled() or self._window_scan([f for f in group if f.records])
        )
        changed = [f for f in group if f.record_count or (chunked and f.resumed)]
        if not changed:
            return  # nothing changed in the window: no history to read
        try:
            if chunked:
                self._audit_chunked(changed)
            else:
                self._audit(changed)
            for f in changed:
                f.history_source = SYS_AUDIT
            return
        except TableForbidden as exc:
            if self.sink is not None:
                if self.sink.changes_landed:
                    # sys_audit answered, then refused after more than FLUSH_ROWS of its rows
                    # were written in this run's transaction: they cannot be taken back one by
                    # one (they replaced stored rows by change_id), so fail the run -- all of
                    # it rolls back -- rather than mix two history sources.
                    raise SourceError(
                        f"sys_audit became unreadable in the middle of the history scan "
                        f"({exc}); nothing was landed, the next sync starts over"
                    ) from exc
                self.sink.discard_changes()  # staged only: fall back exactly as before
            for f in changed:
                f.changes = []
                f.warnings.append(
                    f"{f.table}: sys_audit is not readable ({exc}); trying metric_instance"
                )
        for f in changed:
            if chunked and self.sink is not None:
                # the fallbacks need the records: a backfill has them landed, not held
                f.records = self.sink.landed_records(f.table)
            self._fallback(f, landed)

    def _fallback(self, out: TableFetch, landed: LandedLookup) -> None:
        keys = [r.sys_id for r in out.records]
        try:
            changes = self._metrics(out, keys)
        except TableForbidden as exc:
            out.warnings.append(f"{out.table}: metric_instance is not readable either ({exc})")
            changes = None
        if changes is not None:
            out.changes = changes
            out.history_source = METRIC_INSTANCE
            return
        out.history_source = OBSERVED
        out.changes = observed_changes(out.records, landed(keys) if keys else {})
        window = out.window
        if window.start is not None:
            out.approximate_since = window.start
        else:
            created = [r.created_at or r.updated_at for r in out.records]
            out.approximate_since = min(created) if created else window.end
        out.warnings.append(
            f"{out.table}: state history is observed between syncs from "
            f"{out.approximate_since:%Y-%m-%d %H:%M:%S} UTC (approximate): grant read access "
            "to sys_audit for the full history"
        )

    def _audit(self, group: list[TableFetch]) -> None:
        """One sys_audit scan for the changed records of these tables (same window).

        When the records' sys_ids fit in `audit_batches` documentkeyIN lists, those lists are
        read (cheap and index-friendly for a small nightly window); otherwise the whole
        `tablename+fieldname+sys_created_on` window is read once and rows of records not read
        this run are dropped, so the history is the same either way.
        """
        window = group[0].window
        tables = [f.table for f in group]
        owner: dict[str, TableFetch] = {r.sys_id: f for f in group for r in f.records}
        batches = list(q.batch_keys(list(owner), self.keys_budget))
        keyed: list[list[str] | None] = (
            list(batches) if len(batches) <= self.audit_batches else [None]
        )
        seen: dict[str, set[tuple[str, Any]]] = {t: set() for t in tables}
        found: dict[str, list[ChangeRow]] = {t: [] for t in tables}
        read: dict[str, int] = dict.fromkeys(tables, 0)
        taken: dict[str, int] = dict.fromkeys(tables, 0)  # by the sink (first copy per id)
        sink = self.sink
        for batch in keyed:
            pager: Pager[tuple[str, str]] = Pager(
                self.client,
                "sys_audit",
                AUDIT_FIELDS,
                lambda after, b=batch: q.audit_query(
                    tables, HISTORY_FIELDS, b, window.start, window.end, after
                ),
                _created_key,
                self.page_size,
                count=batch is not None or not window.is_full,
                count_ends=True,
            )
            for page in prefetched(pager, name="servicenow-sys_audit"):
                per_table: dict[str, list[Row]] = {}
                for row in page:
                    f = owner.get(ref_value(row.get("documentkey")) or "")
                    if f is None:
                        tablename = text_value(row.get("tablename"))
                        if ref_value(row.get("documentkey")) or tablename not in (None, *tables):
                            continue  # a record not read this run (window scan)
                        f = next((g for g in group if g.table == tablename), group[0])
                    per_table.setdefault(f.table, []).append(row)
                for table, rows in per_table.items():
                    f = next(g for g in group if g.table == table)
                    other: list[FieldChangeRow] = []
                    got, bad = audit_changes(table, rows, seen[table], other)
                    if sink is not None:
                        # staged now, landed when the scan ends (all records are in by then);
                        # a re-read record's older history stays: upserted by change_id
                        taken[table] += sink.changes(got)
                        sink.field_changes(other)
                    else:
                        found[table].extend(got)
                        f.field_changes.extend(other)
                    read[table] += len(got)
                    f.quarantined.extend(bad)
                    self.progress(
                        SOURCE, table, f"state history: {read[table]} changes", len(f.records)
                    )
            if sink is not None:
                sink.flush()
            group[0].history_pages += pager.pages
            _warn_hidden(group[0], pager, "sys_audit", "state history may be incomplete")
        for f in group:
            f.changes = _dedupe(found[f.table])
            f.changes_landed = sink is not None
            f.history_rows = taken[f.table] if sink is not None else len(f.changes)

    def _audit_chunked(self, group: list[TableFetch]) -> None:
        """A backfill's sys_audit scan: the whole window once (`tablenameIN…`), rows kept when
        their record is landed, each page landed as it is read, a chunk committed with the
        page's keyset cursor whenever full. Repeats of one update are dropped within a chunk
        and against the rows landed at the chunk boundary's instant (they share it), so the
        result does not depend on where chunks (or a kill) fell."""
        sink, chunks = self.sink, self.chunks
        assert sink is not None and chunks is not None
        window = group[0].window
        tables = [f.table for f in group]
        by_table = {f.table: f for f in group}
        start = None
        seen: dict[str, set[tuple[str, Any]]] = {t: set() for t in tables}
        r = self.resume
        if r is not None and r.phase == "history" and r.after is not None:
            start = (str(r.after[0]), str(r.after[1]))
            seen = sink.seen_at(tables, parse_snow_ts(start[0], "sys_created_on"))
        taken: dict[str, int] = dict.fromkeys(tables, 0)
        pager: Pager[tuple[str, str]] = Pager(
            self.client,
            "sys_audit",
            AUDIT_FIELDS,
            lambda after: q.audit_query(
                tables, HISTORY_FIELDS, None, window.start, window.end, after
            ),
            _created_key,
            self.page_size,
            count=not window.is_full,
            count_ends=True,
            after=start,
        )
        for page in prefetched(pager, name="servicenow-sys_audit"):
            doc_of = [ref_value(row.get("documentkey")) for row in page]
            docs = sorted({d for d in doc_of if d})
            owner = sink.tables_of(docs) if docs else {}
            per_table: dict[str, list[Row]] = {}
            for row, doc in zip(page, doc_of, strict=True):
                table = owner.get(doc or "")
                if table not in by_table:
                    tablename = text_value(row.get("tablename"))
                    if doc or tablename not in (None, *tables):
                        continue  # a record not landed (not in the window's scope)
                    table = tablename if tablename in by_table else tables[0]
                per_table.setdefault(table, []).append(row)
            added = 0
            for table, rows in per_table.items():
                f = by_table[table]
                other: list[FieldChangeRow] = []
                got, bad = audit_changes(table, rows, seen[table], other)
                sink.field_changes(other)
                n = sink.changes(got)
                taken[table] += n
                added += n
                f.quarantined.extend(bad)
                self.progress(SOURCE, table, f"state history: {taken[table]} changes", taken[table])
            if chunks.add(added) and (last := page.cursor) is not None:
                chunks.commit(ResumePoint("history", None, last))
                seen = sink.seen_at(tables, parse_snow_ts(last[0], "sys_created_on"))
        sink.flush()
        group[0].history_pages += pager.pages
        _warn_hidden(group[0], pager, "sys_audit", "state history may be incomplete")
        for f in group:
            f.changes = []
            f.changes_landed = True
            f.history_rows = taken[f.table]

    def _metrics(self, out: TableFetch, keys: list[str]) -> list[ChangeRow] | None:
        """Changes from metric_instance, or None when the metric is not kept for this table."""
        table = out.table
        rows: list[Row] = []
        for batch in q.batch_keys(keys, self.keys_budget):
            pager: Pager[str] = Pager(
                self.client,
                "metric_instance",
                METRIC_FIELDS,
                lambda after, b=batch: q.metric_query(table, b, STATE_FIELD, after),
                _sys_id,
                self.page_size,
                count=True,
            )
            for page in pager:
                rows.extend(page)
            out.history_pages += pager.pages
            _warn_hidden(out, pager, "metric_instance", "state history may be incomplete")
        if keys and not rows:
            out.warnings.append(
                f"{table}: no state-duration metric_instance rows for "
                f"{len(keys)} records: the metric is not kept for {table}"
            )
            return None
        return metric_changes(table, rows, {r.sys_id: r.state for r in out.records})

    # -- deletions and labels -----------------------------------------------------------------
    def _deletions(self, group: list[TableFetch]) -> None:
        """One sys_audit_delete scan for the tables of one window."""
        window = group[0].window
        tables = [f.table for f in group]
        pager: Pager[tuple[str, str]] = Pager(
            self.client,
            "sys_audit_delete",
            DELETE_FIELDS,
            lambda after: q.audit_delete_query(tables, window.start, window.end, after),
            _created_key,
            self.page_size,
            count=not window.is_full,
            count_ends=True,
        )
        try:
            for page in pager:
                for row in page:
                    doc = ref_value(row.get("documentkey"))
                    tablename = text_value(row.get("tablename"))
                    at = _safe_ts(row.get("sys_created_on"))
                    if not (doc and at):
                        continue
                    for f in group:  # no tablename (hidden field): tombstone where it lands
                        if tablename in (None, f.table):
                            f.deletions.append((doc, at))
            _warn_hidden(group[0], pager, "sys_audit_delete", "deletions may be missed")
        except TableForbidden as exc:
            for f in group:
                f.warnings.append(f"{f.table}: deletions not detected: {exc}")

    def _choices(self, due: list[TableFetch]) -> None:
        """State labels of these tables: one sys_choice scan (`nameIN…`)."""
        tables = [f.table for f in due]
        pager: Pager[str] = Pager(
            self.client,
            "sys_choice",
            CHOICE_FIELDS,
            lambda after: q.choices_query(tables, CHOICE_ELEMENTS, after),
            _sys_id,
            self.page_size,
            count=True,
        )
        rows: dict[str, list[Row]] = {t: [] for t in tables}
        try:
            for page in pager:
                for row in page:
                    name = text_value(row.get("name"))
                    if name in rows:
                        rows[name].append(row)
                    elif name is None and len(tables) == 1:
                        rows[tables[0]].append(row)
        except TableForbidden as exc:
            for f in due:
                f.warnings.append(f"{f.table}: state labels not read: {exc}")
        for f in due:
            f.choices = rows[f.table]

    # -- catalogue ----------------------------------------------------------------------------
    def groups(self, warnings: list[str]) -> list[Row]:
        """All assignment groups (sys_id, name), so rules can name a group either way."""
        pager: Pager[str] = Pager(
            self.client,
            "sys_user_group",
            GROUP_FIELDS,
            lambda after: q.sys_id_query((), after),
            _sys_id,
            self.page_size,
            count=True,
        )
        rows: list[Row] = []
        try:
            for page in pager:
                rows.extend(page)
        except TableForbidden as exc:
            warnings.append(f"assignment groups not read: {exc}")
        return rows


def _warn_hidden(out: TableFetch, pager: Pager, scanned: str, consequence: str) -> None:
    """ACL-hidden (`{}`) rows of a history scan are skipped, never silently: say so."""
    if pager.denied_rows:
        out.warnings.append(
            f"{out.table}: {pager.denied_rows} {scanned} rows hidden by ACLs "
            f"({{}} rows): {consequence}"
        )


def _dedupe(changes: list[ChangeRow]) -> list[ChangeRow]:
    """Across documentkey batches and pages one sys_audit row can only appear once; keep it so."""
    seen: dict[str, ChangeRow] = {}
    for c in changes:
        seen.setdefault(c.change_id, c)
    return list(seen.values())


def _payload_sys_id(item: Quarantined) -> str | None:
    try:
        row = json.loads(item.payload)
    except (TypeError, ValueError):
        return None
    return ref_value(row.get("sys_id")) if isinstance(row, dict) else None


def _safe_ts(value: object) -> datetime | None:
    try:
        return parse_snow_ts(value, "sys_created_on")
    except ValueError:
        return None
