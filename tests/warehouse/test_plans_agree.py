"""The rebuild gives the same tables whatever physical plan DuckDB picks.

The core/metrics SQL is tuned for 10M transitions (narrow windows on integer keys, GROUPING SETS,
parallel unordered writes, spilling under `memory_limit`). None of that may change a value: the
same generated warehouse is rebuilt single-threaded and with two threads under a tiny memory
limit (so sorts and joins spill), and every core and metrics table must come out identical.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import duckdb
import pytest

from models.config import load_demo_config
from sandbox.warehouse_gen import AS_OF, generate_raw
from warehouse import registry
from warehouse.build import CORE_TABLES, METRICS_TABLES, build_core, build_metrics
from warehouse.db import bootstrap, connect
from warehouse.runner import PART_ROW_BYTES, memory_limit_bytes, planned_parts, table_sql


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


def _assert_same_up_to_summation_order(
    con: duckdb.DuckDBPyConnection, a: str, b: str, name: str
) -> None:
    """Row for row equal, doubles within 1e-12 relative.

    A sum over rows that two plans read in different orders can differ in its last bit, and
    `round(x, 9)` turns that into a different 9th decimal when the value sits on a rounding
    boundary (seen: 16.471482208 vs 16.471482207 days): equal up to that, nothing more.
    """
    rows_a = con.execute(f"{a} order by all").fetchall()
    rows_b = con.execute(f"{b} order by all").fetchall()
    assert len(rows_a) == len(rows_b), name
    for row_a, row_b in zip(rows_a, rows_b, strict=True):
        for x, y in zip(row_a, row_b, strict=True):
            if isinstance(x, float) and isinstance(y, float):
                assert math.isclose(x, y, rel_tol=1e-12, abs_tol=2e-9), (name, row_a, row_b)
            else:
                assert x == y, (name, row_a, row_b)


def test_serial_and_spilling_parallel_builds_agree(tmp_path: Path) -> None:
    gen = tmp_path / "gen.duckdb"
    _generate(gen, 3000)
    serial, parallel = tmp_path / "serial.duckdb", tmp_path / "parallel.duckdb"
    shutil.copy(gen, serial)
    shutil.copy(gen, parallel)
    _rebuild(serial, "set threads = 1")
    # 160MB: small enough that the larger sorts spill, large enough for DuckDB's fixed buffers
    _rebuild(parallel, "set threads = 2", "set memory_limit = '160MB'")

    _assert_same_tables(serial, parallel)


def _assert_same_tables(first: Path, second: Path) -> None:
    """Every core and metrics table of two warehouses holds the same rows."""
    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")
    con.execute(f"attach '{first}' as a (read_only)")
    con.execute(f"attach '{second}' as b (read_only)")
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
            if (only_a, only_b) != (0, 0):
                _assert_same_up_to_summation_order(con, a, b, f"{schema}.{table}")
    assert con.execute("select count(*) from a.core.transitions").fetchone()[0] > 10_000


def test_a_build_in_parts_equals_the_one_statement_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """core.transitions and core.status_intervals built in 3 parts (what a 100M-change
    warehouse gets) hold exactly the rows of the one-statement build, and so does every table
    built from them."""
    gen = tmp_path / "gen.duckdb"
    _generate(gen, 3000)
    whole, parted = tmp_path / "whole.duckdb", tmp_path / "parted.duckdb"
    shutil.copy(gen, whole)
    shutil.copy(gen, parted)
    monkeypatch.setenv("FLOW_BUILD_PARTS", "1")
    _rebuild(whole)
    monkeypatch.setenv("FLOW_BUILD_PARTS", "3")
    _rebuild(parted, "set threads = 2", "set memory_limit = '160MB'")
    _assert_same_tables(whole, parted)

    # Each part is a real, disjoint share of the items, and the parts add up to the whole.
    con = connect(whole)
    try:
        for table in ("transitions", "status_intervals"):
            assert registry.model("core", table).parts
            select = table_sql("core", table).split(" as\n", 1)[1]
            everything = f"select * from ({select}) as t"
            whole_n = con.execute(everything, {"part": 0, "parts": 1}).fetchall()
            items_per_part = []
            union: list[tuple] = []
            for part in range(3):
                rows = con.execute(everything, {"part": part, "parts": 3}).fetchall()
                assert 0 < len(rows) < len(whole_n), (table, part)
                items_per_part.append({r[0] for r in rows})
                union += rows
            assert sorted(union, key=repr) == sorted(whole_n, key=repr), table
            a, b, c = items_per_part
            assert not (a & b or a & c or b & c), table
    finally:
        con.close()


def test_the_number_of_parts_follows_the_changes_and_the_memory_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "gen.duckdb"
    _generate(db, 3000)
    con = connect(db)
    try:
        changes = con.execute(
            "select (select count(*) from raw.jira_status_changes)"
            " + (select count(*) from raw.servicenow_state_changes)"
        ).fetchone()[0]
        assert changes > 25_000  # 3000 items x ~10 changes
        monkeypatch.delenv("FLOW_BUILD_PARTS", raising=False)
        con.execute("set memory_limit = '2GB'")  # reads back as 1.8 GiB = 1,932,735,283 bytes
        assert memory_limit_bytes(con) == 1_932_735_283
        assert planned_parts(con) == 1  # 30k changes x 160 B = 4.8 MB: one statement
        con.execute("set memory_limit = '1MB'")  # 976.5 KiB = 999,936 bytes
        assert memory_limit_bytes(con) == 999_936
        # ceil(changes x 160 / 999,936): ~4.8 MB of working set in parts of < 1 MB
        assert planned_parts(con) == math.ceil(changes * PART_ROW_BYTES / 999_936) >= 5
        monkeypatch.setenv("FLOW_BUILD_PARTS", "4")
        assert planned_parts(con) == 4
        monkeypatch.setenv("FLOW_BUILD_PARTS", "0")
        with pytest.raises(ValueError, match="FLOW_BUILD_PARTS must be a positive integer"):
            planned_parts(con)
    finally:
        con.close()
