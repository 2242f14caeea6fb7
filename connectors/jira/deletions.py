"""Deletions: when to take the id census, and which absent issues are really gone.

docs/contract.md §4: a deletion is flagged by the first successful sync after it, and never from an
incomplete listing. Reading every id in scope each night would cost pages in proportion to the
whole scope; an incremental scan never sees a deletion (a deleted issue matches no `updated`
window). So each night asks JIRA one number -- how many issues the scope holds (created before
the window's end) -- and compares it with the warehouse's non-deleted issues in that range,
*after* tonight's issues have landed (so tonight's new issues count on both sides). Equal: no
deletion to find (see docs/reliability.md for why, and for the limits). Different: take the id
census. Census pages cut short are an error (`search.py`), and each candidate is confirmed
before it is flagged: `GET /issue/{id}` answering 404 (deleted, or no longer visible to this
account); an issue that still answers is searched for within the scope -- found there, the
census missed it, and the run fails rather than flag a live issue; not found, it left the
scope, which docs/contract.md §4 counts as deleted too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from connectors.jira.client import JiraClient
from connectors.jira.errors import JiraHttpError
from connectors.jira.jql import epoch_ms
from connectors.jira.search import DC_SEARCH, iter_issue_pages, split_order
from connectors.result import SourceError

log = logging.getLogger(__name__)

COUNT_PATH = "/rest/api/3/search/approximate-count"
#: ids per `id in (...)` confirmation search: short enough for any JQL length limit
CONFIRM_BATCH = 100


def scope_count(client: JiraClient, census_jql: str, end: datetime) -> int:
    """How many issues of the census query JIRA holds that were last updated before `end`:
    one request.

    Why `updated < end` too: an issue created since the last sync and edited again after
    `end` (in the `lag`) is in the scope but not yet read; counting it would hide a deletion
    the same night. So both sides count only issues whose copy the scan could read; an
    issue the warehouse read earlier and that was edited after `end` makes the counts differ
    (a census that night: cost, never a miss). Cloud: `POST search/approximate-count`
    (approximate: search is eventually consistent, so it only decides *whether* to take the
    census, never *what* was deleted). Data Center: `/search` with `maxResults=0`, whose
    `total` is exact.
    """
    body, _ = split_order(census_jql)
    body = f"{body} AND updated < {epoch_ms(end)}"
    if client.is_cloud:
        answer = client.post(COUNT_PATH, {"jql": body}) or {}
        count = answer.get("count")
    else:
        answer = client.get(DC_SEARCH, {"jql": body, "maxResults": 0, "fields": "id"}) or {}
        count = answer.get("total")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise SourceError(f"JIRA answered no issue count for the scope (query: {body})")
    return count


def confirm_gone(
    client: JiraClient, census_jql: str, candidates: Iterable[str], page_size: int
) -> dict[str, str]:
    """The candidates (stored, not in the census) that are really gone, with why.

    Raises:
        SourceError: when a candidate is still in scope: the census was incomplete, and
            flagging from it would delete live issues.
    """
    gone: dict[str, str] = {}
    alive: list[str] = []
    for issue_id in sorted(candidates, key=lambda i: (len(i), i)):
        try:
            client.get(f"/rest/api/2/issue/{issue_id}", {"fields": "id"})
        except JiraHttpError as exc:
            if exc.status != 404:
                raise
            gone[issue_id] = "deleted (or no longer visible to this account): HTTP 404"
            continue
        alive.append(issue_id)
    body, order = split_order(census_jql)
    for start in range(0, len(alive), CONFIRM_BATCH):
        batch = alive[start : start + CONFIRM_BATCH]
        jql = f"({body}) AND id in ({', '.join(batch)}) {order}".rstrip()
        found: set[str] = set()
        for page in iter_issue_pages(client, jql, fields=["id"], page_size=page_size):
            found.update(str(i.get("id")) for i in page if isinstance(i, dict))
        if found:
            raise SourceError(
                f"JIRA id census missed {len(found)} issue(s) still in scope (ids "
                f"{', '.join(sorted(found)[:5])}): the census was incomplete, so no issue was "
                "marked deleted, nothing was landed and the cursor was not moved"
            )
        for issue_id in batch:
            gone[issue_id] = "left the configured scope (the issue still exists)"
    for issue_id, why in sorted(gone.items()):
        log.info("JIRA issue id %s: %s", issue_id, why)
    return gone
