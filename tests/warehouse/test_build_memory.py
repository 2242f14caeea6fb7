"""The memory a build step runs under: 2 GB for a warehouse that fits, more for a big one.

Issue #15's 10M-item tier must finish "spilling within 8 GB" (6 GB for DuckDB's buffers, the
rest for the process) without the operator tuning anything, while the 1M tier stays within 2 GB. `large_build_memory_limit` raises the limit
for a step only when raw holds more status changes than the connection's limit holds in one
part, and only when FLOW_DUCKDB_MEMORY_LIMIT is unset; the limit is restored after the step.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from models.config import load_demo_config
from sandbox.warehouse_gen import AS_OF, generate_raw
from warehouse.build import LARGE_BUILD_MEMORY, build_one, large_build_memory_limit
from warehouse.db import bootstrap, connect
from warehouse.params import write_build_params
from warehouse.runner import memory_limit_bytes


@pytest.fixture
def small_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("FLOW_DUCKDB_MEMORY_LIMIT", raising=False)
    monkeypatch.delenv("FLOW_BUILD_PARTS", raising=False)
    path = tmp_path / "w.duckdb"
    con = connect(path)
    bootstrap(con)
    generate_raw(con, 20_000, 10)  # ~200k status changes: 32 MB of working set at 160 B each
    write_build_params(con, load_demo_config(), AS_OF)
    con.close()
    con = connect(path)  # a fresh connection holds no buffers: a small limit can be set
    yield con
    con.close()


def test_a_warehouse_that_fits_keeps_its_limit(small_warehouse) -> None:
    con = small_warehouse
    con.execute("set memory_limit = '2GB'")
    assert large_build_memory_limit(con) is None


def test_a_warehouse_too_big_for_the_limit_gets_6gb_or_half_the_ram(small_warehouse) -> None:
    con = small_warehouse
    # 32 MB of changes do not fit 16 MiB (a round MiB figure reads back exactly: restorable)
    con.execute("set memory_limit = '16MiB'")
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert large_build_memory_limit(con) == min(6_000_000_000, ram // 2)
    assert LARGE_BUILD_MEMORY == 6_000_000_000

    # The step runs under the raised limit and gives the connection its own back after.
    before = con.execute("select current_setting('memory_limit')").fetchone()[0]
    assert build_one(con, "core", "transitions") > 100_000
    assert con.execute("select current_setting('memory_limit')").fetchone()[0] == before
    assert memory_limit_bytes(con) < 17_000_000


def test_the_operators_limit_is_never_raised(
    small_warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    con = small_warehouse
    monkeypatch.setenv("FLOW_DUCKDB_MEMORY_LIMIT", "16MB")
    con.execute("set memory_limit = '16MB'")
    assert large_build_memory_limit(con) is None
