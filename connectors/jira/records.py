"""API JSON -> raw-layer rows: the only place that knows JIRA's payload shapes.

Rows are tuples in the order of `ISSUE_COLUMNS` / `CHANGE_COLUMNS`, collected per issue and
landed as one column-built DataFrame per table: per-row inserts (or DataFrames built from
lists of dicts) would make landing, not JSON parsing, the cost of a sync. Each history's items
are walked once (`scan_histories` returns the rows and everything the completeness checks need)
and each payload is serialised once. Timestamps arrive as `2024-06-28T06:29:06.215-0700` (the
API user's zone) or, from bulkfetch, as integer epoch seconds; all are stored as UTC instants.
A record we cannot trust raises `BadRecord` and goes to quarantine instead of the warehouse.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa

from connectors.staging import valid_text

#: Fields asked of search: exactly what `core` derives from (warehouse/sql/core/*.sql reads
#: summary, status, issuetype, project, priority, labels, components, parent, created and
#: updated; `id`/`key` always come). At most 10 on purpose: Cloud grants far fewer issues per
#: page when more are asked (the sandbox, like Cloud, caps 11+ fields at 100 issues a page and
#: grants 1000 for 10), so one more field here multiplies the search requests by ten.
ISSUE_FIELDS = [
    "summary",
    "status",
    "issuetype",
    "project",
    "priority",
    "labels",
    "components",
    "parent",
    "created",
    "updated",
]

_EPOCH_MS_THRESHOLD = 100_000_000_000  # larger integers are milliseconds, not seconds
# Serialising payloads back to JSON is the biggest client cost after parsing. `orjson` (a
# declared dependency) writes compact UTF-8 several times faster than the stdlib. What it refuses
# goes to the stdlib: integers beyond 64 bits keep their value; a lone surrogate (an escape JSON
# allows and only the stdlib parser lets through, but no UTF-8 text or DuckDB JSON can hold)
# becomes U+FFFD, the one change ever made to a landed payload.
_std_dumps = json.JSONEncoder(
    separators=(",", ":"), check_circular=False, ensure_ascii=False
).encode


def _dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON bytes. Bytes, not str, on purpose: staged rows hand them to Arrow as
    they are, while a str with any non-ASCII character (names, summaries) must be re-encoded
    to UTF-8 by Arrow first -- ~50x slower, and it was the largest cost of staging a batch."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return _std_dumps(valid_text(value)).encode()


class BadRecord(ValueError):
    """A record missing a field we key or order on; the message is the quarantine reason."""


def parse_ts(value: Any) -> datetime:
    """An aware UTC datetime from an ISO string with an offset or an integer epoch.

    Raises:
        ValueError: when the value is absent, naive (no offset: the instant is unknown) or
            not a timestamp.
    """
    if value is None or isinstance(value, bool):
        raise ValueError("missing timestamp")
    if isinstance(value, int | float):
        secs = value / 1000 if abs(value) >= _EPOCH_MS_THRESHOLD else value
        try:
            return datetime.fromtimestamp(secs, UTC)
        except (OverflowError, OSError, ValueError):
            # `1e30`, `10**30`, NaN: no instant a warehouse can hold
            raise ValueError(f"timestamp out of range: {value!r}") from None
    if isinstance(value, str):
        try:  # fast path: JIRA's usual `2024-06-28T06:29:06.215-0700`
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None:
                return parsed.astimezone(UTC)
        text = value.strip()
        if text.lstrip("-").isdigit():
            return parse_ts(int(text))
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            raise ValueError(f"timestamp without an offset: {text!r}")
        return parsed.astimezone(UTC)
    raise ValueError(f"not a timestamp: {value!r}")


def _fast_ts(value: Any) -> datetime:
    """`parse_ts` with the common case (an ISO string with an offset) inlined."""
    if value.__class__ is str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return parse_ts(value)
        if parsed.tzinfo is not None:
            return parsed.astimezone(UTC)
    return parse_ts(value)


def _kind(value: Any) -> str:
    return type(value).__name__


def _object(fields: dict[str, Any], name: str, *, required: bool = False) -> dict[str, Any]:
    value = fields.get(name)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise BadRecord(f"fields.{name}: expected an object, got {_kind(value)}")
    return value


def _text(value: Any, where: str) -> None:
    if value is not None and not isinstance(value, str):
        raise BadRecord(f"{where}: expected text, got {_kind(value)}")


def _id(value: Any, where: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, str | int)):
        raise BadRecord(f"{where}: expected text or a number, got {_kind(value)}")


_STR_OR_NONE = (str, type(None))
_NAMED = (("issuetype", "name"), ("priority", "name"), ("project", "key"), ("parent", "key"))


def _usual(issue: Any) -> bool:
    """True when every field `check_shape` looks at has the type JIRA sends (the fast path:
    one pass of class checks, ~2 us an issue; anything else takes the detailed check)."""
    if issue.__class__ is not dict:
        return False
    iid, key, fields = issue.get("id"), issue.get("key"), issue.get("fields")
    if not (
        iid.__class__ is str
        and iid
        and key.__class__ is str
        and key
        and fields.__class__ is dict
        and fields
    ):
        return False
    get = fields.get
    if get("created").__class__ is not str or get("updated").__class__ is not str:
        return False
    status = get("status")
    if status is not None:
        if (
            status.__class__ is not dict
            or status.get("id").__class__ not in _STR_OR_NONE
            or status.get("name").__class__ not in _STR_OR_NONE
        ):
            return False
        category = status.get("statusCategory")
        if category is not None and (
            category.__class__ is not dict or category.get("key").__class__ not in _STR_OR_NONE
        ):
            return False
    if get("summary").__class__ not in _STR_OR_NONE:
        return False
    for name, attr in _NAMED:
        value = get(name)
        if value is not None and (
            value.__class__ is not dict or value.get(attr).__class__ not in _STR_OR_NONE
        ):
            return False
    labels = get("labels")
    if labels is not None:
        if labels.__class__ is not list:
            return False
        for x in labels:
            if x.__class__ is not str:
                return False
    components = get("components")
    if components is not None:
        if components.__class__ is not list:
            return False
        for c in components:
            if c.__class__ is not dict or c.get("name").__class__ not in _STR_OR_NONE:
                return False
    changelog = issue.get("changelog")
    return changelog is None or (
        changelog.__class__ is dict and changelog.get("histories", []).__class__ is list
    )


def check_shape(issue: Any) -> None:
    """Raise `BadRecord` naming the first field whose JSON type is not what JIRA sends.

    Why: a record the mapping cannot read must cost that record (quarantined with this
    reason), never the night -- a `status` sent as a string or `labels` as a number used to
    raise deep inside the mapping, roll the run back and fail every night after. Called before
    the history checks and the mapping, which may then trust these types.
    """
    if _usual(issue):
        return
    if not isinstance(issue, dict):
        raise BadRecord(f"issue: expected an object, got {_kind(issue)}")
    _id(issue.get("id"), "id")
    if not issue.get("id"):
        raise BadRecord("issue without an id")
    key = issue.get("key")
    if not key:
        raise BadRecord("issue without a key")
    if not isinstance(key, str):
        raise BadRecord(f"key: expected text, got {_kind(key)}")
    fields = issue.get("fields")
    if not isinstance(fields, dict) or not fields:
        raise BadRecord("issue without fields: the payload has no `fields` object to map")
    for name in ("created", "updated"):
        value = fields.get(name)
        if value.__class__ is str:
            continue  # parsed (and refused with its reason) by issue_row; parsing costs
        try:
            parse_ts(value)
        except ValueError as exc:
            raise BadRecord(f"fields.{name}: {exc}") from None
    status = _object(fields, "status")
    _id(status.get("id"), "fields.status.id")
    _text(status.get("name"), "fields.status.name")
    category = status.get("statusCategory")
    if category is not None and not isinstance(category, dict):
        raise BadRecord(f"fields.status.statusCategory: expected an object, got {_kind(category)}")
    _text((category or {}).get("key"), "fields.status.statusCategory.key")
    _text(fields.get("summary"), "fields.summary")
    for name, attr in _NAMED:
        _text(_object(fields, name).get(attr), f"fields.{name}.{attr}")
    labels = fields.get("labels")
    if labels is not None and (
        not isinstance(labels, list) or not all(isinstance(x, str) for x in labels)
    ):
        raise BadRecord(f"fields.labels: expected a list of text, got {_kind(labels)}")
    components = fields.get("components")
    if components is not None and (
        not isinstance(components, list) or not all(isinstance(c, dict) for c in components)
    ):
        raise BadRecord(f"fields.components: expected a list of objects, got {_kind(components)}")
    for c in components or ():
        _text(c.get("name"), "fields.components.name")
    changelog = issue.get("changelog")
    if changelog is not None and (
        not isinstance(changelog, dict) or not isinstance(changelog.get("histories", []), list)
    ):
        raise BadRecord("changelog: expected an object with a list of histories")


def _name(obj: Any) -> str | None:
    return obj.get("name") if isinstance(obj, dict) else None


ISSUE_COLUMNS = (
    "issue_id",
    "issue_key",
    "project_key",
    "issue_type",
    "summary",
    "status_id",
    "status_name",
    "status_category",
    "priority",
    "labels",
    "components",
    "parent_key",
    "created_at",
    "updated_at",
    "url",
    "changelog_total",
    "status_histories",
    "payload",
    "synced_at",
    "is_deleted",
    "deleted_at",
)
CHANGE_COLUMNS = (
    "issue_id",
    "history_id",
    "item_index",
    "changed_at",
    "author",
    "from_status_id",
    "from_status",
    "to_status_id",
    "to_status",
    "source_order",
    "payload",
)
_TS = pa.timestamp("us", tz="UTC")
_STR_LIST = pa.list_(pa.string())
#: Arrow types of the row tuples, in column order (raw.jira_issues / raw.jira_status_changes;
#: `json` columns travel as text and are validated by DuckDB on insert).
ISSUE_SCHEMA = pa.schema(
    [
        (
            name,
            {
                "labels": _STR_LIST,
                "components": _STR_LIST,
                "created_at": _TS,
                "updated_at": _TS,
                "synced_at": _TS,
                "deleted_at": _TS,
                "changelog_total": pa.int64(),
                "status_histories": pa.int64(),
                "is_deleted": pa.bool_(),
            }.get(name, pa.string()),
        )
        for name in ISSUE_COLUMNS
    ]
)
CHANGE_SCHEMA = pa.schema(
    [
        (
            name,
            {"item_index": pa.int64(), "changed_at": _TS, "source_order": pa.int64()}.get(
                name, pa.string()
            ),
        )
        for name in CHANGE_COLUMNS
    ]
)
#: Position of `status_id` in an issue row (the catalogue check reads it back).
ISSUE_STATUS_ID = ISSUE_COLUMNS.index("status_id")


def issue_row(
    issue: dict[str, Any],
    *,
    base_url: str,
    synced_at: datetime,
    changelog_total: int | None,
    status_histories: int,
) -> tuple[Any, ...]:
    """One raw.jira_issues row (`ISSUE_COLUMNS` order), keyed by the immutable issue id."""
    issue_id = issue.get("id")
    if not issue_id:
        raise BadRecord("issue without an id")
    key = issue.get("key")
    if not key:
        raise BadRecord("issue without a key")
    fields = issue.get("fields")
    if not isinstance(fields, dict) or not fields:
        # seen in real captures (an issue copy with no `fields` at all): say so, rather than
        # naming the first field that happens to be missing
        raise BadRecord("issue without fields: the payload has no `fields` object to map")
    try:
        created = parse_ts(fields.get("created"))
    except ValueError as exc:
        raise BadRecord(f"fields.created: {exc}") from None
    try:
        updated = parse_ts(fields.get("updated"))
    except ValueError as exc:
        raise BadRecord(f"fields.updated: {exc}") from None
    status = fields.get("status") or {}
    if status.get("id") is None and not status.get("name"):
        # no current status: core could give it no stage or kind (NULLs in every metric)
        raise BadRecord("fields.status: missing or null")
    category = status.get("statusCategory") or {}
    project = fields.get("project") or {}
    parent = fields.get("parent") or {}
    payload = (
        {k: v for k, v in issue.items() if k != "changelog"} if "changelog" in issue else issue
    )
    return (
        str(issue_id),
        key,
        project.get("key"),
        _name(fields.get("issuetype")),
        fields.get("summary"),
        str(status["id"]) if status.get("id") is not None else None,
        status.get("name"),
        category.get("key"),
        _name(fields.get("priority")),
        [str(x) for x in fields.get("labels") or []],
        [c.get("name") for c in fields.get("components") or [] if isinstance(c, dict)],
        parent.get("key"),
        created,
        updated,
        f"{base_url}/browse/{key}",
        changelog_total,
        status_histories,
        _dumps(payload),
        synced_at,
        False,
        None,
    )


def is_status_item(item: dict[str, Any]) -> bool:
    """A change of the workflow status (old DC payloads have no `fieldId`; filter on `field`)."""
    return item.get("field") == "status" and item.get("fieldtype", "jira") == "jira"


def oldest_first(histories: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Histories in time order: embedded Cloud changelogs come newest first, the rest oldest."""
    if len(histories) >= 2:
        try:
            if parse_ts(histories[0].get("created")) > parse_ts(histories[-1].get("created")):
                return histories[::-1]
        except (ValueError, AttributeError):  # a malformed end: scan_histories says why
            pass
    return histories


