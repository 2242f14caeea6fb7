"""Schema v2: the big raw tables carry no primary-key index, their keys still hold.

Why it matters: DuckDB keeps a table's primary-key index in memory while it writes, so with
keys on the record and history tables a backfill's memory grew with the warehouse (~100 bytes
a row). A v1 warehouse is migrated in place, every row kept.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from warehouse.db import SCHEMA_VERSION, bootstrap, connect
from warehouse.raw_schema import duplicate_keys, parse_keys, raw_keys, tables_with_primary_key

V1_DDL = (Path(__file__).parent / "raw_tables_v1.sql").read_text(encoding="utf-8")
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

KEYED = {
    "raw.jira_issues": ("issue_id",),
    "raw.jira_status_changes": ("issue_id", "history_id", "item_index"),
    "raw.jira_field_changes": ("issue_id", "history_id", "item_index"),
    "raw.servicenow_records": ("sys_id",),
    "raw.servicenow_state_changes": ("change_id",),
    "raw.servicenow_field_changes": ("change_id",),
}


def _v1_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    """A warehouse as schema version 1 made it (the DDL shipped before v2, frozen here)."""
    con = connect(path)
    for schema in ("raw", "core", "metrics"):
        con.execute(f"create schema {schema}")
    con.execute(V1_DDL)
    con.execute(
        "create table raw.schema_version (version integer not null, applied_at timestamptz not null)"
    )
    con.execute("insert into raw.schema_version values (1, ?)", [T0])
    return con


def _fill(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "insert into raw.jira_issues (issue_id, issue_key, created_at, updated_at, payload,"
        " synced_at) values ('10001', 'PAY-1', ?, ?, '{}', ?), ('10002', 'PAY-2', ?, ?, '{}', ?)",
        [T0] * 6,
    )
    con.execute(
        "insert into raw.jira_status_changes (issue_id, history_id, item_index, changed_at,"
        " to_status_id, source_order) values ('10001', 'h1', 0, ?, '3', 1)",
        [T0],
    )
    con.execute(
        "insert into raw.servicenow_state_changes (change_id, table_name, record_sys_id,"
        " changed_at, to_value, history_source) values ('a1', 'incident', 's1', ?, '2', 'sys_audit')",
        [T0],
    )


def test_the_keys_are_read_from_the_ddl():
    assert raw_keys() == KEYED


def test_a_new_warehouse_has_no_primary_key_on_the_record_and_history_tables(tmp_path: Path):
    con = connect(tmp_path / "w.duckdb")
    bootstrap(con)
    assert tables_with_primary_key(con) == []
    # the small catalogue and bookkeeping tables keep theirs
    kept = {
        r[0]
        for r in con.execute(
            "select table_name from duckdb_constraints() where schema_name = 'raw'"
            " and constraint_type = 'PRIMARY KEY'"
        ).fetchall()
    }
    assert {"jira_statuses", "sync_state", "backfill_state"} <= kept
    assert not kept & {t.split(".")[1] for t in KEYED}


def test_a_v1_warehouse_is_migrated_in_place_with_every_row(tmp_path: Path):
    con = _v1_warehouse(tmp_path / "w.duckdb")
    _fill(con)
    assert sorted(tables_with_primary_key(con)) == sorted(KEYED)  # the v1 shape

    bootstrap(con)

    assert tables_with_primary_key(con) == []
    assert con.execute("select max(version) from raw.schema_version").fetchone() == (
        SCHEMA_VERSION,
    )
    assert con.execute(
        "select issue_id, issue_key, is_deleted from raw.jira_issues order by 1"
    ).fetchall() == [
        ("10001", "PAY-1", False),
        ("10002", "PAY-2", False),
    ]
    assert con.execute("select count(*) from raw.jira_status_changes").fetchone() == (1,)
    assert con.execute("select to_value from raw.servicenow_state_changes").fetchall() == [("2",)]
    # no table left behind by the rename, and the defaults came back with the new DDL
    names = {
        r[0]
        for r in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'raw'"
        ).fetchall()
    }
    assert not [n for n in names if n.endswith("__v1")]
    con.execute(
        "insert into raw.jira_issues (issue_id, issue_key, created_at, updated_at, payload,"
        " synced_at) values ('10003', 'PAY-3', ?, ?, '{}', ?)",
        [T0] * 3,
    )
    assert con.execute(
        "select is_deleted from raw.jira_issues where issue_id = '10003'"
    ).fetchone() == (False,)
    bootstrap(con)  # a second bootstrap changes nothing
    assert con.execute("select count(*) from raw.jira_issues").fetchone() == (3,)


def test_duplicate_keys_names_the_table_and_the_key(tmp_path: Path):
    con = connect(tmp_path / "w.duckdb")
    bootstrap(con)
    _fill(con)
    assert duplicate_keys(con) == []
    _fill(con)  # the same rows again: nothing stops it now but the landing and this check
    assert duplicate_keys(con) == [
        ("raw.jira_issues", "10001", 2),
        ("raw.jira_issues", "10002", 2),
        ("raw.jira_status_changes", "10001/h1/0", 2),
        ("raw.servicenow_state_changes", "a1", 2),
    ]


@pytest.mark.parametrize(
    "ddl, expected",
    [
        ("-- key: a, b\ncreate table if not exists raw.t (\n a int);", {"raw.t": ("a", "b")}),
        # a key line only names the CREATE right under it (comments between are fine)
        ("-- key: a\n-- more words\ncreate table if not exists raw.t (a int);", {"raw.t": ("a",)}),
        ("-- key: a\nselect 1;\ncreate table if not exists raw.t (a int);", {}),
    ],
)
def test_parse_keys(ddl, expected):
    assert parse_keys(ddl) == expected


def test_a_key_line_with_sql_in_it_is_refused():
    with pytest.raises(ValueError, match="not a plain identifier"):
        parse_keys("-- key: a; drop table x\ncreate table if not exists raw.t (a int);")
