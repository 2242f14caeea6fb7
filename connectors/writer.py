"""Run the warehouse writes of a sync on one background thread, a bounded step behind mapping.

Why: DuckDB releases the GIL while it executes, so an insert on its own thread costs the mapping
thread nothing; on the mapping thread it would stall mapping (and so the next request) for as
long as DuckDB writes. With requests on the prefetch thread (`prefetch.prefetched`), mapping on
the calling thread and writes here, the three overlap.

Rules that keep this safe:
* While the writer is open, ONLY its thread uses the DuckDB connection (a connection is not
  safe for concurrent use); the caller touches it again only after `close()` has joined it.
* The queue holds at most `depth` jobs, so at most that many mapped batches wait in memory.
* The first failure stops the writer: later jobs are dropped, and the error is re-raised in the
  caller at its next `submit` or at `close`, so the run fails (and its transaction rolls back).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

_STOP = object()


class BackgroundWriter:
    """`submit(fn, *args)` runs `fn(*args)` on one worker thread, in submission order."""

    def __init__(self, *, depth: int = 2, name: str = "writer") -> None:
        self._jobs: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
        self._error: BaseException | None = None
        self._cancelled = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            if self._error is not None or self._cancelled:
                continue  # a job failed, or the caller did: drain without running the rest
            fn, args = job
            try:
                fn(*args)
            except BaseException as exc:  # re-raised on the caller's thread
                self._error = exc

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue a job (blocks while `depth` jobs wait); raises an earlier job's error."""
        self._raise()
        self._jobs.put((fn, args))

    def close(self) -> None:
        """Wait for every queued job; re-raise the first failure. Idempotent."""
        if self._thread.is_alive():
            self._jobs.put(_STOP)
            self._thread.join()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
            return
        # already failing: skip what is queued, wait for the thread (the connection must be
        # free again), and let the original error propagate rather than a writer error
        self._cancelled = True
        if self._thread.is_alive():
            self._jobs.put(_STOP)
            self._thread.join()
