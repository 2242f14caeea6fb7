"""Run a producer (the requests of a sync) on one background thread, a bounded step ahead of the
consumer (the mapping of what came back), so client CPU work hides behind server latency.

Rules that keep this safe:
* One worker thread owns the producer, and so the source client, from start to finish; the
  consumer must not use the client until the iterator is exhausted or closed (the worker has
  then been joined). A producer may itself read a `prefetched` producer (a two-stage pipeline:
  JIRA reads search pages on one thread and their histories on another); the two stages then
  share the client, which the caller must show is safe (`requests.Session` is, for separate
  requests, through urllib3's thread-safe pool and the cookie jar's lock).
* The queue holds at most `depth` items, so memory stays bounded by a page or two.
* An exception in the producer is re-raised in the consumer, with its traceback; an exception
  (or an early stop) in the consumer tells the worker to stop before its next request and waits
  for it, so no request runs on after the sync has failed.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
_DONE = object()
_POLL_S = 0.05


def prefetched(producer: Iterator[T], *, depth: int = 2, name: str = "prefetch") -> Iterator[T]:
    """Yield what `producer` yields, computed on a worker thread at most `depth` items ahead."""
    slots: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item: tuple[bool, object]) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in producer:
                if not put((True, item)):
                    return
            put((True, _DONE))
        except BaseException as exc:  # handed to the consumer, re-raised there
            put((False, exc))
        finally:
            close = getattr(producer, "close", None)
            if close is not None:
                try:
                    close()  # run the producer's own cleanup on the thread that ran it
                except Exception:  # pragma: no cover - cleanup must not mask the real error
                    log.exception("prefetch producer %s failed to close", name)

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    try:
        while True:
            ok, item = slots.get()
            if not ok:
                assert isinstance(item, BaseException)
                raise item
            if item is _DONE:
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()
