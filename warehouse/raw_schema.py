"""The raw tables' keys, and the migration that took their primary keys away (schema v1 -> v2).

Why the big raw tables have no PRIMARY KEY: DuckDB keeps a table's primary-key (ART) index in
memory whenever it writes to the table, ~70-100 bytes a row, and counts it against the memory
limit. A backfill of 1M incidents and 5M audit rows then held ~0.5 GB of index, and the sync's
memory grew with the warehouse instead of staying flat (docs/benchmarks.md). The key of each
such table is written in `warehouse/sql/raw/tables.sql` as a `-- key:` line above its CREATE;
the landing keeps it (every write deletes the staged keys, then inserts: connectors/staging.py,
connectors/landing.py) and `duplicate_keys` proves it after a sync (the `raw_keys_unique`
check, blocking: no number is published from a raw layer holding two versions of a record).
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

import duckdb

from warehouse.catalog import QUALIFIED_NAME as _IDENT

_KEY_LINE = re.compile(r"^--\s*key:\s*(.+?)\s*$")
_CREATE = re.compile(r"^create table if not exists\s+(raw\.\w+)\s*\(", re.IGNORECASE)


def parse_keys(ddl: str) -> dict[str, tuple[str, ...]]:
    """`{table: key columns}` from the `-- key:` line written just above a CREATE TABLE."""
    keys: dict[str, tuple[str, ...]] = {}
    pending: tuple[str, ...] | None = None
    for line in ddl.splitlines():
        stripped = line.strip()
        found = _KEY_LINE.match(stripped)
        if found:
            pending = tuple(c.strip() for c in found.group(1).split(","))
            continue
        created = _CREATE.match(stripped)
        if created:
            if pending:
                keys[created.group(1)] = pending
            pending = None
        elif stripped and not stripped.startswith("--"):
            pending = None
    for table, cols in keys.items():
        for name in (table, *cols):
            if not _IDENT.match(name):
                raise ValueError(f"not a plain identifier in a -- key: line: {name!r}")
    return keys


@cache
def raw_keys() -> dict[str, tuple[str, ...]]:
    """The keys of the raw tables that carry no PRIMARY KEY (read once from the DDL)."""
    ddl = resources.files("warehouse").joinpath("sql", "raw", "tables.sql")
    return parse_keys(ddl.read_text(encoding="utf-8"))


def duplicate_keys(con: duckdb.DuckDBPyConnection, limit: int = 20) -> list[tuple]:
    """Rows `(table, key, copies)` for every key held more than once in a keyed raw table
    (deleted records included: a tombstone is a version too). Empty when the raw layer is
    sound. One aggregate per table: a few seconds at 100M rows, once per sync."""
    parts = []
    for table, cols in raw_keys().items():
        key_text = " || '/' || ".join(f"coalesce(cast({c} as varchar), '')" for c in cols)
        parts.append(
            f"select '{table}' as table_name, {key_text} as record_key, count(*) as copies"  # noqa: S608
            f" from {table} group by all having count(*) > 1"
        )
    sql = " union all ".join(parts) + f" order by 1, 2 limit {int(limit)}"
    return con.execute(sql).fetchall()


def tables_with_primary_key(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The keyed raw tables that still carry a PRIMARY KEY (a warehouse made before v2)."""
    rows = con.execute(
        "select distinct schema_name || '.' || table_name from duckdb_constraints()"
        " where schema_name = 'raw' and constraint_type = 'PRIMARY KEY'"
    ).fetchall()
    having = {r[0] for r in rows}
    return [t for t in raw_keys() if t in having]


def drop_primary_keys(con: duckdb.DuckDBPyConnection, create_ddl: str) -> list[str]:
    """Rebuild each keyed raw table that still has a PRIMARY KEY without it, rows unchanged.

    DuckDB cannot drop a constraint, so each table is renamed, created again from the current
    DDL (`create_ddl`, idempotent: it only creates what is missing) and refilled by column name.
    Run inside the bootstrap's transaction: a kill mid-way leaves the v1 warehouse as it was.
    Returns the tables rebuilt.
    """
    old = tables_with_primary_key(con)
    for table in old:
        con.execute(f"alter table {table} rename to {table.split('.')[1]}__v1")
    con.execute(create_ddl)
    for table in old:
        con.execute(f"insert into {table} by name select * from {table}__v1")  # noqa: S608
        con.execute(f"drop table {table}__v1")
    return old
