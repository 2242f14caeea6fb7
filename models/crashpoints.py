"""Named crash points: the one seam through which the crash-safety tests kill a run.

Why a seam: the kill -9 suite (tests/reliability/test_crash_safety.py) must stop a sync *during*
landing or *during* a table rebuild, deterministically, the way `kill -9` or an OOM kill would.
Production code only marks those instants by name; what happens there is decided by whoever
installed a hook. Nothing installs one in production, so `crash_point` is one global lookup.
It lives in the lowest layer so connectors and warehouse can mark points without importing
anything above them.

Points: `extract` (after an HTTP response is read), `land` (inside a landing transaction, after
a raw upsert), `core` / `metrics` (inside a table's rebuild transaction, after its CREATE OR
REPLACE, before COMMIT), `chunk` (a backfill's chunk landed, just before its commit:
connectors/backfill.py). The test-side hook (tests/reliability/crashhook.py) is installed from
`FLOWMETRICS_CRASH_AT=<point>[:<n>]` in the child process it kills.
"""

from __future__ import annotations

from collections.abc import Callable

Hook = Callable[[str], None]

_hook: Hook | None = None


def install(hook: Hook | None) -> Hook | None:
    """Make `hook(point)` run at every crash point (None removes it); returns the previous one."""
    global _hook
    previous, _hook = _hook, hook
    return previous


def crash_point(name: str) -> None:
    """Mark a named instant; calls the installed hook, if any (none in production)."""
    hook = _hook
    if hook is not None:
        hook(name)
