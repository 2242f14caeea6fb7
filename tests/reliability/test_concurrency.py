"""Concurrency: another process holding the DuckDB file (read-write, e.g. someone's ad-hoc SQL
session) while the nightly job runs, and `flowmetrics sql` while a writer holds the file.

DuckDB allows one writing process per file and refuses readers in other processes while it is
held. `warehouse.db.connect` waits and retries (backoff 0.5 s doubling to 5 s) up to
`FLOW_LOCK_TIMEOUT_SECONDS`, logging once that it waits, then fails naming the file.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from flowmetrics.cli import main
from sandbox import Sandbox
from tests.reliability.helpers import NOW, job_env

HOLDER = (
    "import duckdb, sys, time\n"
    "con = duckdb.connect(sys.argv[1])\n"
    "con.execute('create table if not exists adhoc(x int)')\n"
    "print('held', flush=True)\n"
    "time.sleep(float(sys.argv[2]))\n"
    "con.close()\n"
    "print('released', flush=True)\n"
)


class Holder:
    """A child process holding a read-write connection for `seconds`; records when it let go."""

    def __init__(self, db: Path, seconds: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(db), str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "held"
        self.released_at: float | None = None
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() == "released":
            self.released_at = time.monotonic()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def env(tmp_path, monkeypatch):
    with Sandbox(seed=3, size=40, mode="cloud", now=NOW) as sb:
        for name, value in job_env(tmp_path, sb.env).items():
            monkeypatch.setenv(name, value)
        yield tmp_path, sb


@pytest.mark.slow
def test_job_waits_for_a_held_file_and_finishes_after_release(env, caplog, capfd):
    tmp_path, sb = env
    from flowmetrics.runner import run_nightly

    db = tmp_path / "flow.duckdb"
    holder = Holder(db, seconds=8.0)  # longer than the job's start-up
    started = time.monotonic()
    try:
        with caplog.at_level(logging.WARNING, logger="warehouse.db"):
            outcome = run_nightly(clock=sb.now)
        finished = time.monotonic()
    finally:
        holder.stop()
    assert outcome.success, outcome.failures
    assert holder.released_at is not None
    assert finished > holder.released_at  # it really waited for the holder
    assert f"warehouse {db} is locked by another process; waiting up to" in caplog.text
    # reference: the same job with nobody holding the file
    again = time.monotonic()
    assert run_nightly(clock=sb.now).success
    alone = time.monotonic() - again
    after_release = finished - holder.released_at
    with capfd.disabled():
        print(
            f"\nlock wait: held {holder.released_at - started:.1f}s; job done "
            f"{after_release:.1f}s after release (an unhindered run takes {alone:.1f}s)"
        )
    # the next attempt after a release comes within the 5 s backoff cap
    assert after_release < alone + 5.5


def test_job_fails_with_exit_1_naming_the_file_when_never_released(env, monkeypatch, capsys):
    tmp_path, _ = env
    monkeypatch.setenv("FLOW_LOCK_TIMEOUT_SECONDS", "1")
    db = tmp_path / "flow.duckdb"
    holder = Holder(db, seconds=60)
    try:
        code = main(["sync", "--source", "jira"])
    finally:
        holder.stop()
    err = capsys.readouterr().err
    assert code == 1, err
    assert str(db) in err and "locked by another process" in err


def test_sql_command_while_a_sync_holds_the_file(env, monkeypatch, capsys):
    tmp_path, _ = env
    db = tmp_path / "flow.duckdb"
    monkeypatch.setenv("FLOW_LOCK_TIMEOUT_SECONDS", "1")
    holder = Holder(db, seconds=60)
    try:
        assert main(["sql", "select 42 as answer"]) == 1
    finally:
        holder.stop()
    err = capsys.readouterr().err
    assert str(db) in err and "locked" in err

    # held briefly (as between two assets of a sync): the query waits and then answers
    monkeypatch.setenv("FLOW_LOCK_TIMEOUT_SECONDS", "30")
    holder = Holder(db, seconds=1.5)
    try:
        assert main(["sql", "select 42 as answer"]) == 0
    finally:
        holder.stop()
    assert "42" in capsys.readouterr().out
