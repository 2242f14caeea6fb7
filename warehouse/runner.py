"""Runs `warehouse/sql/<schema>/<table>.sql` files as `CREATE OR REPLACE TABLE`.

Each SQL file is one SELECT (jaffle-shop style). The runner wraps it, so a file can be read,
tested and explained on its own, and the table is swapped inside one transaction: a reader
sees the old table or the new one, never half of one.
"""

from __future__ import annotations

import importlib
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
