"""Keyset paging over the Table API, ACL-aware.

Why keyset and not offsets: offsets skip or repeat rows that change mid-scan, and the
instance applies row ACLs *after* `sysparm_limit`, so a page may come back short or hold `{}`
rows with more data behind it (api-facts §2.2). The scan therefore ends only on an empty page;
a short page is just a page. A page made only of `{}` rows gives no cursor to advance on, so
the next request keeps the cursor and skips those rows with `sysparm_offset`.

With `count=True` (bounded windows: every page is counted) the instance's pre-ACL
`X-Total-Count` of the query can also end the scan: when a *short* page holds every row the
count matched, no row lies beyond it, so the empty page is not needed.

With `count_ends=True` (unbounded full-sync scans) only the first page is counted, once, for the
size of the scan, and then only the pages expected near its end (the estimate says at most
`ENDS_MARGIN` pages remain): a count over a keyset query near the end covers a few rows, while a
count on every page of a whole table is what `sysparm_no_count` avoids. The estimate only
decides *when to ask*; a scan still ends only on an empty page or on a short page its own count
covers, so a wrong estimate (rows updated out of the window, or added behind the cursor, during
the scan) costs at most the empty page, never a row.
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
#: `count_ends`: count the pages once the scan is expected to hold at most this many more pages.
ENDS_MARGIN = 2


def clamp_page_size(size: int) -> int:
    """Pages of 500-2000: smaller wastes requests, larger risks transaction-quota timeouts."""
    return max(MIN_PAGE, min(MAX_PAGE, int(size)))


class Page(list[Row], Generic[K]):
    """One page's readable rows, with the page's keyset cursor (the largest row key; None when
    no row had one): a consumer committing a backfill chunk at this page resumes after
    `cursor`, without computing every row's key a second time."""

    cursor: K | None = None


class Pager(Generic[K]):
    """Iterates the readable rows of one keyset scan, page by page.

    Args:
        client: the ServiceNow client.
        table: table to read.
        fields: explicit `sysparm_fields` (never the whole row: cheaper and stable).
        build: query for "rows after this cursor" (None = from the start).
        key: the cursor of a row, or None when the row lacks it (it is still yielded).
        page_size: rows per request.
        count: ask for `X-Total-Count` on every page (bounded windows).
        count_ends: ask for it on the first page and on the pages expected near the end
            (unbounded scans; see the module docstring).
        after: start after this cursor (a backfill resuming from its last committed chunk).
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
        count_ends: bool = False,
        after: K | None = None,
    ) -> None:
        self.client = client
        self.table = table
        self.fields = list(fields)
        self.build = build
        self.key = key
        self.page_size = page_size
        self.count = count
        self.count_ends = count_ends
        self.start_after = after
        self.pages = 0
        #: X-Total-Count of the scan's first counted page (pre-ACL; for progress estimates)
        self.total: int | None = None
        self.counted_pages = 0
        self.denied_rows = 0

    def __iter__(self) -> Iterator[Page[K]]:
        after: K | None = self.start_after
        offset = 0
        ask = self.count or self.count_ends
        #: pre-ACL rows the scan is expected to hold from the next page on (count_ends)
        expected: int | None = None
        while True:
            if self.pages >= MAX_PAGES:
                raise SourceError(f"ServiceNow scan of {self.table} exceeded {MAX_PAGES} pages")
            rows = self.client.get_page(
                self.table,
                self.build(after),
                self.fields,
                self.page_size,
                offset,
                count=ask,
            )
            total = self.client.last_total if ask else None
            self.pages += 1
            self.counted_pages += ask
            if total is not None:
                expected = total  # the rows this page's query matched, this page included
                if self.total is None:
                    self.total = total
            if expected is not None:
                expected -= self.page_size  # the limit applies before ACLs
            ask = self.count or (
                self.count_ends
                and expected is not None
                and expected <= ENDS_MARGIN * self.page_size
            )
            if not rows:
                return  # an empty page with no cursor advance: the end
            # A short page that holds every row its query's pre-ACL count matched: the end,
            # without asking for the empty page. Neither signal alone ends a scan: a short page
            # may be ACL filtering, and a full page is never trusted to be the last (an
            # instance or proxy that reports the page's own size as the count must not cut the
            # scan short). A short page holding FEWER rows than the count is not the end
            # either: rows went missing after the query (ACLs), and whether they would stay
            # missing on the next request is not ours to assume; the next page says.
            last_page = (
                total is not None and len(rows) < self.page_size and total <= offset + len(rows)
            )
            readable: Page[K] = Page(r for r in rows if r)
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
            readable.cursor = last
            yield readable
            if last_page:
                return
