"""StagedRows + upsert_latest: the set-based landing both connectors' batches go through."""

from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pytest

from connectors.staging import StagedRows, upsert_latest

SCHEMA = pa.schema([("k", pa.string()), ("v", pa.string()), ("ts", pa.timestamp("us", tz="UTC"))])
T1 = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute("create table raw.t (k varchar primary key, v varchar, ts timestamptz)")
    con.execute("create table raw.c (k varchar, n integer, v varchar, src bigint)")
    yield con
    con.close()


def test_batches_with_an_all_null_column_concatenate_with_typed_ones():
    staged = StagedRows(SCHEMA)
    staged.add([("a", None, None)], [1])  # alone, pyarrow would infer the null type
    staged.add([("b", "x", T1)], [2])
    table = staged.table()
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert table.column("v").to_pylist() == [None, "x"]
    assert staged.rows == 2


def test_rows_and_sequence_numbers_must_agree():
    with pytest.raises(ValueError, match="2 rows but 1 sequence numbers"):
        StagedRows(SCHEMA).add([("a", "x", T1), ("b", "y", T1)], [1])


def test_latest_copy_wins_and_replaces_the_stored_row(con):
    con.execute("insert into raw.t values ('a', 'stored', null), ('z', 'untouched', null)")
    staged = StagedRows(SCHEMA)
    staged.add([("a", "first", T1), ("b", "only", T1), ("a", "second", T1)], [1, 2, 3])
    assert upsert_latest(con, "raw.t", staged, ["k"]) == 2
    assert con.execute("select k, v from raw.t order by k").fetchall() == [
        ("a", "second"),
        ("b", "only"),
        ("z", "untouched"),
    ]


def test_winners_keep_only_the_rows_of_the_winning_copy(con):
    parents = StagedRows(SCHEMA)
    parents.add([("a", "old copy", T1), ("a", "new copy", T1)], [1, 2])
    children = StagedRows(
        pa.schema([("k", pa.string()), ("n", pa.int64()), ("v", pa.string()), ("src", pa.int64())])
    )
    # copy 1 had two entries; copy 2 has one, given twice (same key): the higher src wins
    children.add(
        [
            ("a", 1, "from copy 1", 1),
            ("a", 2, "from copy 1", 2),
            ("a", 1, "copy 2 early", 3),
            ("a", 1, "copy 2 late", 4),
        ],
        [1, 1, 2, 2],
    )
    landed = upsert_latest(
        con, "raw.c", children, ["k", "n"], winners=(parents, "k"), tiebreak="src"
    )
    assert landed == 1
    assert con.execute("select k, n, v from raw.c").fetchall() == [("a", 1, "copy 2 late")]


def test_identifiers_are_checked(con):
    staged = StagedRows(SCHEMA)
    staged.add([("a", "x", T1)], [1])
    with pytest.raises(ValueError, match="not a plain identifier"):
        upsert_latest(con, "raw.t; drop table raw.t", staged, ["k"])


def test_text_that_is_not_valid_unicode_becomes_the_replacement_character():
    staged = StagedRows(SCHEMA)
    staged.add([("a", "Zoë \ud800", T1)], [1])  # a lone surrogate: no UTF-8 encoding exists
    assert staged.table().column("v").to_pylist() == ["Zoë \ufffd"]


def test_unique_rows_go_in_as_they_are_and_replace_stored_ones(con):
    con.execute("insert into raw.t values ('a', 'old', null), ('z', 'kept', null)")
    staged = StagedRows(SCHEMA)
    staged.add([("a", "new", T1), ("b", "x", T1)], [1, 2])
    assert upsert_latest(con, "raw.t", staged, ["k"], unique=True) == 2
    assert con.execute("select k, v from raw.t order by k").fetchall() == [
        ("a", "new"),
        ("b", "x"),
        ("z", "kept"),
    ]


def test_a_failed_insert_reports_its_own_cause_not_the_aborted_transaction(con):
    # A caller that wrongly promises unique keys hits the primary key. DuckDB then refuses
    # every statement of the transaction, unregistering the staged view included; that refusal
    # must not hide the constraint error.
    staged = StagedRows(SCHEMA)
    staged.add([("a", "1", T1), ("a", "2", T1)], [1, 2])
    con.execute("begin")
    with pytest.raises(duckdb.ConstraintException, match='duplicate key "a"'):
        upsert_latest(con, "raw.t", staged, ["k"], unique=True)
    con.execute("rollback")
    assert upsert_latest(con, "raw.t", staged, ["k"]) == 1  # the view name is free again
    assert con.execute("select k, v from raw.t").fetchall() == [("a", "2")]


@pytest.mark.parametrize("unique", [True, False])
def test_landed_rows_are_not_held_in_memory_until_the_commit(con, unique):
    # A backfill chunk (or a night) lands many batches inside one transaction. DuckDB keeps a
    # registered object alive until the transaction ends, so staging that registered the whole
    # Arrow table kept every landed batch in memory to the commit. Three batches of ~10 MB each
    # landed in one transaction: after each upsert, Arrow holds (almost) nothing of it -- the
    # key column of each batch, 2,000 short keys, is all that may stay.
    con.execute("begin")
    before = pa.total_allocated_bytes()
    for batch in range(3):
        staged = StagedRows(SCHEMA)
        rows = [(f"k{batch}-{i}", "x" * 5000, T1) for i in range(2000)]
        staged.add(rows, list(range(2000)))
        del rows
        assert pa.total_allocated_bytes() - before >= 10_000_000  # staged: ~10 MB of text
        upsert_latest(con, "raw.t", staged, ["k"], unique=unique)
        del staged
        held = pa.total_allocated_bytes() - before
        assert held < 1_000_000, f"after batch {batch}: {held:,} bytes of Arrow still held"
    con.execute("commit")
    assert con.execute("select count(*), sum(length(v)) from raw.t").fetchall() == [
        (6000, 6000 * 5000)
    ]
