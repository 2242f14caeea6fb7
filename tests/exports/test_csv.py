"""CSV exports: columns, spreadsheet safety, timestamps, NULLs, order, atomic writes."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from reports import export
from reports.export import METRICS_TABLES, csv_cell, export_all, write_csvs

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+00:00$")


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def header(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return next(csv.reader(fh))


def columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"describe metrics.{table}").fetchall()]


def made_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The known tables the hand-made schema holds, in build order (the fixture need not hold
    every table later work adds: a table that is not there is simply not exported)."""
    made = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'metrics'"
        ).fetchall()
    }
    return [t for t in METRICS_TABLES if t in made]


def test_one_csv_per_metrics_table_including_unknown_ones(con, tmp_path):
    paths = write_csvs(con, tmp_path / "out")
    assert list(paths) == [*made_tables(con), "item_labels"]
    for table, path in paths.items():
        assert path == tmp_path / "out" / f"{table}.csv"
        assert path.is_file()


def test_header_is_the_table_columns_in_table_order(con, tmp_path):
    paths = write_csvs(con, tmp_path)
    for table, path in paths.items():
        assert header(path) == columns(con, table), table


def test_row_counts_match_the_tables(con, tmp_path):
    paths = write_csvs(con, tmp_path)
    for table, path in paths.items():
        (n,) = con.execute(f"select count(*) from metrics.{table}").fetchone()
        assert len(read(path)) == n, table


def test_formula_looking_text_is_neutralised(con, tmp_path):
    rows = read(write_csvs(con, tmp_path)["wait_states"])
    statuses = [r["status"] for r in rows if r["value_stream"] == "all"]
    assert statuses == [
        "Open",
        '\'=HYPERLINK("x")',
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\tTabbed",
    ]


def test_numbers_are_untouched_including_negative_ones(con, tmp_path):
    rows = read(write_csvs(con, tmp_path)["scorecard"])
    by_key = {(r["value_stream"], r["target"]): r for r in rows}
    lead = by_key[("all", "lead_time_p95_days")]
    assert lead["gap"] == "-2.65"
    assert lead["target_value"] == "7.0"
    assert lead["met"] == "false"
    assert by_key[("all", "tech_debt_ratio_min")]["gap"] == "-0.0182"
    assert by_key[("all", "flow_efficiency_min")]["met"] == "true"
    for r in rows:
        for col in ("target_value", "actual_value", "gap"):
            assert not r[col].startswith("'")
            if r[col]:
                float(r[col])


def test_null_is_an_empty_cell(con, tmp_path):
    paths = write_csvs(con, tmp_path)
    scorecard = {(r["value_stream"], r["target"]): r for r in read(paths["scorecard"])}
    missing = scorecard[("all", "pct_complete_accurate_min")]
    assert missing["actual_value"] == "" and missing["gap"] == ""
    flows = {r["item_id"]: r for r in read(paths["item_flow"])}
    assert flows["jira:PAY-1"]["age_days"] == ""
    assert flows["jira:PAY-3"]["done_at"] == ""
    assert flows["jira:PAY-3"]["age_days"] == "11.5"


def test_timestamps_are_iso_8601_utc_whatever_the_session_timezone(con, tmp_path):
    paths = write_csvs(con, tmp_path)
    flows = {r["item_id"]: r for r in read(paths["item_flow"])}
    assert flows["jira:PAY-1"]["created_at"] == "2026-01-01T09:30:00+00:00"
    # Inserted as midnight at +01:00.
    assert flows["jira:PAY-2"]["created_at"] == "2026-01-09T23:00:00+00:00"
    for row in flows.values():
        for col in ("created_at", "started_at", "done_at"):
            if row[col]:
                assert ISO_UTC.match(row[col]), row[col]
                assert datetime.fromisoformat(row[col]).utcoffset().total_seconds() == 0
    periods = [r["period_start"] for r in read(paths["flow_distribution"])]
    assert periods[0] == "2026-01-05T00:00:00+00:00"


