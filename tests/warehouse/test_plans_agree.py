"""The rebuild gives the same tables whatever physical plan DuckDB picks.

The core/metrics SQL is tuned for 10M transitions (narrow windows on integer keys, GROUPING SETS,
parallel unordered writes, spilling under `memory_limit`). None of that may change a value: the
same generated warehouse is rebuilt single-threaded and with two threads under a tiny memory
limit (so sorts and joins spill), and every core and metrics table must come out identical.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from models.config import load_demo_config
from sandbox.warehouse_gen import AS_OF, generate_raw
from warehouse.build import CORE_TABLES, METRICS_TABLES, build_core, build_metrics
from warehouse.db import bootstrap, connect


def _generate(path: Path, items: int) -> None:
    con = connect(path)
    try:
        bootstrap(con)
        generate_raw(con, items, 10)
    finally:
        con.close()


def _rebuild(path: Path, *settings: str) -> None:
    cfg = load_demo_config()
    con = connect(path)
    try:
        for statement in settings:
            con.execute(statement)
        build_core(con, cfg, AS_OF)
        build_metrics(con, cfg, AS_OF)
    finally:
        con.close()


def _canonical(con: duckdb.DuckDBPyConnection, db: str, schema: str, table: str) -> str:
    """A SELECT of the table with doubles rounded (sums may add in another order)."""
    cols = con.execute(f"describe {db}.{schema}.{table}").fetchall()
    exprs = [f"round({c[0]}, 9) as {c[0]}" if c[1] == "DOUBLE" else f'"{c[0]}"' for c in cols]
    return f"select {', '.join(exprs)} from {db}.{schema}.{table}"


def test_serial_and_spilling_parallel_builds_agree(tmp_path: Path) -> None:
    gen = tmp_path / "gen.duckdb"
    _generate(gen, 3000)
    serial, parallel = tmp_path / "serial.duckdb", tmp_path / "parallel.duckdb"
    shutil.copy(gen, serial)
    shutil.copy(gen, parallel)
    _rebuild(serial, "set threads = 1")
    # 160MB: small enough that the larger sorts spill, large enough for DuckDB's fixed buffers
    _rebuild(parallel, "set threads = 2", "set memory_limit = '160MB'")

    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")
    con.execute(f"attach '{serial}' as a (read_only)")
    con.execute(f"attach '{parallel}' as b (read_only)")
    for schema, tables in (("core", CORE_TABLES), ("metrics", METRICS_TABLES)):
        for table in tables:
            a, b = _canonical(con, "a", schema, table), _canonical(con, "b", schema, table)
            assert (
                con.execute(f"describe {a}").fetchall() == con.execute(f"describe {b}").fetchall()
            )
            n = con.execute(f"select count(*) from ({a})").fetchone()[0]
            assert n == con.execute(f"select count(*) from ({b})").fetchone()[0], table
            only_a = con.execute(f"select count(*) from ({a} except all {b})").fetchone()[0]
            only_b = con.execute(f"select count(*) from ({b} except all {a})").fetchone()[0]
            assert (only_a, only_b) == (0, 0), f"{schema}.{table}"
    assert con.execute("select count(*) from a.core.transitions").fetchone()[0] > 10_000
