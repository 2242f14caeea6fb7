"""Opening the DuckDB warehouse and bootstrapping its schemas.

DuckDB allows one writing process per file. The nightly job is that writer; a person holding
the file open for ad-hoc SQL makes `connect` wait and retry with a clear message rather than
fail on the first attempt (`FLOW_LOCK_TIMEOUT_SECONDS`, default 300).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import duckdb

from warehouse.raw_schema import drop_primary_keys

log = logging.getLogger(__name__)

#: Bump when the raw DDL changes shape; a newer file than the code knows is refused.
#: 2: the record and history tables lost their primary keys (warehouse/raw_schema.py).
SCHEMA_VERSION = 2
SCHEMAS = ("raw", "core", "metrics")

#: DuckDB's buffer-manager limit. Above it, big sorts, windows and hash joins of the core/metrics
#: rebuild spill to `<warehouse>.tmp` (DuckDB's default temp_directory, next to the file) instead
#: of growing the process: the default would be 80 % of RAM. Override with
#: `FLOW_DUCKDB_MEMORY_LIMIT` (any DuckDB size, e.g. `4GB`).
DEFAULT_MEMORY_LIMIT = "2GB"


class WarehouseError(RuntimeError):
    """The warehouse file cannot be used (locked, newer schema, unreadable)."""


def sql_text(relative: str) -> str:
    """Read a packaged SQL file, e.g. `sql_text("core/work_items.sql")`."""
    return resources.files("warehouse").joinpath("sql", relative).read_text(encoding="utf-8")


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("could not set lock" in text or "conflicting lock" in text)


def connect(
    path: str | os.PathLike[str],
    *,
    read_only: bool = False,
    lock_timeout_s: float | None = None,
    config: dict[str, object] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, creating its folder; wait while another process holds the lock.

    `config` is passed to DuckDB at open time (settings it only takes then, e.g. the sandbox
    of `flowmetrics sql`).
    """
    target = str(path)
    if target != ":memory:" and not read_only:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    if lock_timeout_s is None:
        lock_timeout_s = float(os.environ.get("FLOW_LOCK_TIMEOUT_SECONDS", "300"))
    deadline = time.monotonic() + lock_timeout_s
    delay = 0.5
    warned = False
    while True:
        try:
            con = duckdb.connect(target, read_only=read_only, config=config or {})
            con.execute("set timezone = 'UTC'")
            memory_limit = os.environ.get("FLOW_DUCKDB_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT
            con.execute("set memory_limit = ?", [memory_limit])
            return con
        except duckdb.IOException as exc:
            if not _is_lock_error(exc) or time.monotonic() >= deadline:
                if _is_lock_error(exc):
                    raise WarehouseError(
                        f"the warehouse {target} is locked by another process (an open SQL "
                        f"session or a running sync) and stayed locked for {lock_timeout_s:.0f}s; "
                        "close it and run again"
                    ) from None
                raise WarehouseError(f"cannot open the warehouse {target}: {exc}") from None
            if not warned:
                log.warning(
                    "warehouse %s is locked by another process; waiting up to %.0fs for it",
                    target,
                    lock_timeout_s,
                )
                warned = True
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def bootstrap(con: duckdb.DuckDBPyConnection) -> None:
    """Create schemas, the raw tables and the version record. Running it twice is harmless."""
    with transaction(con):
        for schema in SCHEMAS:
            con.execute(f"create schema if not exists {schema}")
        con.execute(
            "create table if not exists raw.schema_version ("
            " version integer not null, applied_at timestamptz not null)"
        )
        row = con.execute("select max(version) from raw.schema_version").fetchone()
        on_disk = row[0] if row else None
        if on_disk is not None and on_disk > SCHEMA_VERSION:
            raise WarehouseError(
                f"the warehouse has schema version {on_disk}, newer than this flowmetrics "
                f"knows ({SCHEMA_VERSION}); upgrade flowmetrics or point FLOW_WAREHOUSE elsewhere"
            )
        ddl = sql_text("raw/tables.sql")
        if on_disk is not None and on_disk < 2:
            rebuilt = drop_primary_keys(con, ddl)
            if rebuilt:
                log.info("warehouse schema 1 -> 2: primary keys dropped from %s", rebuilt)
        con.execute(ddl)
        if on_disk is None or on_disk < SCHEMA_VERSION:
            con.execute("insert into raw.schema_version values (?, now())", [SCHEMA_VERSION])


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT, or ROLLBACK on any error: a reader never sees half a change."""
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


@contextmanager
def open_warehouse(
    path: str | os.PathLike[str], *, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Connect (and bootstrap when writable); always closes, so the lock is released."""
    con = connect(path, read_only=read_only)
    try:
        if not read_only:
            bootstrap(con)
        yield con
    finally:
        con.close()
