"""Test-only crash points: `FLOWMETRICS_CRASH_AT=<point>[:<n>]` kills the process there.

Why: the crash-safety suite (tests/reliability/test_crash_safety.py) must kill a sync *during*
landing or *during* a table rebuild, deterministically, the way `kill -9` or an OOM kill would.
With the variable unset (always, in production) `crash_point` is one dictionary lookup.

Points: `extract` (after an HTTP response is read), `land` (inside the landing transaction,
after a raw upsert), `core` / `metrics` (inside a table's rebuild transaction, after its
CREATE OR REPLACE, before COMMIT), `chunk` (a backfill's chunk landed, just before its commit:
connectors/backfill.py). `:<n>` fires on the n-th time the point is reached in this
process (default 1). The process dies with SIGKILL: no cleanup, no rollback, no atexit.
"""

from __future__ import annotations

import os
import signal

ENV = "FLOWMETRICS_CRASH_AT"
_hits: dict[str, int] = {}


def crash_point(name: str) -> None:
    """SIGKILL this process when `FLOWMETRICS_CRASH_AT` names this point (and its n-th hit)."""
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
