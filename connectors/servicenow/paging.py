"""Keyset paging over the Table API, ACL-aware.

Why keyset and not offsets: offsets skip or repeat rows that change mid-scan, and the
instance applies row ACLs *after* `sysparm_limit`, so a page may come back short or hold `{}`
rows with more data behind it (API-NOTES 2.2). The scan therefore ends only on an empty page;
a short page is just a page. A page made only of `{}` rows gives no cursor to advance on, so
the next request keeps the cursor and skips those rows with `sysparm_offset`.

With `count=True` (bounded windows only: a count over a whole huge table is what
`sysparm_no_count` avoids) the instance's pre-ACL `X-Total-Count` of the query can also end the
scan: when it is within this page, no row lies beyond it, so the empty page is not needed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

from connectors.result import SourceError
from connectors.servicenow.client import Row, ServiceNowClient

K = TypeVar("K")

MIN_PAGE = 500
MAX_PAGE = 2000
MAX_PAGES = 1_000_000


def clamp_page_size(size: int) -> int:
    """Pages of 500-2000: smaller wastes requests, larger risks transaction-quota timeouts."""
    return max(MIN_PAGE, min(MAX_PAGE, int(size)))


class Pager(Generic[K]):
    """Iterates the readable rows of one keyset scan, page by page.

    Args:
        client: the ServiceNow client.
        table: table to read.
        fields: explicit `sysparm_fields` (never the whole row: cheaper and stable).
        build: query for "rows after this cursor" (None = from the start).
        key: the cursor of a row, or None when the row lacks it (it is still yielded).
        page_size: rows per request.
    """

    def __init__(
        self,
        client: ServiceNowClient,
        table: str,
        fields: Sequence[str],
        build: Callable[[K | None], str],
        key: Callable[[Row], K | None],
        page_size: int,
        *,
        count: bool = False,
    ) -> None:
        self.client = client
        self.table = table
        self.fields = list(fields)
        self.build = build
        self.key = key
        self.page_size = page_size
        self.count = count
        self.pages = 0
        self.denied_rows = 0

    def __iter__(self) -> Iterator[list[Row]]:
        after: K | None = None
        offset = 0
        while True:
            if self.pages >= MAX_PAGES:
                raise SourceError(f"ServiceNow scan of {self.table} exceeded {MAX_PAGES} pages")
            rows = self.client.get_page(
                self.table, self.build(after), self.fields, self.page_size, offset,
                count=self.count,
            )
            total = self.client.last_total if self.count else None
            self.pages += 1
            if not rows:
                return  # an empty page with no cursor advance: the end
            # A short page whose query's pre-ACL count it covers: the end, without asking for
            # the empty page. Neither signal alone ends a scan: a short page may be ACL
            # filtering, and a full page is never trusted to be the last (an instance or proxy
            # that reports the page's own size as the count must not cut the scan short).
            last_page = (
                total is not None
                and len(rows) < self.page_size
                and total <= offset + self.page_size
            )
            readable = [r for r in rows if r]
            self.denied_rows += len(rows) - len(readable)
            keys = [k for k in (self.key(r) for r in readable) if k is not None]
            if not keys:
                offset += len(rows)  # nothing to advance on: step over the denied rows
                if readable:
                    yield readable
                if last_page:
                    return
                continue
            last = max(keys)  # type: ignore[type-var]
            if after is not None and not last > after:  # type: ignore[operator]
                raise SourceError(
                    f"ServiceNow did not honour the keyset query on {self.table} (cursor "
                    f"stuck at {after!r}); is a field in sources.servicenow.query or the "
                    "order field unknown to the instance?"
                )
            after, offset = last, 0
            yield readable
            if last_page:
                return
