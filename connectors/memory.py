"""During a sync, Arrow allocates from the system allocator, so what it frees stops counting.

Why: pyarrow's default pool on Linux is mimalloc, which keeps the segments it has freed for its
own reuse. A sync's Arrow allocations are bursty -- each batch's rows staged as columns, landed,
dropped a batch later -- so with mimalloc the process's resident size followed what Arrow had
freed as well as what it held. On the system pool (glibc's `malloc`) the sync's share of peak
RSS went down (A/B, each sync in a fresh process, docs/benchmarks.md "Giving freed memory back
during a sync"):

* JIRA 20k with rework and 10k-history issues: 425/431/438 -> 380/390/383 MiB;
* ServiceNow 100k: 224 -> 205 MiB; 250k: 227/233 -> 215 MiB;

at unchanged client CPU (within the noise of three rounds). Calling glibc's `malloc_trim` from a
thread every 0.1 s on top of it was measured too and dropped: no lower peak, 30-60 % more page
faults (it returns pages the next batch faults back in).

The pool is process-wide: `system_arrow_pool()` sets it for the length of a sync and puts the
previous one back after, whether the sync ended well or not. Buffers keep the pool they were
allocated from, so switching while arrays are alive is safe.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa


@contextmanager
def system_arrow_pool() -> Iterator[None]:
    """Arrow's default memory pool is the system allocator until exit."""
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(previous)
