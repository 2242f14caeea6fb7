"""Reading one table's window: records, state history (with fallbacks), deletions, labels.

Nothing here writes to DuckDB: a table is read completely first, so a failure half-way
leaves the warehouse and the cursor untouched (sync.py lands everything in one transaction).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from connectors.result import Progress
from connectors.servicenow import query as q
from connectors.servicenow.client import Row, ServiceNowClient, TableForbidden
from connectors.servicenow.history import (
    AUDIT_FIELDS,
    DELETE_FIELDS,
    METRIC_FIELDS,
    METRIC_INSTANCE,
    OBSERVED,
    STATE_FIELD,
    SYS_AUDIT,
    ChangeRow,
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
CHOICE_FIELDS = ("sys_id", "name", "element", "value", "label", "sequence", "inactive",
                 "language")
GROUP_FIELDS = ("sys_id", "name")

#: Looks up the landed (state, updated_at) of records by sys_id, for observed history.
LandedLookup = Callable[[Sequence[str]], Mapping[str, tuple[str | None, datetime]]]


@dataclass
class TableFetch:
    """Everything read for one table in one run, ready to land."""

    table: str
    window: SyncWindow
    records: list[RecordRow] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    changes: list[ChangeRow] = field(default_factory=list)
    choices: list[Row] = field(default_factory=list)
    deletions: list[tuple[str, datetime]] = field(default_factory=list)
    history_source: str = SYS_AUDIT
    approximate_since: datetime | None = None
    record_pages: int = 0
    history_pages: int = 0
    requests: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


def _updated_key(row: Row) -> tuple[str, str] | None:
    return _key(row, "sys_updated_on")


def _created_key(row: Row) -> tuple[str, str] | None:
    return _key(row, "sys_created_on")


def _key(row: Row, order_field: str) -> tuple[str, str] | None:
    at, sys_id = text_value(row.get(order_field)), ref_value(row.get("sys_id"))
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
    ) -> None:
        self.client = client
        self.settings = settings
        self.scope = scope
        self.page_size = page_size
        self.progress = progress
        self.keys_budget = keys_budget

    # -- one table ----------------------------------------------------------------------------
    def read(self, table: str, window: SyncWindow, landed: LandedLookup) -> TableFetch:
        started, before = time.monotonic(), self.client.stats.requests
        out = TableFetch(table, window)
        self._records(out)
        self._history(out, landed)
        self._deletions(out)
        self._choices(out)
        out.requests = self.client.stats.requests - before
        out.seconds = time.monotonic() - started
        return out

    def _records(self, out: TableFetch) -> None:
        window, table = out.window, out.table
        pager: Pager[tuple[str, str]] = Pager(
            self.client, table, fields_for(table),
            lambda after: q.records_query(window.start, window.end, self.scope, after),
            _updated_key, self.page_size,
        )
        latest: dict[str, RecordRow] = {}
        for page in pager:
            for row in page:
                mapped = to_record(table, row, self.settings)
                if isinstance(mapped, Quarantined):
                    out.quarantined.append(mapped)
                    continue
                known = latest.get(mapped.sys_id)
                if known is None or mapped.updated_at >= known.updated_at:
                    latest[mapped.sys_id] = mapped  # updated mid-scan: keep the newest
            self.progress(SOURCE, table, f"page {pager.pages}: {len(latest)} records read",
                          len(latest))
        out.records = list(latest.values())
        out.record_pages = pager.pages
        if pager.denied_rows:
            out.warnings.append(f"{table}: {pager.denied_rows} rows hidden by ACLs ({{}} rows)")

    # -- history ------------------------------------------------------------------------------
    def _history(self, out: TableFetch, landed: LandedLookup) -> None:
        keys = [r.sys_id for r in out.records]
        try:
            out.changes = self._audit(out, keys)
            out.history_source = SYS_AUDIT
            return
        except TableForbidden as exc:
            out.warnings.append(f"{out.table}: sys_audit is not readable ({exc}); trying "
                                "metric_instance")
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

    def _audit(self, out: TableFetch, keys: list[str]) -> list[ChangeRow]:
        window, table = out.window, out.table
        changes: list[ChangeRow] = []
        for batch in q.batch_keys(keys, self.keys_budget):
            pager: Pager[tuple[str, str]] = Pager(
                self.client, "sys_audit", AUDIT_FIELDS,
                lambda after, b=batch: q.audit_query(
                    table, STATE_FIELD, b, window.start, window.end, after),
                _created_key, self.page_size,
            )
            for page in pager:
                rows, bad = audit_changes(table, page)
                changes.extend(rows)
                out.quarantined.extend(bad)
                self.progress(SOURCE, table, f"state history: {len(changes)} changes",
                              len(out.records))
            out.history_pages += pager.pages
            _warn_hidden(out, pager, "sys_audit", "state history may be incomplete")
        return _dedupe(changes)

    def _metrics(self, out: TableFetch, keys: list[str]) -> list[ChangeRow] | None:
        """Changes from metric_instance, or None when the metric is not kept for this table."""
        table = out.table
        rows: list[Row] = []
        for batch in q.batch_keys(keys, self.keys_budget):
            pager: Pager[str] = Pager(
                self.client, "metric_instance", METRIC_FIELDS,
                lambda after, b=batch: q.metric_query(table, b, STATE_FIELD, after),
                _sys_id, self.page_size,
            )
            for page in pager:
                rows.extend(page)
            out.history_pages += pager.pages
            _warn_hidden(out, pager, "metric_instance", "state history may be incomplete")
        if keys and not rows:
            out.warnings.append(f"{table}: no state-duration metric_instance rows for "
                                f"{len(keys)} records: the metric is not kept for {table}")
            return None
        return metric_changes(table, rows, {r.sys_id: r.state for r in out.records})

    # -- deletions and labels -----------------------------------------------------------------
    def _deletions(self, out: TableFetch) -> None:
        window, table = out.window, out.table
        pager: Pager[tuple[str, str]] = Pager(
            self.client, "sys_audit_delete", DELETE_FIELDS,
            lambda after: q.audit_delete_query(table, window.start, window.end, after),
            _created_key, self.page_size,
        )
        try:
            for page in pager:
                for row in page:
                    doc = ref_value(row.get("documentkey"))
                    tablename = text_value(row.get("tablename"))
                    at = _safe_ts(row.get("sys_created_on"))
                    if doc and at and tablename in (None, table):
                        out.deletions.append((doc, at))
            _warn_hidden(out, pager, "sys_audit_delete", "deletions may be missed")
        except TableForbidden as exc:
            out.warnings.append(f"{table}: deletions not detected: {exc}")

    def _choices(self, out: TableFetch) -> None:
        table = out.table
        pager: Pager[str] = Pager(
            self.client, "sys_choice", CHOICE_FIELDS,
            lambda after: q.choices_query(table, STATE_FIELD, after), _sys_id, self.page_size,
        )
        try:
            for page in pager:
                out.choices.extend(page)
        except TableForbidden as exc:
            out.warnings.append(f"{table}: state labels not read: {exc}")

    # -- catalogue ----------------------------------------------------------------------------
    def groups(self, warnings: list[str]) -> list[Row]:
        """All assignment groups (sys_id, name), so rules can name a group either way."""
        pager: Pager[str] = Pager(
            self.client, "sys_user_group", GROUP_FIELDS,
            lambda after: q.sys_id_query((), after), _sys_id, self.page_size,
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
        out.warnings.append(f"{out.table}: {pager.denied_rows} {scanned} rows hidden by ACLs "
                            f"({{}} rows): {consequence}")


def _dedupe(changes: list[ChangeRow]) -> list[ChangeRow]:
    """Across documentkey batches and pages one sys_audit row can only appear once; keep it so."""
    seen: dict[str, ChangeRow] = {}
    for c in changes:
        seen.setdefault(c.change_id, c)
    return list(seen.values())


def _safe_ts(value: object) -> datetime | None:
    try:
        return parse_snow_ts(value, "sys_created_on")
    except ValueError:
        return None
