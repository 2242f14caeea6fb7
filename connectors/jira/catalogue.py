"""What JIRA holds besides the issues read (the *catalogue* part of `sync_jira`): the status
catalogue (read on a full sync, when stale or when an issue is in an unknown status) and the
scope's count and id census that find deleted issues (`connectors.jira.deletions`)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import duckdb

from connectors.jira.client import JiraClient
from connectors.jira.deletions import confirm_gone, scope_count
from connectors.jira.records import status_row
from connectors.jira.search import iter_issue_pages

if TYPE_CHECKING:
    from connectors.jira.extract import Extract

log = logging.getLogger(__name__)

CENSUS_PAGE_CLOUD = 5000


def census_due(last: object, now: datetime, days: float) -> bool:
    if not isinstance(last, datetime):
        return True
    return now - last >= timedelta(days=days)


def known_statuses(
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


def read_statuses(client: JiraClient, now: datetime) -> list[dict[str, Any]]:
    return [
        row for row in (status_row(s, now) for s in client.get("/rest/api/2/status") or []) if row
    ]


def deletions(
    con: duckdb.DuckDBPyConnection,
    client: JiraClient,
    census_jql: str,
    end: datetime,
    found: Extract,
    page_size: int,
    *,
    due: bool,
) -> None:
    """Set `found.census_ids`, `found.gone` and `found.source_count` (see
    `connectors.jira.deletions`).

    Nothing is asked when every stored issue was re-read in this run (e.g. a first full
    sync): nothing could be missing. Otherwise JIRA's count for the scope is asked (one
    request) unless the census is due (`sync.census_days`, the backstop); the census is taken
    when it is due or when that count differs from the warehouse's after tonight's issues
    landed.
    """
    row = con.execute(
        "select count(*) from raw.jira_issues"
        " where not is_deleted and issue_id not in (select unnest(?::varchar[]))"
        " and (?::timestamptz is null or synced_at < ?::timestamptz)",
        [list(found.issues), found.landed_since, found.landed_since],
    ).fetchall()  # fetch to the end: the run's transaction goes on on this connection
    if not row or row[0][0] == 0:
        found.census_ids = []  # no count asked either: a first sync costs what it did
        return
    ours = _warehouse_count(con, end, found)
    if not due:
        theirs = scope_count(client, census_jql, end)
        found.source_count = (theirs, client.is_cloud is False)
        if theirs == ours:
            return
        log.info(
            "JIRA holds %d issues in scope, the warehouse %d: taking the id census", theirs, ours
        )
    found.census_ids = _census(client, census_jql, found, page_size)
    found.source_count = (len(set(found.census_ids)), True)
    if not found.census_ids and not found.issue_count:
        message = (
            "JIRA census found no issues in scope although the warehouse holds some: "
            "deletions were NOT marked (lost Browse permission looks the same)"
        )
        log.warning(message)
        found.warnings.append(message)
        return
    present = set(found.census_ids) | set(found.issues)
    # a backfill's earlier chunks are not in `found.issues` any more: what it landed is
    # recognised by synced_at (>= its start), exactly as the issues read in this run
    stored = {
        r[0]
        for r in con.execute(
            "select issue_id from raw.jira_issues where not is_deleted"
            " and (?::timestamptz is null or synced_at < ?::timestamptz)",
            [found.landed_since, found.landed_since],
        ).fetchall()
    }
    candidates = [i for i in stored if i not in present]
    if candidates:
        found.gone = confirm_gone(client, census_jql, candidates, page_size)
    # In scope at the source, yet not (or only as deleted) in the warehouse and not read
    # tonight: lost by an earlier run, or back after a deletion flag. Read them now. (A
    # backfill's earlier chunks are in the warehouse: landed since its start.)
    landed = {
        r[0]
        for r in con.execute(
            "select issue_id from raw.jira_issues where not is_deleted"
            " and ?::timestamptz is not null and synced_at >= ?::timestamptz",
            [found.landed_since, found.landed_since],
        ).fetchall()
    }
    quarantined = {q.record_key for q in found.quarantine}
    found.missing = sorted(
        set(found.census_ids) - stored - landed - set(found.issues) - quarantined,
        key=lambda i: (len(i), i),
    )


def _warehouse_count(con: duckdb.DuckDBPyConnection, end: datetime, found: Extract) -> int:
    """Non-deleted issues created and updated before `end` in raw (tonight's included: they
    landed), plus issues quarantined tonight that raw does not hold (JIRA counts them); sets
    `found.quarantined_absent` to the latter. The same range as `deletions.scope_count`."""
    quarantined = sorted(
        {
            q.record_key
            for q in found.quarantine
            if q.record_key and "/" not in q.record_key and q.record_key not in found.issues
        }
    )
    row = con.execute(
        "select count(*) filter (where not is_deleted and created_at < ? and updated_at < ?),"
        " count(*) filter (where issue_id in (select unnest(?::varchar[])))"
        " from raw.jira_issues",
        [end, end, quarantined],
    ).fetchall()
    found.quarantined_absent = len(quarantined) - row[0][1]
    return row[0][0] + found.quarantined_absent


def _census(client: JiraClient, jql: str, found: Extract, page_size: int) -> list[str]:
    """All issue ids in scope. A census cut short raises (`search.iter_issue_pages`)."""
    ids: list[str] = []
    size = CENSUS_PAGE_CLOUD if client.is_cloud else page_size
    for page in iter_issue_pages(
        client, jql, fields=["id"], page_size=size, warnings=found.warnings
    ):
        ids.extend(str(i["id"]) for i in page if isinstance(i, dict) and i.get("id"))
    log.info("JIRA census: %d issue ids in scope", len(ids))
    return ids
