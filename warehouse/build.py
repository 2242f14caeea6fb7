"""Rebuilds the `core` and `metrics` layers from `raw`, and runs the SQL checks.

Each table is one packaged SELECT (`warehouse/sql/<schema>/<table>.sql`) swapped in by
`warehouse.runner` inside its own transaction, so Dagster can materialize one asset per table
and a reader never sees half of one. Everything is set-based SQL; Python only writes the small
parameter tables (`warehouse.params`).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from importlib import resources

import duckdb

from models.config import FlowConfig
from warehouse import registry
from warehouse.params import write_build_params
from warehouse.runner import (
    build_parts,
    build_table,
    build_transformed,
    memory_limit_bytes,
    parts_needed,
    planned_parts,
)

#: Core and metrics tables in build order, derived from the SQL files (`warehouse.registry`):
#: adding a table is adding `warehouse/sql/<schema>/<table>.sql`.
CORE_TABLES: tuple[str, ...] = registry.tables("core")
METRICS_TABLES: tuple[str, ...] = registry.tables("metrics")

#: The most a build step of a big warehouse may use when FLOW_DUCKDB_MEMORY_LIMIT is unset
#: (`large_build_memory_limit`): issue #15's 10M-item tier, "spilling within 8 GB". DuckDB's
#: limit is its buffer pool: at a limit of 8 GB the 10M rebuild peaked at 8,271 MiB RSS, so
#: 6 GB leaves the process (Python, DuckDB's own allocations) room under 8 GB.
LARGE_BUILD_MEMORY = 6_000_000_000

#: The SQL assertions in `warehouse/checks/`; each returns the offending rows (none = pass).
CHECKS: tuple[str, ...] = tuple(c.name for c in registry.checks())

_TABLES = {"core": CORE_TABLES, "metrics": METRICS_TABLES}


def build_one(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> int:
    """Rebuild one `core` or `metrics` table in its own transaction; returns its row count.

    The parameter tables must exist (`write_build_params`), which `build_core` ensures.
    """
    if table not in _TABLES.get(schema, ()):
        raise ValueError(f"unknown warehouse table {schema}.{table}")
    # A table has no row order, so the build need not keep its SELECT's: without that, DuckDB
    # writes in parallel and does not buffer the output of big windows (less memory, less time).
    # Restored afterwards, so a caller's own queries keep DuckDB's default.
    before = con.execute("select current_setting('preserve_insertion_order')").fetchone()
    con.execute("set preserve_insertion_order = false")
    limit_before = con.execute("select current_setting('memory_limit')").fetchone()
    raised = large_build_memory_limit(con)
    if raised is not None:
        con.execute("set memory_limit = ?", [f"{raised}B"])
    try:
        model = registry.model(schema, table)
        if model.transform is not None:
            return build_transformed(con, schema, table, model.transform)
        if model.parts:
            return build_parts(con, schema, table, planned_parts(con))
        return build_table(con, schema, table)
    finally:
        con.execute("set preserve_insertion_order = ?", [bool(before[0]) if before else True])
        if raised is not None and limit_before:
            con.execute("set memory_limit = ?", [limit_before[0]])


def large_build_memory_limit(con: duckdb.DuckDBPyConnection) -> int | None:
    """The memory limit (bytes) a build step of a big warehouse runs under, or None: keep it.

    The 2 GB default holds a warehouse of ~1M items (~10M status changes) in memory. Beyond
    what it holds in one part (`parts_needed` > 1), and when the operator set no
    `FLOW_DUCKDB_MEMORY_LIMIT`, a step may use up to `LARGE_BUILD_MEMORY` (6 GB) but never more
    than half the machine's RAM: at 10M items that is 3 parts instead of 9 and most steps stay
    in memory instead of spilling (docs/benchmarks.md, 10M tier). Restored after the step as
    DuckDB renders it (`1.8 GiB` for the default 2GB: rounded down to a tenth of its unit).
    """
    if os.environ.get("FLOW_DUCKDB_MEMORY_LIMIT"):
        return None
    if parts_needed(con) <= 1:
        return None
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    target = min(LARGE_BUILD_MEMORY, ram // 2)
    return target if target > memory_limit_bytes(con) else None


def build_core(con: duckdb.DuckDBPyConnection, cfg: FlowConfig, as_of: datetime) -> dict[str, int]:
    """Write this build's parameter tables, then rebuild every core table in order."""
    write_build_params(con, cfg, as_of)
    return {table: build_one(con, "core", table) for table in CORE_TABLES}


def build_metrics(
    con: duckdb.DuckDBPyConnection, cfg: FlowConfig, as_of: datetime
) -> dict[str, int]:
    """Rebuild every metrics table from core.

    `cfg` and `as_of` are checked against the parameters core was built with: metrics computed
    for another instant than core would silently mix two timelines.
    """
    as_of = as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of
    row = con.execute("select as_of, window_days, period from core.build_settings").fetchone()
    if row is None or row[0] != as_of or row[1] != cfg.window_days or row[2] != cfg.period:
        raise ValueError(
            "core was built for another as_of/window/period; run build_core first "
            f"(core: {row}, asked: {as_of}, {cfg.window_days}, {cfg.period})"
        )
    return {table: build_one(con, "metrics", table) for table in METRICS_TABLES}


def check_sql(name: str) -> str:
    """The text of one packaged check (`warehouse/checks/<name>.sql`)."""
    if name not in CHECKS:
        raise ValueError(f"unknown check {name!r}; known: {', '.join(CHECKS)}")
    return resources.files("warehouse").joinpath("checks", f"{name}.sql").read_text("utf-8")


def run_check(con: duckdb.DuckDBPyConnection, name: str) -> list[tuple]:
    """Run one SQL assertion; returns the offending rows (an empty list means it passed)."""
    return con.execute(check_sql(name)).fetchall()
