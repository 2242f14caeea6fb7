"""connectors/run.bounded_memory: a sync that ends well leaves no write-ahead log behind.

Why it matters: DuckDB writes its log into the database file at the next checkpoint, at the
latest when the connection closes -- by then under the connection's restored limit (2 GB), where
the checkpoint of a backfill's last chunks took ~200 MB more than the whole sync at 1M incidents.
Checkpointed inside the sync, under the sync's own limit, it costs a fraction of that.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from connectors.run import bounded_memory
from warehouse.db import transaction


def _wal_bytes(path: Path) -> int:
    wal = Path(f"{path}.wal")
    return wal.stat().st_size if wal.exists() else 0


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create table t (k varchar, v varchar)")
    con.execute("checkpoint")
    yield path, con
    con.close()


def test_a_sync_that_ends_well_is_checkpointed_before_its_limit_goes_back(warehouse):
    path, con = warehouse
    with bounded_memory(con), transaction(con):
        # ~5 MB of rows: under DuckDB's 16 MB threshold, so nothing checkpoints on its own
        con.execute("insert into t select 'k' || range, repeat('x', 50) from range(100000)")
    assert _wal_bytes(path) == 0
    assert con.execute("select count(*) from t").fetchall() == [(100000,)]


def test_a_failed_sync_is_not_checkpointed_and_keeps_what_it_committed(warehouse):
    path, con = warehouse
    with pytest.raises(RuntimeError, match="the source failed"), bounded_memory(con):
        with transaction(con):  # a backfill chunk, committed
            con.execute("insert into t select 'k' || range, 'v' from range(1000)")
        raise RuntimeError("the source failed")
    assert _wal_bytes(path) > 0  # committed to the log; DuckDB checkpoints it when it will
    assert con.execute("select count(*) from t").fetchall() == [(1000,)]
