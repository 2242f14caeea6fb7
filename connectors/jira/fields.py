"""The non-status history fields docs/contract.md §6 reads, found by name on each site.

JIRA Software's impediment flag is a custom field named `Flagged` whose id differs per site,
and the hand-off owner is whatever field `handoffs.jira_field` names (e.g. Atlassian's `Team`):
both are found by name in `GET /rest/api/2/field`. Issue links are the system field
`issuelinks`, whose changelog items are named `Link`.

Why here and not in the status code: these items ride along in the same history requests
(bulkfetch takes up to 10 `fieldIds`; Data Center's embedded changelog holds every field), so
the connector only has to ask for them and pick them out; no request per item is added. The
field catalogue itself is one request, read on the same schedule as the status catalogue
(full syncs, a stale or empty catalogue, or a configured owner field it does not know).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from connectors.jira.client import JiraClient

FIELDS_PATH = "/rest/api/2/field"
FLAGGED_NAME = "flagged"
LINK_ID = "issuelinks"
LINK_NAME = "link"
#: bulkfetch accepts at most 10 field ids (status included).
MAX_BULK_FIELDS = 10

FIELD_CHANGE_COLUMNS = (
    "issue_id",
    "history_id",
    "item_index",
    "changed_at",
    "author",
    "field",
    "field_id",
    "from_value",
    "from_string",
    "to_value",
    "to_string",
    "source_order",
)
FIELD_CHANGE_SCHEMA = pa.schema(
    [
        (
            name,
            {
                "item_index": pa.int64(),
                "changed_at": pa.timestamp("us", tz="UTC"),
                "source_order": pa.int64(),
            }.get(name, pa.string()),
        )
        for name in FIELD_CHANGE_COLUMNS
    ]
)


@dataclass(frozen=True)
class FieldSelection:
    """Which changelog items to keep besides status: by field id, or by recorded name (old
    Data Center payloads have no `fieldId`)."""

    ids: frozenset[str]
    names: frozenset[str]
    #: the configured owner field's id on this site (its current value is asked of search)
    owner_id: str | None = None

    def bulk_field_ids(self) -> list[str]:
        """`fieldIds` for bulkfetch: status first, then the others (at most 10 in all)."""
        return ["status", *sorted(self.ids)][:MAX_BULK_FIELDS]

    def search_fields(self, base: list[str]) -> list[str]:
        """Search `fields`: the base list plus the owner field when one is configured, so an
        item whose owner never changed still has its current owner in the landed payload
        (Cloud then grants smaller pages for 11 fields: the price of knowing it)."""
        if self.owner_id and self.owner_id not in base:
            return [*base, self.owner_id]
        return base

    def wants(self, item: dict[str, Any]) -> bool:
        field_id = item.get("fieldId")
        if field_id is not None and str(field_id) in self.ids:
            return True
        name = item.get("field")
        return isinstance(name, str) and name.casefold() in self.names


def select(catalogue: list[tuple[str, str]], handoff_field: str | None) -> FieldSelection:
    """The selection for a site's catalogue of (field id, name) and the configured owner field.

    `Link` is always wanted; `Flagged` when the site has it (by name, any id); the owner field
    by name or id. Names are kept too, so an item without `fieldId` still matches.
    """
    ids = {LINK_ID}
    names = {LINK_NAME, FLAGGED_NAME}
    owner_id = None
    wanted_owner = handoff_field.casefold() if handoff_field else None
    if wanted_owner:
        names.add(wanted_owner)
    for field_id, name in catalogue:
        lowered = (name or "").casefold()
        if lowered == FLAGGED_NAME:
            ids.add(field_id)
            names.add(lowered)
        if wanted_owner and wanted_owner in (lowered, field_id.casefold()):
            ids.add(field_id)
            names.add(lowered)
            owner_id = owner_id or field_id
    if wanted_owner and wanted_owner.startswith("customfield_"):
        ids.add(handoff_field)  # type: ignore[arg-type]
        owner_id = owner_id or handoff_field
    return FieldSelection(frozenset(ids), frozenset(names), owner_id)


def field_rows(payload: Any, now: datetime) -> list[dict[str, Any]]:
    """raw.jira_fields rows from a `GET /field` answer (entries without id or name skipped)."""
    import json

    rows = []
    for f in payload if isinstance(payload, list) else []:
        if isinstance(f, dict) and f.get("id") and isinstance(f.get("name"), str):
            rows.append(
                {
                    "field_id": str(f["id"]),
                    "name": f["name"],
                    "custom": bool(f.get("custom")),
                    "payload": json.dumps(f),
                    "synced_at": now,
                }
            )
    return rows


def stored_catalogue(
    con: duckdb.DuckDBPyConnection, now: datetime, max_age_days: float
) -> list[tuple[str, str]] | None:
    """The stored (id, name) catalogue, or None when it is empty or older than `max_age_days`."""
    rows = con.execute("select field_id, name, synced_at from raw.jira_fields").fetchall()
    if not rows:
        return None
    newest = max(r[2] for r in rows)
    if newest is None or now - newest >= timedelta(days=max_age_days):
        return None
    return [(r[0], r[1]) for r in rows]


def resolve(
    con: duckdb.DuckDBPyConnection,
    client: JiraClient,
    handoff_field: str | None,
    now: datetime,
    max_age_days: float,
    *,
    force: bool,
) -> tuple[FieldSelection, list[dict[str, Any]] | None]:
    """The selection, and the catalogue rows to land when it was read now (else None).

    One `GET /field` when forced (full sync), when the stored catalogue is stale or empty, or
    when a configured owner field is not in it; otherwise no request.
    """
    stored = None if force else stored_catalogue(con, now, max_age_days)
    if stored is not None:
        chosen = select(stored, handoff_field)
        known = {n.casefold() for _, n in stored} | {i.casefold() for i, _ in stored}
        if handoff_field is None or handoff_field.casefold() in known:
            return chosen, None
    rows = field_rows(client.get(FIELDS_PATH), now)
    return select([(r["field_id"], r["name"]) for r in rows], handoff_field), rows
