"""Reading the warehouse's own catalog: which columns a table has; checking and quoting names.

Shared by the CSV export and the report (both read tables whose columns they discover), so
neither has to import the other for them.
"""

from __future__ import annotations

import re

import duckdb

#: Names written into SQL text (identifiers cannot be bound as parameters) must match one of
#: these: a lower-case identifier, or one optionally qualified by its schema.
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
QUALIFIED_NAME = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$")


def quote_ident(name: str) -> str:
    """Quote a DuckDB identifier read from the catalog (names cannot be bound as parameters)."""
    return '"' + name.replace('"', '""') + '"'


def table_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    """Column names of `schema.table` in table order ([] when it does not exist)."""
    rows = con.execute(
        "select column_name from information_schema.columns"
        " where table_schema = ? and table_name = ? and table_catalog = current_database()"
        " order by ordinal_position",
        [schema, table],
    ).fetchall()
    return [r[0] for r in rows]
