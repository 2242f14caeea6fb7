"""The test side of the crash seam (models/crashpoints.py): SIGKILL at a named point.

`FLOWMETRICS_CRASH_AT=<point>[:<n>]` in a child process's environment, read by
`install_from_env()` at the child's start (see helpers.run_job_subprocess), kills that process
the n-th time (default 1) it reaches the point: no cleanup, no rollback, no atexit, like
`kill -9` or an OOM kill. Production code never reads this variable.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Mapping

from models import crashpoints

ENV = "FLOWMETRICS_CRASH_AT"


def _sigkill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def kill_at(spec: str, kill: Callable[[], None] = _sigkill) -> crashpoints.Hook:
    """A hook that calls `kill` on the n-th hit of the point named by `<point>[:<n>]`."""
    point, _, nth = spec.partition(":")
    wanted = int(nth or 1)
    hits = 0

    def hook(name: str) -> None:
        nonlocal hits
        if name == point:
            hits += 1
            if hits >= wanted:
                kill()

    return hook


def install_from_env(environ: Mapping[str, str] = os.environ) -> bool:
    """Install the kill hook when `FLOWMETRICS_CRASH_AT` is set; True when installed."""
    spec = environ.get(ENV)
    if not spec:
        return False
    crashpoints.install(kill_at(spec))
    return True
