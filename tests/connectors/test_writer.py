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


def test_drain_returns_once_every_queued_job_has_run_and_the_writer_takes_more_after():
    ran: list[int] = []
    release = threading.Event()

    def slow(n: int) -> None:
        release.wait(5)
        ran.append(n)

    with BackgroundWriter(depth=2, name="t-writer-drain") as writer:
        writer.submit(slow, 1)
        writer.submit(slow, 2)
        assert ran == []  # both wait behind the gate
        release.set()
        writer.drain()
        assert ran == [1, 2]  # the caller may use the connection now
        writer.submit(ran.append, 3)
    assert ran == [1, 2, 3]


def test_drain_raises_the_failure_of_a_queued_job():
    def fail() -> None:
        raise ValueError("upsert failed")

    writer = BackgroundWriter(depth=1, name="t-writer-drain-2")
    writer.submit(fail)
    with pytest.raises(ValueError, match="upsert failed"):
        writer.drain()
    with pytest.raises(ValueError, match="upsert failed"):
        writer.close()