def status_histories(histories: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        h
        for h in histories
        if isinstance(h, dict)
        and isinstance(h.get("items"), list)
        and any(isinstance(i, dict) and is_status_item(i) for i in h["items"])
    ]


@dataclass(slots=True)
class HistoryScan:
    """One walk over an issue's histories: its status-change rows and what the checks need.

    `status_histories` counts every history with a status item (landed or quarantined);
    `landed` only those that produced rows. `last_item`/`last_created` are the last status item
    in time order and its history's `created` (raw), for `changelog.chain_mismatch`.
    """

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    field_rows: list[tuple[Any, ...]] = field(default_factory=list)
    status_histories: int = 0
    landed: int = 0
    last_item: dict[str, Any] | None = None
    last_created: Any = None


def scan_histories(
    issue_id: str,
    histories: list[dict[str, Any]],
    bad: list[tuple[str, str, dict[str, Any]]],
    wanted: Callable[[dict[str, Any]], bool] | None = None,
) -> HistoryScan:
    """raw.jira_status_changes rows (`CHANGE_COLUMNS` order) for one issue; histories oldest
    first, each history's items walked once and its payload serialised once.

    `source_order` numbers the status items in the order JIRA returned them, so same-instant
    changes keep their order downstream. Unusable histories are appended to `bad` as
    (record key, reason, payload). Items `wanted` picks (docs/contract.md §6: Flagged, Link, the owner
    field) become raw.jira_field_changes rows in `field_rows`, in the same walk.
    """
    scan = HistoryScan()
    rows = scan.rows
    order = 0
    field_order = 0
    if not all(isinstance(h, dict) for h in histories):
        for h in histories:
            if not isinstance(h, dict):
                bad.append((issue_id, "changelog history is not an object", {"history": h}))
        histories = [h for h in histories if isinstance(h, dict)]
    ids = [h.get("id") for h in histories]
    if len(set(ids)) != len(ids):
        histories = last_copies(histories)
    for history in histories:
        status_items = None
        other_items = None
        items = history.get("items") or ()
        if not isinstance(items, list | tuple):
            bad.append(
                (
                    f"{issue_id}/{history.get('id')}",
                    f"changelog history items: expected a list, got {_kind(items)}",
                    history,
                )
            )
            continue
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                continue  # not a change of anything we read
            if item.get("field") == "status" and item.get("fieldtype", "jira") == "jira":
                if status_items is None:
                    status_items = [(index, item)]
                else:
                    status_items.append((index, item))
            elif wanted is not None and wanted(item):
                if other_items is None:
                    other_items = [(index, item)]
                else:
                    other_items.append((index, item))
        if status_items is None and other_items is None:
            continue
        created = history.get("created")
        if status_items is not None:
            scan.status_histories += 1
            scan.last_item = status_items[-1][1]
            scan.last_created = created
        hid = history.get("id")
        if hid is None:
            bad.append((issue_id, "changelog history without an id", history))
            continue
        try:
            at = _fast_ts(created)
        except ValueError as exc:
            bad.append((f"{issue_id}/{hid}", f"history created: {exc}", history))
            continue
        author = history.get("author")
        name = author.get("displayName") if isinstance(author, dict) else None
        hid = str(hid)
        for index, item in other_items or ():
            field_order += 1
            scan.field_rows.append(
                (
                    issue_id,
                    hid,
                    index,
                    at,
                    name,
                    str(item.get("field")),
                    _str_or_none(item.get("fieldId")),
                    _str_or_none(item.get("from")),
                    _str_or_none(item.get("fromString")),
                    _str_or_none(item.get("to")),
                    _str_or_none(item.get("toString")),
                    field_order,
                )
            )
        if status_items is None:
            continue
        payload = _dumps(history)
        scan.landed += 1
        for index, item in status_items:
            order += 1
            frm = item.get("from")
            to = item.get("to")
            rows.append(
                (
                    issue_id,
                    hid,
                    index,
                    at,
                    name,
                    None if frm is None else str(frm),
                    item.get("fromString"),
                    None if to is None else str(to),
                    item.get("toString"),
                    order,
                    payload,
                )
            )
    return scan


def last_copies(histories: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The histories with only the last copy of each id (a history read twice, e.g. over
    overlapping changelog pages, is one change): so the rows of one issue copy are unique by
    (history_id, item_index) and land without a latest-copy pass. Histories without an id are
    all kept (they are quarantined)."""
    last = {str(h.get("id")): n for n, h in enumerate(histories) if h.get("id") is not None}
    return [
        h for n, h in enumerate(histories) if h.get("id") is None or last[str(h.get("id"))] == n
    ]


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def status_row(status: dict[str, Any], synced_at: datetime) -> dict[str, Any] | None:
    """One raw.jira_statuses row from GET /rest/api/2/status; None without id or name."""
    if status.get("id") is None or not status.get("name"):
        return None
    category = status.get("statusCategory") or {}
    return {
        "status_id": str(status["id"]),
        "name": status["name"],
        "category_key": category.get("key"),
        "payload": _dumps(status).decode(),
        "synced_at": synced_at,
    }
