"""API JSON -> raw-layer rows: the only place that knows JIRA's payload shapes.

Rows are plain dicts collected into lists and landed in one bulk statement per table: per-row
inserts would make DuckDB, not JSON parsing, the cost of a sync. Timestamps arrive as
`2024-06-28T06:29:06.215-0700` (the API user's zone) or, from bulkfetch, as integer epoch
seconds; all are stored as UTC instants. A record we cannot trust raises `BadRecord` and goes
to quarantine instead of the warehouse.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

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
# Serialising payloads back to JSON is the biggest cost after parsing: the C encoder, no
# circular check (API JSON has no cycles), no ASCII escaping.
_dumps = json.JSONEncoder(separators=(",", ":"), check_circular=False, ensure_ascii=False).encode


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
        return datetime.fromtimestamp(secs, UTC)
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


def _name(obj: Any) -> str | None:
    return obj.get("name") if isinstance(obj, dict) else None


def issue_row(
    issue: dict[str, Any],
    *,
    base_url: str,
    synced_at: datetime,
    changelog_total: int | None,
    status_histories: int,
) -> dict[str, Any]:
    """One raw.jira_issues row, keyed by the immutable issue id."""
    issue_id = issue.get("id")
    if not issue_id:
        raise BadRecord("issue without an id")
    key = issue.get("key")
    if not key:
        raise BadRecord("issue without a key")
    fields = issue.get("fields") or {}
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
    payload = {k: v for k, v in issue.items() if k != "changelog"}
    return {
        "issue_id": str(issue_id),
        "issue_key": key,
        "project_key": project.get("key"),
        "issue_type": _name(fields.get("issuetype")),
        "summary": fields.get("summary"),
        "status_id": str(status["id"]) if status.get("id") is not None else None,
        "status_name": status.get("name"),
        "status_category": category.get("key"),
        "priority": _name(fields.get("priority")),
        "labels": [str(x) for x in fields.get("labels") or []],
        "components": [c.get("name") for c in fields.get("components") or [] if isinstance(c, dict)],
        "parent_key": parent.get("key"),
        "created_at": created,
        "updated_at": updated,
        "url": f"{base_url}/browse/{key}",
        "changelog_total": changelog_total,
        "status_histories": status_histories,
        "payload": _dumps(payload),
        "synced_at": synced_at,
        "is_deleted": False,
        "deleted_at": None,
    }


def is_status_item(item: dict[str, Any]) -> bool:
    """A change of the workflow status (old DC payloads have no `fieldId`; filter on `field`)."""
    return item.get("field") == "status" and item.get("fieldtype", "jira") == "jira"


def oldest_first(histories: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Histories in time order: embedded Cloud changelogs come newest first, the rest oldest."""
    if len(histories) >= 2:
        try:
            if parse_ts(histories[0].get("created")) > parse_ts(histories[-1].get("created")):
                return histories[::-1]
        except ValueError:
            pass
    return histories


def status_histories(histories: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [h for h in histories if any(is_status_item(i) for i in h.get("items") or [])]


def status_change_rows(
    issue_id: str, histories: list[dict[str, Any]], bad: list[tuple[str, str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """raw.jira_status_changes rows for one issue; `histories` oldest first.

    `source_order` numbers the status items in the order JIRA returned them, so same-instant
    changes keep their order downstream. Unusable histories are appended to `bad` as
    (record key, reason, payload).
    """
    rows: list[dict[str, Any]] = []
    order = 0
    for history in histories:
        items = history.get("items") or []
        status_items = [(n, i) for n, i in enumerate(items) if is_status_item(i)]
        if not status_items:
            continue
        hid = history.get("id")
        if hid is None:
            bad.append((issue_id, "changelog history without an id", history))
            continue
        try:
            at = parse_ts(history.get("created"))
        except ValueError as exc:
            bad.append((f"{issue_id}/{hid}", f"history created: {exc}", history))
            continue
        author = history.get("author") or {}
        payload = _dumps(history)
        for index, item in status_items:
            order += 1
            rows.append(
                {
                    "issue_id": issue_id,
                    "history_id": str(hid),
                    "item_index": index,
                    "changed_at": at,
                    "author": author.get("displayName"),
                    "from_status_id": _str_or_none(item.get("from")),
                    "from_status": item.get("fromString"),
                    "to_status_id": _str_or_none(item.get("to")),
                    "to_status": item.get("toString"),
                    "source_order": order,
                    "payload": payload,
                }
            )
    return rows


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
        "payload": _dumps(status),
        "synced_at": synced_at,
    }
