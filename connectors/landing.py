"""Bulk upserts into the raw layer: one statement per batch, never a round trip per row."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import duckdb
import pandas as pd

from models.crashpoints import crash_point
from warehouse.catalog import QUALIFIED_NAME as _IDENT


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, data: Any) -> Iterator[str]:
    """`data` (a DataFrame or Arrow table) readable in SQL as `name` for the block.

    Why not a plain try/finally: once a statement in the block fails, DuckDB aborts the
    transaction and refuses even `unregister`, and that refusal ("Current transaction is
    aborted") would replace the error that names the cause -- a constraint, a bad value. So on
    failure the unregister is tried and its refusal dropped; the view then lives on until the
    name is registered again or the connection closes.
    """
    con.register(name, data)
    try:
        yield name
    except BaseException:
        with suppress(duckdb.Error):
            con.unregister(name)
        raise
    con.unregister(name)


def upsert_frame(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pd.DataFrame,
    keys: Sequence[str],
) -> int:
    """Replace the rows of `table` whose `keys` appear in `frame`, then insert `frame`.

    The frame's columns must be a subset of the table's, by name; later rows of the frame win
    over earlier ones with the same key. Run inside the caller's transaction.
    """
    if frame.empty:
        return 0
    for name in (table, *keys, *frame.columns):
        if not _IDENT.match(name):
            raise ValueError(f"not a plain identifier: {name!r}")
    frame = frame.drop_duplicates(subset=list(keys), keep="last")
    with registered(con, f"_upsert_{table.replace('.', '_')}", frame) as view:
        match = " and ".join(f"t.{k} = f.{k}" for k in keys)
        con.execute(f"delete from {table} t where exists (select 1 from {view} f where {match})")  # noqa: S608
        cols = ", ".join(frame.columns)
        con.execute(f"insert into {table} ({cols}) select {cols} from {view}")  # noqa: S608
        crash_point("land")  # test-only (FLOWMETRICS_CRASH_AT); no-op unset
    return len(frame)


def delete_where_in(
    con: duckdb.DuckDBPyConnection, table: str, column: str, values: Sequence[str]
) -> None:
    """Delete rows whose `column` is one of `values` (e.g. a re-fetched issue's history)."""
    if not values:
        return
    for name in (table, column):
        if not _IDENT.match(name):
            raise ValueError(f"not a plain identifier: {name!r}")
    # identifiers checked above; the values are a parameter
    sql = f"delete from {table} where {column} in (select unnest(?::varchar[]))"  # noqa: S608
    con.execute(sql, [list(values)])