def test_unicode_survives_as_utf8(con, tmp_path):
    paths = write_csvs(con, tmp_path)
    raw = paths["wait_states"].read_bytes()
    assert "Wartet auf Prüfung ✓".encode() in raw
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert "Analysé" in [r["stage"] for r in read(paths["value_stream_map"])]


def test_lists_are_joined_and_booleans_spelled_out(con, tmp_path):
    rows = read(write_csvs(con, tmp_path)["item_labels"])
    assert rows[0]["labels"] == "tech-debt; =cmd|' /C calc'!A0"
    assert rows[0]["is_x"] == "true"
    assert rows[1]["labels"] == "" and rows[1]["is_x"] == ""


def test_rows_are_in_natural_key_order_all_first(con, tmp_path):
    paths = write_csvs(con, tmp_path)
    streams = [r["value_stream"] for r in read(paths["value_stream_summary"])]
    assert streams[0] == "all"
    assert sorted(streams[1:]) == streams[1:]
    waits = [r for r in read(paths["wait_states"]) if r["value_stream"] == "all"]
    assert [r["rank"] for r in waits] == ["1", "2", "3", "4", "5", "6"]
    rework = [r["stage"] for r in read(paths["rework"]) if r["value_stream"] == "all"]
    assert rework == ["Backlog", "Analysé", "Development", "Review"]  # stage order, not A-Z
    targets = [r["target"] for r in read(paths["scorecard"]) if r["value_stream"] == "all"]
    assert targets == [
        "lead_time_p95_days",
        "tech_debt_ratio_min",
        "flow_efficiency_min",
        "pct_complete_accurate_min",
    ]
    leads = [r["flow_type"] for r in read(paths["lead_time"]) if r["value_stream"] == "all"]
    assert leads == ["all", "feature"]


def test_export_is_deterministic(con, tmp_path):
    first = {t: p.read_bytes() for t, p in export_all(con, tmp_path / "a").items()}
    second = {t: p.read_bytes() for t, p in export_all(con, tmp_path / "b").items()}
    assert first == second


def test_export_all_writes_csvs_and_the_report_atomically(con, tmp_path):
    out = tmp_path / "deep" / "exports"
    paths = export_all(con, out)
    assert set(paths) == {*made_tables(con), "item_labels", "report"}
    assert paths["report"] == out / "report.html"
    assert paths["report"].read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths.values())
    # The caller's connection is left usable (no transaction left open on it).
    con.execute("begin transaction")
    con.execute("commit")


def test_a_failed_write_keeps_the_previous_file_and_no_temp_file(con, tmp_path, monkeypatch):
    write_csvs(con, tmp_path)
    before = (tmp_path / "scorecard.csv").read_bytes()

    def boom(value):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export, "csv_cell", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        write_csvs(con, tmp_path)
    assert (tmp_path / "scorecard.csv").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_empty_table_gives_a_header_only_file(tmp_path):
    con = duckdb.connect()
    con.execute("create schema metrics")
    con.execute("create table metrics.scorecard (value_stream varchar, target varchar, gap double)")
    paths = write_csvs(con, tmp_path)
    assert paths["scorecard"].read_text(encoding="utf-8") == "value_stream,target,gap\n"


def test_no_metrics_schema_exports_nothing_but_the_report(tmp_path):
    con = duckdb.connect()
    assert write_csvs(con, tmp_path) == {}
    paths = export_all(con, tmp_path)
    assert list(paths) == ["report"]
    assert "No metrics yet" in paths["report"].read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=b", "a=b"),
        ("", ""),
        (-2, "-2"),
        (-2.5, "-2.5"),
        (0.1, "0.1"),
        (float("nan"), ""),
        (None, ""),
        (True, "true"),
        (["a", "-b"], "a; -b"),
        (["-a", "b"], "'-a; b"),
        (datetime(2026, 1, 31, 12, tzinfo=UTC), "2026-01-31T12:00:00+00:00"),
        (datetime(2026, 1, 31, 12), "2026-01-31T12:00:00+00:00"),
    ],
)
def test_csv_cell(value, expected):
    assert csv_cell(value) == expected
