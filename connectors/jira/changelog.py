"""Complete status history per issue, whatever the deployment; never the embedded changelog
on trust.

Cloud: `POST /rest/api/3/changelog/bulkfetch` (up to 1000 issues and 10000 histories a call,
`fieldIds: ["status", <Flagged's id>, "issuelinks", <owner field>]`: the docs/contract.md §6 fields ride in
the same requests, see `connectors.jira.fields`), merged by `issueId` because one issue can span pages; when that
experimental endpoint answers 404, per-issue `GET /rest/api/3/issue/{id}/changelog` pages.
Data Center: the changelog embedded by `/search?expand=changelog` when it provably holds every
history (`startAt == 0` and as many histories as its `total`), else
`GET /rest/api/2/issue/{id}?expand=changelog`.

Completeness is checked (by the caller, while it maps each batch: `sync._collect`) where it can
be: against `total` (per-issue and DC routes), against the histories an embedded changelog
shows, and, for bulkfetch, the last status change must lead to the issue's current status
unless the issue changed after it was searched (else the issue is re-read per issue). A
shortfall raises `SourceError` naming the issue: wrong history is worse than a failed night.

The fetcher only sends requests; in a sync it runs on the prefetch thread (`sync._extract`),
which owns the client until it has finished.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from connectors.jira.client import JiraClient
from connectors.jira.errors import JiraHttpError
from connectors.jira.records import oldest_first, parse_ts, status_histories
from connectors.result import SourceError

log = logging.getLogger(__name__)

BULK_IDS = 1000
BULK_MAX_RESULTS = 10_000
BULK_PATH = "/rest/api/3/changelog/bulkfetch"
ISSUE_CHANGELOG_PAGE = 100
MAX_CHANGELOG_PAGES = 10_000


@dataclass
class History:
    """An issue's histories, oldest first, and the total JIRA claims when it says one."""

    histories: list[dict[str, Any]]
    total: int | None
    route: str


class ChangelogFetcher:
    """Fetches full histories for batches of issues; remembers a missing bulkfetch endpoint."""

    def __init__(
        self, client: JiraClient, warnings: list[str], field_ids: list[str] | None = None
    ) -> None:
        self.client = client
        self.warnings = warnings
        #: bulkfetch `fieldIds`: status plus the docs/contract.md §6 fields, in the same requests
        self.field_ids = field_ids or ["status"]
        self.bulk_available = client.is_cloud
        self.per_issue_available = True

    def fetch(self, issues: list[dict[str, Any]]) -> dict[str, History]:
        """Histories for up to `BULK_IDS` issues, keyed by issue id: requests only.

        The caller verifies each one with `check_complete` and `chain_mismatch` while it maps
        the batch (one walk over the items, see `records.scan_histories`) and re-reads the
        issues whose bulkfetch history does not reach their current status with `reread`.
        """
        ids = list(dict.fromkeys(str(i["id"]) for i in issues if i.get("id")))
        if not ids:
            return {}
        if not self.client.is_cloud:
            found: dict[str, History] = {}
            for issue in issues:
                key = str(issue.get("id") or "")
                # A later copy of an id takes an earlier one's place only when it can land: a
                # copy without `fields` (seen in real captures) is quarantined, not checked.
                if key and (key not in found or issue.get("fields")):
                    found[key] = self._datacenter(issue)
            return found
        if self.bulk_available:
            try:
                return self._bulkfetch(ids)
            except JiraHttpError as exc:
                if exc.status != 404:
                    raise
                message = (
                    "JIRA has no changelog/bulkfetch (HTTP 404): reading changelogs per "
                    "issue, one request each"
                )
                log.warning(message)
                self.warnings.append(message)
                self.bulk_available = False
        return self._per_issue_all(issues)

    def reread(self, issues: list[dict[str, Any]]) -> dict[str, History]:
        """Histories by a route that reports a total (bulkfetch does not)."""
        return self._per_issue_all(issues)

    def _bulkfetch(self, ids: list[str]) -> dict[str, History]:
        merged: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        body: dict[str, Any] = {
            "issueIdsOrKeys": ids,
            "fieldIds": self.field_ids,
            "maxResults": BULK_MAX_RESULTS,
        }
        seen: set[str] = set()
        for _ in range(MAX_CHANGELOG_PAGES):
            page = self.client.post(BULK_PATH, body) or {}
            logs = page.get("issueChangeLogs") or []
            for entry in logs:
                merged.setdefault(str(entry.get("issueId")), []).extend(
                    entry.get("changeHistories") or []
                )
            token = page.get("nextPageToken")
            if not token or not logs:
                break
            if token in seen:
                raise SourceError(
                    "JIRA changelog/bulkfetch repeated a page token; the status history "
                    "would be incomplete, so nothing was landed"
                )
            seen.add(token)
            body = {**body, "nextPageToken": token}
        else:
            raise SourceError(
                f"JIRA changelog/bulkfetch did not end after {MAX_CHANGELOG_PAGES} pages"
            )
        return {i: History(h, None, "bulkfetch") for i, h in merged.items()}

    def _per_issue_all(self, issues: list[dict[str, Any]]) -> dict[str, History]:
        """Per-issue changelog pages; where even that route is missing (HTTP 404 on an issue
        that search just returned), the issue resource with expand=changelog."""
        found: dict[str, History] = {}
        for issue in issues:
            issue_id = str(issue.get("id") or "")
            if not issue_id or issue_id in found:
                continue
            if self.per_issue_available:
                try:
                    found[issue_id] = self._per_issue(issue_id)
                    continue
                except JiraHttpError as exc:
                    if exc.status != 404:
                        raise
                    message = (
                        "JIRA has no paged issue changelog (HTTP 404): reading each issue with "
                        "expand=changelog"
                    )
                    log.warning(message)
                    self.warnings.append(message)
                    self.per_issue_available = False
            found[issue_id] = self._datacenter(issue)
        return found

    def _per_issue(self, issue_id: str) -> History:
        values: list[dict[str, Any]] = []
        total: int | None = None
        start = 0
        for _ in range(MAX_CHANGELOG_PAGES):
            page = (
                self.client.get(
                    f"/rest/api/3/issue/{issue_id}/changelog",
                    {"startAt": start, "maxResults": ISSUE_CHANGELOG_PAGE},
                )
                or {}
            )
            chunk = page.get("values") or []
            values.extend(chunk)
            if isinstance(page.get("total"), int):
                total = page["total"]
            start += len(chunk)
            if not chunk or page.get("isLast") is True or (total is not None and start >= total):
                break
        return History(oldest_first(values), total, "issue changelog")

    def _datacenter(self, issue: dict[str, Any]) -> History:
        embedded = issue.get("changelog")
        if isinstance(embedded, dict):
            histories = embedded.get("histories") or []
            total = embedded.get("total")
            if (
                embedded.get("startAt", 0) == 0
                and isinstance(total, int)
                and len(histories) >= total
            ):
                return History(oldest_first(histories), total, "search expand=changelog")
        full = (
            self.client.get(
                f"/rest/api/2/issue/{issue['id']}", {"expand": "changelog", "fields": "status"}
            )
            or {}
        )
        changelog = full.get("changelog") or {}
        return History(
            oldest_first(changelog.get("histories") or []),
            changelog.get("total"),
            "issue expand=changelog",
        )


