"""`flowmetrics sql` runs one read-only query in a sandbox (issue #20).

Each forbidden statement is refused with exit 2 and a message saying why, and leaves no file
behind; ordinary queries, and a sort far larger than the memory limit (it must spill), work.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from flowmetrics.cli import main
from tests.foundation.cli_warehouse import make_warehouse


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_warehouse(
        tmp_path,
        monkeypatch,
        "create table metrics.value_stream_summary as"
        " select * from (values ('all', 3), ('Payments', 2)) t(value_stream, items_done)",
    )


def _refused(capsys, query: str) -> str:
    assert main(["sql", query]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("copy (select 1) to '{out}/copy.csv'", "COPY statements are refused: COPY writes"),
        (
            "copy metrics.value_stream_summary to '{out}/copy.parquet' (format parquet)",
            "COPY statements are refused",
        ),
        ("export database '{out}/dump'", "EXPORT DATABASE statements are refused"),
        ("install httpfs", "INSTALL/LOAD statements are refused: INSTALL and LOAD of extensions"),
        ("load httpfs", "INSTALL/LOAD statements are refused"),
        ("set memory_limit = '64GB'", "SET/RESET/USE statements are refused"),
        ("reset memory_limit", "SET/RESET/USE statements are refused"),
        ("set enable_external_access = true", "SET/RESET/USE statements are refused"),
        ("attach '{out}/other.duckdb' as other", "ATTACH statements are refused"),
        ("pragma enable_profiling", "PRAGMA statements are refused"),
        ("select 1; copy (select 1) to '{out}/second.csv'", "one statement at a time: found 2"),
        ("select 1; select 2", "one statement at a time: found 2"),
        ("delete from metrics.value_stream_summary", "DELETE statements are refused"),
        ("create table metrics.x as select 1", "CREATE statements are refused"),
        ("", "no SQL statement given"),
        (" ; ", "no SQL statement given"),
    ],
)
def test_forbidden_statements_are_refused_with_a_reason(
    warehouse: Path, tmp_path: Path, capsys, query: str, message: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    err = _refused(capsys, query.format(out=out))
    assert err.startswith("SQL refused: ") and message in err, err
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    "query",
    [
        "select * from read_text('/etc/passwd')",
        "select * from read_csv('/etc/passwd')",
        "select * from glob('/etc/*')",
        "select * from '{secret}'",
        "select * from read_text('{secret}')",
    ],
)
def test_files_outside_the_warehouse_cannot_be_read(
    warehouse: Path, tmp_path: Path, capsys, query: str
) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("token\nPLANTED-FILE-SECRET\n")
    err = _refused(capsys, query.format(secret=secret))
    assert "SQL refused: flowmetrics sql reads the warehouse only" in err, err
    assert "file system operations are disabled" in err
    assert "PLANTED-FILE-SECRET" not in err and "root:" not in err


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("select 'a;b' as s", ["s", "a;b"]),  # a ';' inside a literal is not a second statement
        (
            "select value_stream from metrics.value_stream_summary order by 1; ",
            ["value_stream", "Payments", "all"],
        ),
        (
            "from metrics.value_stream_summary select items_done order by 1",
            ["items_done", "2", "3"],
        ),
        ("with t as (select 40 + 2 as answer) select answer from t", ["answer", "42"]),
        ("select count(*) as n from (describe metrics.value_stream_summary)", ["n", "2"]),
    ],
)
def test_ordinary_queries_still_work(warehouse: Path, capsys, query: str, expected) -> None:
    assert main(["sql", "--csv", query]) == 0
    assert capsys.readouterr().out.splitlines() == expected


def test_explain_and_show_work(warehouse: Path, capsys) -> None:
    assert main(["sql", "show all tables"]) == 0
    assert "value_stream_summary" in capsys.readouterr().out
    assert main(["sql", "explain select 1"]) == 0
    assert "physical_plan" in capsys.readouterr().out


SPILLING_SORT = (
    "select count(*) as n, max(rn) as top from (select row_number() over (order by hash(i)) rn,"
    " i::varchar || 'padding-padding-padding' as s from range(5000000) t(i))"
)


def test_a_sort_larger_than_memory_spills_and_succeeds(
    warehouse: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 5 M rows of ~40 bytes (~200 MB) sorted under a 40 MB limit: only possible by spilling.
    monkeypatch.setenv("FLOW_DUCKDB_MEMORY_LIMIT", "40MB")
    assert main(["sql", "--csv", SPILLING_SORT]) == 0
    assert capsys.readouterr().out.splitlines() == ["n,top", "5000000,5000000"]
    # The control: the same sort with nowhere to spill runs out of memory.
    con = duckdb.connect(config={"memory_limit": "40MB", "temp_directory": ""})
    with pytest.raises(duckdb.OutOfMemoryException):
        con.execute(SPILLING_SORT).fetchall()
    con.close()
