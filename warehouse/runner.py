"""Runs `warehouse/sql/<schema>/<table>.sql` files as `CREATE OR REPLACE TABLE`.

Each SQL file is one SELECT (jaffle-shop style). The runner wraps it, so a file can be read,
tested and explained on its own, and the table is swapped inside one transaction: a reader
sees the old table or the new one, never half of one.
"""

from __future__ import annotations

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


def row_count(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> int:
    """Rows in a model table (identifiers checked, so the f-string is safe)."""
    if not (_IDENT.match(schema) and _IDENT.match(table)):
        raise ValueError(f"not a model name: {schema}.{table}")
    rows = con.execute(f"select count(*) from {schema}.{table}").fetchall()  # noqa: S608
    return int(rows[0][0]) if rows else 0
