"""The warehouse bootstrap is idempotent, versioned, and the runner swaps tables atomically."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from warehouse.db import SCHEMA_VERSION, WarehouseError, bootstrap, connect, transaction


def test_bootstrap_twice_is_harmless(tmp_path: Path) -> None:
    con = connect(tmp_path / "w.duckdb")
    bootstrap(con)
    con.execute("insert into raw.jira_statuses values ('1', 'Open', 'new', null, now())")
    bootstrap(con)
    assert con.execute("select count(*) from raw.jira_statuses").fetchone() == (1,)
    assert con.execute("select list(version) from raw.schema_version").fetchone() == (
        [SCHEMA_VERSION],
    )
    schemas = {
        r[0] for r in con.execute("select schema_name from information_schema.schemata").fetchall()
    }
    assert {"raw", "core", "metrics"} <= schemas


def test_newer_schema_on_disk_is_refused(tmp_path: Path) -> None:
    con = connect(tmp_path / "w.duckdb")
    bootstrap(con)
    con.execute("insert into raw.schema_version values (?, now())", [SCHEMA_VERSION + 1])
    with pytest.raises(WarehouseError, match=f"schema version {SCHEMA_VERSION + 1}, newer"):
        bootstrap(con)


def test_transaction_rolls_back_on_error() -> None:
    con = duckdb.connect(":memory:")
    bootstrap(con)
    with pytest.raises(RuntimeError), transaction(con):
        con.execute("insert into raw.jira_statuses values ('1', 'Open', 'new', null, now())")
        raise RuntimeError("boom")
    assert con.execute("select count(*) from raw.jira_statuses").fetchone() == (0,)


def test_locked_file_waits_then_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    import subprocess
    import sys
    import time

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True);"
            " time.sleep(30)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        started = time.monotonic()
        with pytest.raises(WarehouseError, match="locked by another process") as err:
            connect(path, lock_timeout_s=1.5)
        assert str(path) in str(err.value)
        assert time.monotonic() - started >= 1.0  # it waited before giving up
    finally:
        holder.kill()
        holder.wait()
    connect(path).close()  # free again once the holder is gone