def check_complete(issue: dict[str, Any], got: History) -> None:
    """Raise `SourceError` when `got` provably lacks histories of `issue`."""
    if not issue.get("fields"):
        return  # nothing of it lands: records.issue_row quarantines it
    who = f"{issue.get('key')} (id {issue.get('id')})"
    if got.total is not None and len(got.histories) < got.total:
        raise _shortfall(who, f"{len(got.histories)} of {got.total} histories", got.route)
    embedded = issue.get("changelog")
    if isinstance(embedded, dict):
        shown = {str(h.get("id")) for h in status_histories(embedded.get("histories") or [])}
        have = {str(h.get("id")) for h in got.histories}
        missing = shown - have
        if missing:
            raise _shortfall(
                who,
                f"{len(missing)} status histories shown in the search result are missing",
                got.route,
            )


def chain_mismatch(
    issue: dict[str, Any], got: History, last_item: dict[str, Any] | None, last_created: Any
) -> str | None:
    """Why the fetched history does not end in the issue's current status, or None.

    `last_item` is the last status item of `got` in time order and `last_created` its
    history's `created`, as found by `records.scan_histories` (no second walk here).
    """
    fields = issue.get("fields") or {}
    current = (fields.get("status") or {}).get("id")
    if last_item is None or current is None or last_item.get("to") is None:
        return None
    if str(last_item["to"]) == str(current):
        return None
    try:
        changed_later = parse_ts(last_created) > parse_ts(fields.get("updated"))
    except ValueError:
        changed_later = False
    if changed_later:
        return None  # the issue moved on after the search; the next window re-reads it
    return (
        f"the last status change (via {got.route}) leads to status {last_item['to']} but the "
        f"issue is in status {current}"
    )


def _shortfall(who: str, what: str, route: str) -> SourceError:
    return SourceError(
        f"JIRA returned an incomplete changelog for {who} via {route}: {what}; "
        "nothing was landed and the cursor was not moved"
    )
