"""Issue search paging for both deployments, in one place.

Cloud (`search/jql`, through the `jira` library with `json_result=True`) pages by
`nextPageToken` and has no total: it ends on `isLast` or a missing token; a repeated token or
a run of empty pages that still carry a token is a scan cut short, an error (API-NOTES 1.2,
SPEC 4). Data Center (`/rest/api/2/search`) pages by value -- a keyset on `(updated, id)`, or
`id` for the census -- because `startAt` loses issues edited mid-scan; an empty page while
`total` says more is an error. Either way a hard page cap turns a runaway loop into a loud
failure instead of a never-ending sync.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from connectors.jira.client import JiraClient
from connectors.jira.jql import CENSUS_ORDER, ISSUE_ORDER, epoch_ms
from connectors.jira.records import parse_ts
from connectors.result import SourceError

log = logging.getLogger(__name__)

MAX_PAGES = 20_000
DC_SEARCH = "/rest/api/2/search"


def iter_issue_pages(
    client: JiraClient,
    jql: str,
    *,
    fields: list[str],
    page_size: int,
    expand: str | None = None,
    max_pages: int | None = None,
    warnings: list[str] | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Yield the non-empty pages of raw issue JSON matching `jql`, in server order."""
    pages = _cloud_pages if client.is_cloud else _dc_pages
    sink = warnings if warnings is not None else []
    max_pages = max_pages or MAX_PAGES
    for count, page in enumerate(pages(client, jql, fields, page_size, expand, sink), start=1):
        if count > max_pages:
            raise SourceError(
                f"JIRA search did not end after {max_pages} pages (query: {jql}); stopping "
                "instead of paging forever. Narrow sources.jira.jql or raise the page cap."
            )
        yield page


def _cloud_pages(
    client: JiraClient,
    jql: str,
    fields: list[str],
    page_size: int,
    expand: str | None,
    warnings: list[str],
) -> Iterator[list[dict[str, Any]]]:
    """`search/jql` by `nextPageToken`. The end is `isLast` or a page without a token; a
    token seen before, or pages that keep coming back empty while carrying a token, mean the
    scan was cut short: that is an error (SPEC 4: never a census, never a cursor move)."""
    token: str | None = None
    seen: set[str] = set()
    empty = 0
    while True:
        page = client.search_jql_page(
            jql, token=token, max_results=page_size, fields=fields, expand=expand
        )
        issues = page.get("issues") or []
        if issues:
            empty = 0
            yield issues
        nxt = page.get("nextPageToken")
        if page.get("isLast") is True or not nxt:
            return
        if nxt in seen or nxt == token:
            raise SourceError(
                f"JIRA search repeated page token {nxt[:12]}... after {len(seen) + 1} pages "
                f"(query: {jql}): the scan was cut short, so nothing was landed, no issue was "
                "marked deleted and the cursor was not moved"
            )
        if not issues:
            empty += 1
            if empty > MAX_EMPTY_PAGES:
                raise SourceError(
                    f"JIRA search returned {empty} empty pages in a row that still carry a "
                    f"page token (query: {jql}): the scan was cut short, so nothing was "
                    "landed, no issue was marked deleted and the cursor was not moved"
                )
        seen.add(nxt)
        token = nxt


def _dc_pages(
    client: JiraClient,
    jql: str,
    fields: list[str],
    page_size: int,
    expand: str | None,
    warnings: list[str],
) -> Iterator[list[dict[str, Any]]]:
    """`/search` paged by value, not by position.

    Why: `startAt` over `ORDER BY updated` skips an issue whenever one read earlier is edited
    during the scan (it leaves its place, every later issue moves up one, and the issue at the
    next page boundary is never returned -- the cursor then passes it for good). So every page
    after the first asks for the issues after the last one read: `(updated > U OR (updated = U
    AND id > I))` for our `ORDER BY updated ASC, id ASC` windows, `id > I` for the id census.
    An issue edited mid-scan moves to the end, where the scan still reads it. `total` is
    then the count *after* the key, so the scan ends when a page holds all of it: as many
    requests as pages, the minimum. Each page depends on the one before, so pages are asked one
    at a time (the two-in-flight position guess cannot be made by value).

    A page that comes back empty while `total` still counts issues is a scan cut short: an
    error, never the end. Other orders (none of ours) fall back to `startAt`.
    """
    body, keyset = _keyset_of(jql)
    if "updated" not in fields and keyset == "updated":
        fields = [*fields, "updated"]

    def ask(query: str, start: int) -> dict[str, Any]:
        params: dict[str, Any] = {
            "jql": query,
            "startAt": start,
            "maxResults": page_size,
            "fields": ",".join(fields),
        }
        if expand:
            params["expand"] = expand
        return client.get(DC_SEARCH, params) or {}

    after: str | None = None
    start = 0
    pages = 0
    while True:
        query = jql if after is None else f"({body}) AND {after} {_ORDERS[keyset]}"
        page = ask(query, 0 if keyset else start)
        pages += 1
        issues = page.get("issues")
        if not isinstance(issues, list):
            raise SourceError(f"JIRA search page {pages} has no list of issues (query: {query})")
        total = page.get("total")
        if not issues:
            if isinstance(total, int) and total > 0:
                raise SourceError(
                    f"JIRA search page {pages} came back empty although the server counts "
                    f"{total} more issues (query: {query}): the scan was cut short, so nothing "
                    "was landed, no issue was marked deleted and the cursor was not moved"
                )
            return
        # every copy is yielded: an issue edited mid-scan comes again at the end, and that
        # later copy must win (the sync keeps the last copy of an id)
        yield issues
        if isinstance(total, int) and len(issues) >= total:
            return
        if keyset:
            nxt = _after(issues, keyset)
            if nxt is None or nxt == after:
                raise SourceError(
                    f"JIRA search page {pages} gives no issue to page on from (query: {query})"
                )
            after = nxt
        else:
            start += len(issues)


MAX_EMPTY_PAGES = 3
_ORDERS = {"updated": ISSUE_ORDER, "id": CENSUS_ORDER}


def split_order(jql: str) -> tuple[str, str]:
    """(the query without our ORDER BY, that ORDER BY or "") for the orders we send."""
    text = jql.rstrip()
    for order in _ORDERS.values():
        if text.endswith(order):
            return text[: -len(order)].rstrip(), order
    return text, ""


def _keyset_of(jql: str) -> tuple[str, str | None]:
    """(the query without its ORDER BY, the keyset it allows: "updated", "id" or None)."""
    body, order = split_order(jql)
    return body, next((name for name, o in _ORDERS.items() if o == order), None)


def _after(issues: list[Any], keyset: str) -> str | None:
    """The keyset clause for the issues after the last well-formed one of `issues` (a
    malformed record at the end is read again; the copy is quarantined like the first)."""
    for issue in reversed(issues):
        if not isinstance(issue, dict):
            continue
        raw_id = issue.get("id")
        if isinstance(raw_id, bool) or not str(raw_id or "").isdigit():
            continue
        if keyset == "id":
            return f"id > {raw_id}"
        fields = issue.get("fields")
        try:
            ms = epoch_ms(parse_ts(fields.get("updated") if isinstance(fields, dict) else None))
        except ValueError:
            continue
        return f"(updated > {ms} OR (updated = {ms} AND id > {raw_id}))"
    return None
