"""Rows gathered batch by batch as Arrow columns, landed by one set-based statement.

Why: converting Python values to columns is most of a sync's landing cost. Done per batch, it
runs on the main thread while the prefetch thread waits on the server for the next page, so
it hides behind network time instead of adding to the end of the run; and an Arrow table hands
its columns to DuckDB without another copy. Each batch carries a sequence number, so "a later
copy of a record wins" is decided in SQL (`latest_first`) rather than by rebuilding rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from typing import Any

import duckdb
import pyarrow as pa

from connectors.landing import registered
from models.crashpoints import crash_point
from warehouse.catalog import QUALIFIED_NAME as _IDENT

#: Name of the batch-sequence column added to every staged table.
SEQ = "_seq"


def _array(values: Sequence[Any], type_: pa.DataType) -> pa.Array:
    """One column; text that is not valid Unicode (a lone surrogate, which JSON can escape and
    the stdlib parser lets through) becomes U+FFFD rather than failing the whole batch: no
    UTF-8 text, Arrow string or DuckDB value can hold it."""
    try:
        return pa.array(values, type=type_)
    except UnicodeEncodeError:
        return pa.array([valid_text(v) for v in values], type=type_)


def valid_text(value: Any) -> Any:
    """`value` with lone surrogates in its strings (dict keys and nested values included)
    replaced by U+FFFD; anything else unchanged."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {valid_text(k): valid_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [valid_text(v) for v in value]
    return value


class StagedRows:
    """Row tuples in `schema` order, kept as one Arrow table per batch."""

    def __init__(self, schema: pa.Schema):
        self.schema = schema
        self._full = schema.append(pa.field(SEQ, pa.int64()))
        self._tables: list[pa.Table] = []
        self.rows = 0
        #: bytes of the staged Arrow buffers (payloads make most of them): what a lander bounds
        self.nbytes = 0

    def add(self, rows: Sequence[tuple[Any, ...]], seqs: Sequence[int]) -> None:
        """Convert one batch of rows to columns now (types from the schema, never inferred:
        a batch whose column is all NULL must still concatenate with the others). `seqs` gives
        each row its sequence number: higher wins over lower for the same key."""
        if not rows:
            return
        if len(seqs) != len(rows):
            raise ValueError(f"{len(rows)} rows but {len(seqs)} sequence numbers")
        columns = list(zip(*rows, strict=True))
        if len(columns) != len(self.schema):
            raise ValueError(f"rows have {len(columns)} values, the schema {len(self.schema)}")
        arrays = [_array(col, f.type) for col, f in zip(columns, self.schema, strict=True)]
        arrays.append(pa.array(seqs, type=pa.int64()))
        batch = pa.Table.from_arrays(arrays, schema=self._full)
        self._tables.append(batch)
        self.rows += len(rows)
        self.nbytes += batch.nbytes

    def table(self) -> pa.Table:
        """Every batch as one table (an empty one with the schema when nothing was added)."""
        if not self._tables:
            return self._full.empty_table()
        return pa.concat_tables(self._tables)


def _one_pass(rows: pa.Table) -> pa.RecordBatchReader:
    """`rows` as a stream that holds each batch only until it is read (readable once)."""
    batches = rows.to_batches()

    def drain() -> Iterator[pa.RecordBatch]:
        while batches:
            yield batches.pop(0)

    return pa.RecordBatchReader.from_batches(rows.schema, drain())


def upsert_latest(
    con: duckdb.DuckDBPyConnection,
    table: str,
    staged: StagedRows,
    keys: Sequence[str],
    *,
    winners: tuple[StagedRows, str] | None = None,
    tiebreak: str | None = None,
    unique: bool = False,
) -> int:
    """Replace the rows of `table` whose `keys` were staged by the staged copy with the highest
    sequence number per key (then the highest `tiebreak`); returns the rows inserted. Run
    inside the caller's transaction.

    `winners` = (other staged rows, key column): land only rows whose (key, seq) is the latest
    (key, seq) there -- e.g. the history rows of the copy of an issue that won. `unique`: the
    caller guarantees each key is staged once (and, with `winners`, only the winners' rows),
    so the rows are inserted as they are -- the latest-copy window over every staged row is
    the dearer half of the statement.
    """
    for name in (
        table,
        *keys,
        *staged.schema.names,
        *([winners[1]] if winners else []),
        *([tiebreak] if tiebreak else []),
    ):
        if not _IDENT.match(name):
            raise ValueError(f"not a plain identifier: {name!r}")
    if staged.rows == 0:
        return 0
    view = f"_staged_{table.replace('.', '_')}"
    # DuckDB keeps a registered object until the transaction commits, so registering the
    # staged table would keep a night's (or a backfill chunk's) every staged batch in memory to
    # the end. The delete reads only the key columns (a view of them: a few bytes a row stay
    # registered), the insert reads the rows once, through a one-pass stream that lets go of
    # each batch as DuckDB takes it.
    table_rows = staged.table()
    key_cols = table_rows.select(list(keys))
    with ExitStack() as views:
        key_view = views.enter_context(registered(con, f"{view}_keys", key_cols))
        match = " and ".join(f"t.{k} = f.{k}" for k in keys)
        delete = f"delete from {table} t where exists (select 1 from {key_view} f where {match})"  # noqa: S608
        con.execute(delete)
        views.enter_context(registered(con, view, _one_pass(table_rows)))
        del table_rows
        source = view
        if winners is not None and not unique:
            other, key = winners
            # the (key, seq) columns only: what a registered view keeps to the commit
            won = views.enter_context(
                registered(con, f"{view}_winners", other.table().select([key, SEQ]))
            )
            latest = f"select {key}, max({SEQ}) as {SEQ} from {won} group by {key}"  # noqa: S608
            source = f"(select s.* from {view} s semi join ({latest}) w using ({key}, {SEQ}))"  # noqa: S608
        key_list = ", ".join(keys)
        cols = ", ".join(staged.schema.names)
        order = f"{SEQ} desc" + (f", {tiebreak} desc" if tiebreak else "")
        if unique:
            sql = f"insert into {table} ({cols}) select {cols} from {view}"  # noqa: S608
        else:
            sql = (
                f"insert into {table} ({cols}) select {cols} from {source}"  # noqa: S608
                f" qualify row_number() over (partition by {key_list} order by {order}) = 1"
            )
        inserted = con.execute(sql).fetchall()
        crash_point("land")  # test-only (FLOWMETRICS_CRASH_AT); no-op unset
    return int(inserted[0][0]) if inserted else 0
