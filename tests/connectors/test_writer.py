"""BackgroundWriter: the thread that runs a sync's DuckDB writes behind the mapping."""

import threading

import pytest

from connectors.writer import BackgroundWriter


def _writer_threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name]


def test_jobs_run_in_order_on_one_other_thread():
    ran: list[tuple[int, str]] = []
    with BackgroundWriter(depth=1, name="t-writer") as writer:
        for n in range(5):
            writer.submit(lambda n=n: ran.append((n, threading.current_thread().name)))
    assert ran == [(n, "t-writer") for n in range(5)]
    assert _writer_threads("t-writer") == []


def test_a_failed_job_stops_the_rest_and_is_raised_at_the_next_submit():
    ran: list[int] = []
    gate = threading.Event()

    def fail() -> None:
        gate.set()
        raise ValueError("insert failed")

    writer = BackgroundWriter(depth=4, name="t-writer-2")
    writer.submit(fail)
    gate.wait(5)
    writer._thread.join(0.2)  # let the failure be recorded
    with pytest.raises(ValueError, match="insert failed"):
        for n in range(100):
            writer.submit(ran.append, n)
    with pytest.raises(ValueError, match="insert failed"):
        writer.close()
    assert ran == []
    assert _writer_threads("t-writer-2") == []


def test_a_failing_caller_skips_queued_jobs_and_keeps_its_own_error():
    ran: list[int] = []

    def busy_until_cancelled(writer: BackgroundWriter) -> None:
        for _ in range(500):  # the job in flight when the caller fails
            if writer._cancelled:
                return
            threading.Event().wait(0.01)

    with (
        pytest.raises(RuntimeError, match="mapping failed"),
        BackgroundWriter(depth=3, name="t-writer-3") as writer,
    ):
        writer.submit(busy_until_cancelled, writer)
        writer.submit(ran.append, 1)
        writer.submit(ran.append, 2)
        raise RuntimeError("mapping failed")
    assert ran == []  # queued jobs were skipped, not run after the failure
    assert _writer_threads("t-writer-3") == []
