"""Turning Table API rows into raw.servicenow_records rows (and quarantine entries).

Why here and not in SQL: a row that cannot be landed (no sys_id, no number, an unreadable
timestamp) must go to raw.quarantine with its reason while the sync goes on, and reference
fields arrive in three shapes ({link, value}, a bare sys_id with
`sysparm_exclude_reference_link=true`, or "") that are normalised once, here. The payload is
kept exactly as returned.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from connectors.run import QuarantineRecord
from connectors.servicenow.client import Row
from connectors.servicenow.settings import ServiceNowSettings

#: Fields read for every table. Dot-walks fetch names/numbers in the same request instead of a
#: lookup per record; fields a table lacks are ignored by the instance.
COMMON_FIELDS = (
    "sys_id",
    "number",
    "short_description",
    "state",
    "priority",
    "impact",
    "urgency",
    "category",
    "subcategory",
    "assignment_group",
    "assignment_group.name",
    "assigned_to",
    "opened_by",
    "opened_at",
    "closed_at",
    "close_code",
    "active",
    "parent",
    "parent.number",
    "sys_created_on",
    "sys_updated_on",
    "sys_mod_count",
    "sys_class_name",
)
TABLE_FIELDS = {
    "incident": (
        "incident_state",
        "hold_reason",
        "resolved_at",
        "reopen_count",
        "reopened_time",
        "reassignment_count",
        "severity",
        "caused_by",
        "rfc",
        "problem_id",
        "problem_id.number",
        "parent_incident",
        "parent_incident.number",
    ),
    # correlation_id / correlation_display: where integrations put an external key (a JIRA
    # key): read for core.item_links; `links.change_request_fields` may add more (fields_for)
    "change_request": (
        "type",
        "risk",
        "on_hold",
        "start_date",
        "end_date",
        "correlation_id",
        "correlation_display",
    ),
    "problem": ("problem_state", "resolved_at"),
}

#: Parent reference per table, most specific first: a child incident's parent incident, then
#: the problem it is linked to, then the generic task parent.
PARENT_FIELDS = {
    "incident": ("parent_incident", "problem_id", "parent"),
    "change_request": ("parent",),
    "problem": ("parent",),
}

SNOW_TS = "%Y-%m-%d %H:%M:%S"


def fields_for(table: str, extra: Sequence[str] = ()) -> list[str]:
    """The `sysparm_fields` of one table: ours, then the configured `extra` ones not yet in."""
    fields = [*COMMON_FIELDS, *TABLE_FIELDS.get(table, ())]
    return fields + [f for f in dict.fromkeys(extra) if f not in fields]


def ref_value(value: Any) -> str | None:
    """A reference as a sys_id, whatever shape it came in; None when empty."""
    if type(value) is str:  # the raw shape, first: called for every row of every page
        return value.strip() or None
    if isinstance(value, dict):
        value = value.get("value")
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def text_value(value: Any) -> str | None:
    """A plain field as text ('' → None); tolerates `{value, display_value}` objects."""
    if type(value) is str:  # the raw shape, first
        return value or None
    if isinstance(value, dict):
        value = value.get("value", value.get("display_value"))
    if value is None:
        return None
    text = str(value)
    return text if text != "" else None


class BadTimestamp(ValueError):
    pass


def parse_snow_ts(value: Any, field: str) -> datetime | None:
    """Raw ServiceNow date-time (UTC, no suffix) → aware UTC datetime; '' → None."""
    text = text_value(value)
    if text is None:
        return None
    if (
        len(text) == 19
        and text[4] == "-"
        and text[7] == "-"
        and text[10] == " "
        and text[13] == ":"
        and text[16] == ":"
    ):
        # Fast path (~10x strptime): the raw form 'YYYY-MM-DD HH:MM:SS'. fromisoformat is
        # laxer than strptime elsewhere, so only this exact shape takes it.
        try:
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        except ValueError:
            pass
    try:
        return datetime.strptime(text, SNOW_TS).replace(tzinfo=UTC)
    except ValueError:
        raise BadTimestamp(f"unparseable {field} {text!r} (expected YYYY-MM-DD HH:MM:SS)") from None


# Payloads are kept as returned, serialised once with sorted keys. `orjson` (a declared
# dependency) writes compact, non-ASCII-preserving JSON several times faster than the stdlib; the
# stdlib encoder with the same output shape (sorted, compact, no ASCII escaping) is kept for what
# orjson refuses, e.g. integers beyond 64 bits or lone surrogates.
_std_dumps = json.JSONEncoder(
    separators=(",", ":"), sort_keys=True, ensure_ascii=False, check_circular=False
).encode
_SORT = orjson.OPT_SORT_KEYS


def dumps_payload(value: Any) -> str:
    """A payload as compact JSON text with sorted keys (the same text whichever encoder)."""
    try:
        return orjson.dumps(value, option=_SORT).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return _std_dumps(value)


def _ts_text(text: str) -> datetime | None:
    """The exact raw shape 'YYYY-MM-DD HH:MM:SS' → aware UTC datetime; None for anything else
    (the caller then takes the strict path, `parse_snow_ts`)."""
    if (
        len(text) == 19
        and text[4] == "-"
        and text[7] == "-"
        and text[10] == " "
        and text[13] == ":"
        and text[16] == ":"
    ):
        try:
            return datetime.fromisoformat(text + "+00:00")  # ~4x `.replace(tzinfo=UTC)`
        except ValueError:
            return None
    return None


#: A record that could not be trusted (the shared scaffold's typed quarantine record).
Quarantined = QuarantineRecord


class RecordRow(NamedTuple):
    """One row for raw.servicenow_records (column names match the table).

    A NamedTuple, not a dataclass: cheap to build per row, and columns come out of a list of
    them in one `zip(*rows)`.
    """

    sys_id: str
    table_name: str
    number: str
    short_description: str | None
    state: str | None
    priority: str | None
    category: str | None
    assignment_group_id: str | None
    assignment_group_name: str | None
    parent_key: str | None
    opened_at: datetime | None
    created_at: datetime | None
    updated_at: datetime
    url: str
    payload: str
    mod_count: int | None  # not landed as a column; used for observed-history ids


def to_record(table: str, row: Row, settings: ServiceNowSettings) -> RecordRow | Quarantined:
    """Map one API row, or say why it cannot be landed."""
    get = row.get
    sid, num, upd = get("sys_id"), get("number"), get("sys_updated_on")
    state = get("state")
    # Fast path: the shape raw values come in (plain non-empty strings, exact timestamps); any
    # other shape takes the general path below, which gives the same result for these.
    if (
        type(sid) is str
        and type(num) is str
        and type(upd) is str
        and type(state) is str
        and sid
        and num
        and state
        and sid == sid.strip()
    ):
        updated = _ts_text(upd)
        opened_raw, created_raw = get("opened_at"), get("sys_created_on")
        opened = (
            None
            if opened_raw == "" or opened_raw is None
            else _ts_text(opened_raw)
            if type(opened_raw) is str
            else False
        )
        created = (
            None
            if created_raw == "" or created_raw is None
            else opened
            if created_raw == opened_raw
            else _ts_text(created_raw)
            if type(created_raw) is str
            else False
        )
        if (
            updated is not None
            and opened is not False
            and created is not False
            and (opened is not None or not opened_raw)
            and (created is not None or not created_raw)
        ):
            short, prio, cat = get("short_description"), get("priority"), get("category")
            group, group_name = get("assignment_group"), get("assignment_group.name")
            return RecordRow(
                sid,
                table,
                num,
                (short or None) if type(short) is str else text_value(short),
                state,
                (prio or None) if type(prio) is str else text_value(prio),
                (cat or None) if type(cat) is str else text_value(cat),
                ref_value(group),
                (group_name or None) if type(group_name) is str else text_value(group_name),
                parent_key(table, row),
                opened,
                created,
                updated,
                settings.record_url(table, sid),
                dumps_payload(row),
                _int(get("sys_mod_count")),
            )
    return _to_record(table, row, settings)


def _to_record(table: str, row: Row, settings: ServiceNowSettings) -> RecordRow | Quarantined:
    """The general path of `to_record`: any value shape, and the reason a row is refused."""
    payload = dumps_payload(row)
    sys_id = ref_value(row.get("sys_id"))
    number = text_value(row.get("number"))
    key = number or sys_id
    missing = [
        f
        for f, v in (
            ("sys_id", sys_id),
            ("number", number),
            ("sys_updated_on", text_value(row.get("sys_updated_on"))),
            ("state", text_value(row.get("state"))),
        )  # else NULL stage/kind
        if not v
    ]
    if missing:
        return Quarantined(table, key, f"missing {', '.join(missing)}", payload)
    assert sys_id is not None and number is not None
    try:
        updated = parse_snow_ts(row.get("sys_updated_on"), "sys_updated_on")
        opened = parse_snow_ts(row.get("opened_at"), "opened_at")
        created = parse_snow_ts(row.get("sys_created_on"), "sys_created_on")
    except BadTimestamp as exc:
        return Quarantined(table, key, str(exc), payload)
    assert updated is not None
    return RecordRow(
        sys_id=sys_id,
        table_name=table,
        number=number,
        short_description=text_value(row.get("short_description")),
        state=text_value(row.get("state")),
        priority=text_value(row.get("priority")),
        category=text_value(row.get("category")),
        assignment_group_id=ref_value(row.get("assignment_group")),
        assignment_group_name=text_value(row.get("assignment_group.name")),
        parent_key=parent_key(table, row),
        opened_at=opened,
        created_at=created,
        updated_at=updated,
        url=settings.record_url(table, sys_id),
        payload=payload,
        mod_count=_int(row.get("sys_mod_count")),
    )


def parent_key(table: str, row: Row) -> str | None:
    """The parent's number when the dot-walk returned it, else its sys_id (documented)."""
    for field in PARENT_FIELDS.get(table, ("parent",)):
        sys_id = ref_value(row.get(field))
        if sys_id:
            return text_value(row.get(f"{field}.number")) or sys_id
    return None


def _int(value: Any) -> int | None:
    text = text_value(value)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
