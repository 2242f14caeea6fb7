"""State history rows for raw.servicenow_state_changes, from three sources, best first.

1. `sys_audit`: the durable trail, one row per audited change. Only `fieldname=state` is read
   for the state history: incidents audit `incident_state` too, and counting both would double
   every transition. The same scan also reads `hold_reason` and `assignment_group` (docs/contract.md §6,
   `fieldnameIN...`): those rows become `FieldChangeRow`s for raw.servicenow_field_changes.
2. `metric_instance` ("Incident State Duration"): one row per value period; a transition is the
   start of every period but the first, plus the end of the last closed period (the
   out-of-box metric writes no period for the state that makes a record inactive).
3. observed: neither is readable, so compare the state fetched now with the state landed
   last time. Changes between two syncs collapse into one, stamped with sys_updated_on; the
   sync records `history_approximate_since` so an asset check can say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from connectors.servicenow.client import Row
from connectors.servicenow.records import (
    BadTimestamp,
    Quarantined,
    RecordRow,
    _ts_text,
    dumps_payload,
    parse_snow_ts,
    ref_value,
    text_value,
)

SYS_AUDIT = "sys_audit"
METRIC_INSTANCE = "metric_instance"
OBSERVED = "observed"
STATE_FIELD = "state"
#: Audited fields read beside state in the same sys_audit scan (docs/contract.md §6: blocked work, hand-offs).
OTHER_FIELDS = ("hold_reason", "assignment_group")
HISTORY_FIELDS = (STATE_FIELD, *OTHER_FIELDS)

AUDIT_FIELDS = (
    "sys_id",
    "tablename",
    "documentkey",
    "fieldname",
    "oldvalue",
    "newvalue",
    "record_checkpoint",
    "user",
    "reason",
    "sys_created_on",
)
METRIC_FIELDS = (
    "sys_id",
    "definition",
    "id",
    "table",
    "field",
    "value",
    "field_value",
    "start",
    "end",
    "calculation_complete",
)
DELETE_FIELDS = ("sys_id", "tablename", "documentkey", "display_value", "sys_created_on")


class ChangeRow(NamedTuple):
    """One row for raw.servicenow_state_changes (column names match the table)."""

    change_id: str
    table_name: str
    record_sys_id: str
    changed_at: datetime
    from_value: str | None
    to_value: str | None
    author: str | None
    record_checkpoint: int | None
    history_source: str
    payload: str | None


class FieldChangeRow(NamedTuple):
    """One row for raw.servicenow_field_changes (column names match the table)."""

    change_id: str
    table_name: str
    record_sys_id: str
    field_name: str
    changed_at: datetime
    from_value: str | None
    to_value: str | None
    author: str | None
    record_checkpoint: int | None
    payload: str | None


def audit_changes(
    table: str,
    rows: Iterable[Row],
    seen: set[tuple[str, Any]] | None = None,
    fields_out: list[FieldChangeRow] | None = None,
) -> tuple[list[ChangeRow], list[Quarantined]]:
    """sys_audit rows → changes; other fields and repeats of one update are dropped.

    Pass one `seen` set for all pages of a scan so repeats are dropped across page boundaries
    too (the result then does not depend on how the rows were paged). With `fields_out`, rows
    of `OTHER_FIELDS` are appended there (as read: values unchanged, insert rows included)
    instead of being dropped.
    """
    out: list[ChangeRow] = []
    bad: list[Quarantined] = []
    seen = set() if seen is None else seen
    for row in rows:
        get = row.get
        fieldname, change_id, doc = get("fieldname"), get("sys_id"), get("documentkey")
        created = get("sys_created_on")
        # Fast path: the shape raw rows come in (plain strings, an exact timestamp); anything
        # else takes `_audit_row`, which gives the same result for these.
        at = _ts_text(created) if type(created) is str else None
        if not (
            at is not None
            and type(fieldname) is str
            and type(change_id) is str
            and type(doc) is str
            and change_id
            and doc
            and change_id == change_id.strip()
            and doc == doc.strip()
        ):
            _audit_row(table, row, seen, out, bad, fields_out)
            continue
        if fieldname and fieldname != STATE_FIELD:
            if fields_out is not None and fieldname in OTHER_FIELDS:
                _field_row(table, row, fieldname, seen, fields_out, bad)
            continue  # e.g. incident_state, should the instance ignore our filter
        cp, old, new, user = (
            get("record_checkpoint"),
            get("oldvalue"),
            get("newvalue"),
            get("user"),
        )
        checkpoint = int(cp) if type(cp) is str and cp.isdecimal() else _int(cp)
        old = (old or None) if type(old) is str else text_value(old)
        new = (new or None) if type(new) is str else text_value(new)
        dedupe = (doc, checkpoint) if checkpoint is not None else (doc, (at, old, new))
        if dedupe in seen:
            continue
        seen.add(dedupe)
        out.append(
            ChangeRow(
                change_id,
                table,
                doc,
                at,
                old,
                new,
                (user or None) if type(user) is str else text_value(user),
                checkpoint,
                SYS_AUDIT,
                dumps_payload(row),
            )
        )
    return out, bad


def _audit_head(
    table: str, row: Row, bad: list[Quarantined]
) -> tuple[str, str, datetime, int | None, str] | None:
    """What every sys_audit row needs whatever its field (change id, document, time,
    checkpoint, payload), or None once the row is sent to `bad` with the reason."""
    payload = dumps_payload(row)
    change_id = ref_value(row.get("sys_id"))
    doc = ref_value(row.get("documentkey"))
    if not change_id or not doc:
        bad.append(
            Quarantined(
                f"{table}.history",
                change_id,
                "sys_audit row without sys_id or documentkey",
                payload,
            )
        )
        return None
    try:
        at = parse_snow_ts(row.get("sys_created_on"), "sys_created_on")
    except BadTimestamp as exc:
        bad.append(Quarantined(f"{table}.history", change_id, str(exc), payload))
        return None
    if at is None:
        bad.append(Quarantined(f"{table}.history", change_id, "missing sys_created_on", payload))
        return None
    return change_id, doc, at, _int(row.get("record_checkpoint")), payload


def _audit_row(
    table: str,
    row: Row,
    seen: set[tuple[str, Any]],
    out: list[ChangeRow],
    bad: list[Quarantined],
    fields_out: list[FieldChangeRow] | None = None,
) -> None:
    """One sys_audit row in any value shape: appended to `out`, to `bad` with the reason it
    cannot be landed, or dropped (another field, a repeat)."""
    fieldname = text_value(row.get("fieldname"))
    if fieldname is not None and fieldname != STATE_FIELD:
        if fields_out is not None and fieldname in OTHER_FIELDS:
            _field_row(table, row, fieldname, seen, fields_out, bad)
        return  # e.g. incident_state, should the instance ignore our filter
    head = _audit_head(table, row, bad)
    if head is None:
        return
    change_id, doc, at, checkpoint, payload = head
    old, new = text_value(row.get("oldvalue")), text_value(row.get("newvalue"))
    dedupe = (doc, checkpoint) if checkpoint is not None else (doc, (at, old, new))
    if dedupe in seen:
        return
    seen.add(dedupe)
    out.append(
        ChangeRow(
            change_id,
            table,
            doc,
            at,
            old,
            new,
            text_value(row.get("user")),
            checkpoint,
            SYS_AUDIT,
            payload,
        )
    )


def _field_row(
    table: str,
    row: Row,
    fieldname: str,
    seen: set[tuple[str, Any]],
    out: list[FieldChangeRow],
    bad: list[Quarantined],
) -> None:
    """One hold_reason / assignment_group audit row, values as read (a reference may come as
    {"value": sys_id}; an empty value stays empty: the insert-row rule is applied in core)."""
    head = _audit_head(table, row, bad)
    if head is None:
        return
    change_id, doc, at, checkpoint, payload = head
    old = ref_value(row.get("oldvalue")) or ""
    new = ref_value(row.get("newvalue")) or ""
    # the field is in the key: one update audits state, hold_reason and assignment_group
    # under the same checkpoint, and each is its own change
    dedupe = (doc, fieldname, checkpoint if checkpoint is not None else (at, old, new))
    if dedupe in seen:
        return
    seen.add(dedupe)
    out.append(
        FieldChangeRow(
            change_id,
            table,
            doc,
            fieldname,
            at,
            old,
            new,
            text_value(row.get("user")),
            checkpoint,
            payload,
        )
    )


def metric_changes(
    table: str, rows: Iterable[Row], current_state: Mapping[str, str | None]
) -> list[ChangeRow]:
    """metric_instance periods → transitions (see the module docstring for the rule)."""
    by_doc: dict[str, list[tuple[datetime, datetime | None, str | None, Row]]] = {}
    for row in rows:
        fieldname = text_value(row.get("field"))
        if fieldname is not None and fieldname != STATE_FIELD:
            continue  # another metric on the same records (e.g. assignment duration)
        doc = ref_value(row.get("id"))
        try:
            start = parse_snow_ts(row.get("start"), "start")
            end = parse_snow_ts(row.get("end"), "end")
        except BadTimestamp:
            continue
        if not doc or start is None:
            continue
        value = text_value(row.get("field_value")) or text_value(row.get("value"))
        by_doc.setdefault(doc, []).append((start, end, value, row))
    out: list[ChangeRow] = []
    for doc, periods in by_doc.items():
        periods.sort(key=lambda p: (p[0], str(p[3].get("sys_id"))))
        for (_s0, _e0, prev, _r0), (start, _end, value, row) in zip(
            periods, periods[1:], strict=False
        ):
            out.append(_metric_row(table, doc, start, prev, value, row, str(row.get("sys_id"))))
        _s, last_end, last_value, last_row = periods[-1]
        now_state = current_state.get(doc)
        if last_end is not None and now_state is not None and now_state != last_value:
            out.append(
                _metric_row(
                    table,
                    doc,
                    last_end,
                    last_value,
                    now_state,
                    last_row,
                    f"{last_row.get('sys_id')}:end",
                )
            )
    return out


def _metric_row(
    table: str, doc: str, at: datetime, old: str | None, new: str | None, row: Row, change_id: str
) -> ChangeRow:
    return ChangeRow(
        change_id, table, doc, at, old, new, None, None, METRIC_INSTANCE, dumps_payload(row)
    )


def observed_changes(
    records: Iterable[RecordRow], landed: Mapping[str, tuple[str | None, datetime]]
) -> list[ChangeRow]:
    """A change per record whose fetched state differs from the landed one."""
    out: list[ChangeRow] = []
    for rec in records:
        before = landed.get(rec.sys_id)
        if before is None:
            continue  # first sight: its state is the initial state, not a transition
        old_state, old_updated = before
        if old_state == rec.state or rec.updated_at <= old_updated:
            continue
        version = rec.mod_count if rec.mod_count is not None else rec.updated_at.isoformat()
        out.append(
            ChangeRow(
                f"observed:{rec.sys_id}:{version}",
                rec.table_name,
                rec.sys_id,
                rec.updated_at,
                old_state,
                rec.state,
                None,
                None,
                OBSERVED,
                dumps_payload({"observed": True, "previous_updated_at": old_updated.isoformat()}),
            )
        )
    return out


def _int(value: Any) -> int | None:
    text = text_value(value)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
