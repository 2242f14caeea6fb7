"""Runs `warehouse/sql/<schema>/<table>.sql` files as `CREATE OR REPLACE TABLE`.

Each SQL file is one SELECT (jaffle-shop style). The runner wraps it, so a file can be read,
tested and explained on its own, and the table is swapped inside one transaction: a reader
sees the old table or the new one, never half of one.
"""

from __future__ import annotations

import importlib
import math
import os
import re
from collections.abc import Sequence
from typing import Any

import duckdb

from models.crashpoints import crash_point
from warehouse.catalog import IDENTIFIER as _IDENT
from warehouse.db import sql_text, transaction


def table_sql(schema: str, table: str) -> str:
    """The CREATE OR REPLACE statement for one packaged SQL model."""
    if not (_IDENT.match(schema) and _IDENT.match(table)):
        raise ValueError(f"not a model name: {schema}.{table}")
    select = sql_text(f"{schema}/{table}.sql").strip().rstrip(";")
    return f"create or replace table {schema}.{table} as\n{select}"


def build_table(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, params: Sequence[Any] | None = None
) -> int:
    """Rebuild one table in its own transaction; returns its row count."""
    with transaction(con):
        con.execute(table_sql(schema, table), params or [])
        crash_point(schema)  # test-only (FLOWMETRICS_CRASH_AT); no-op unset
    return row_count(con, schema, table)


#: Bytes of DuckDB memory one status change needs in the biggest parted step (core.transitions'
#: window and core.status_intervals' self-join, measured at 1M-10M items: ~160 B in memory).
PART_ROW_BYTES = 160


def memory_limit_bytes(con: duckdb.DuckDBPyConnection) -> int:
    """The connection's DuckDB memory limit in bytes (DuckDB reports it as e.g. `1.8 GiB`)."""
    text = str(con.execute("select current_setting('memory_limit')").fetchone()[0])
    match = re.match(r"^\s*([0-9.]+)\s*([KMGTP]?i?B|bytes)\s*$", text, re.IGNORECASE)
    if not match:
        raise ValueError(f"cannot read DuckDB's memory_limit {text!r}")
    unit = match.group(2).upper().replace("I", "")
    scale = {"BYTES": 1, "B": 1, "KB": 1, "MB": 2, "GB": 3, "TB": 4, "PB": 5}[unit]
    factor = 1 if unit == "BYTES" else 1024**scale if "I" in match.group(2).upper() else 1000**scale
    return int(float(match.group(1)) * factor)


def planned_parts(con: duckdb.DuckDBPyConnection) -> int:
    """How many parts a `-- parts: true` table is built in: one per ~memory_limit of changes.

    The status changes in raw bound the rows of both parted tables; a part gets at most the
    changes whose working set (`PART_ROW_BYTES` each) fits the memory limit, so its hash table
    and window stay in memory instead of spilling (slow) or failing (DuckDB's external hash join
    ran out of memory at 100M). `FLOW_BUILD_PARTS` overrides the count (a positive integer).
    """
    forced = os.environ.get("FLOW_BUILD_PARTS", "").strip()
    if forced:
        if not forced.isdigit() or int(forced) < 1:
            raise ValueError(f"FLOW_BUILD_PARTS must be a positive integer, not {forced!r}")
        return int(forced)
    return parts_needed(con)


def parts_needed(con: duckdb.DuckDBPyConnection) -> int:
    """Parts the raw status changes need under the connection's memory limit (no override)."""
    row = con.execute(
        "select (select count(*) from raw.jira_status_changes)"
        " + (select count(*) from raw.servicenow_state_changes)"
    ).fetchone()
    changes = int(row[0]) if row else 0
    return max(1, math.ceil(changes * PART_ROW_BYTES / memory_limit_bytes(con)))


def build_parts(con: duckdb.DuckDBPyConnection, schema: str, table: str, parts: int) -> int:
    """Rebuild one `-- parts: true` table as `parts` statements inside ONE transaction.

    Part 0 creates the table, parts 1..n-1 append to it; the SELECT keeps only the items of
    part `$part` of `$parts`, and computes each item from that item's rows alone, so the union
    of the parts is exactly the one-statement table. A reader still sees the old table or the
    whole new one; a failure in any part rolls every part back.
    """
    if parts < 1:
        raise ValueError(f"parts must be at least 1, not {parts}")
    if not (_IDENT.match(schema) and _IDENT.match(table)):
        raise ValueError(f"not a model name: {schema}.{table}")
    select = sql_text(f"{schema}/{table}.sql").strip().rstrip(";")
    with transaction(con):
        for part in range(parts):
            values = {"part": part, "parts": parts}
            if part == 0:
                con.execute(table_sql(schema, table), values)
            else:
                con.execute(f"insert into {schema}.{table}\n{select}", values)
        crash_point(schema)  # test-only (FLOWMETRICS_CRASH_AT); no-op unset
    return row_count(con, schema, table)


def build_transformed(con: duckdb.DuckDBPyConnection, schema: str, table: str, module: str) -> int:
    """Rebuild one table whose rows a Python step computes from the file's SELECT.

    The SELECT (the step's inputs) is read, `module.rows(inputs)` computes the rows and the
    table is replaced with `module.COLUMNS`, all inside one transaction: a reader sees the old
    table or the new one, and a failing step leaves the old one in place.
    """
    if not (_IDENT.match(schema) and _IDENT.match(table)):
        raise ValueError(f"not a model name: {schema}.{table}")
    step = importlib.import_module(module)
    columns: Sequence[tuple[str, str]] = step.COLUMNS
    for name, kind in columns:
        if not (_IDENT.match(name) and re.match(r"^[a-z]+(\[\])?$", kind)):
            raise ValueError(f"{module}.COLUMNS: not a column: {name} {kind}")
    select = sql_text(f"{schema}/{table}.sql").strip().rstrip(";")
    ddl = ", ".join(f"{name} {kind}" for name, kind in columns)
    marks = ", ".join("?" for _ in columns)
    with transaction(con):
        cur = con.execute(select)
        names = [d[0] for d in cur.description]
        inputs = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        out = step.rows(inputs)
        con.execute(f"create or replace table {schema}.{table} ({ddl})")
        if out:
            con.executemany(f"insert into {schema}.{table} values ({marks})", out)  # noqa: S608
        crash_point(schema)  # test-only (FLOWMETRICS_CRASH_AT); no-op unset
    return row_count(con, schema, table)


def row_count(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> int:
    """Rows in a model table (identifiers checked, so the f-string is safe)."""
    if not (_IDENT.match(schema) and _IDENT.match(table)):
        raise ValueError(f"not a model name: {schema}.{table}")
    rows = con.execute(f"select count(*) from {schema}.{table}").fetchall()  # noqa: S608
    return int(rows[0][0]) if rows else 0
