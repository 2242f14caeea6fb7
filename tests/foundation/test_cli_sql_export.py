"""`flowmetrics sql` (read-only) and `flowmetrics export` over an existing warehouse file."""

from __future__ import annotations

import csv
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
        "create table metrics.value_stream_summary as select * from (values"
        " ('all', 3, 1, 0.25, 9.0, 3.0, 0.33, 0.9, 2.5, 6.0, 0.25, 0.5),"
        " ('Payments', 2, 1, 0.17, 8.0, 2.0, 0.25, 0.8, 2.0, 5.0, 0.5, 0.0))"
        " t(value_stream, items_done, wip, throughput_per_week, total_lead_time_days,"
        " total_process_time_days, activity_ratio, rolled_pct_complete_accurate,"
        " lead_time_p50_days, lead_time_p95_days, tech_debt_ratio, unplanned_ratio)",
    )


def test_sql_prints_a_table_or_csv(warehouse: Path, capsys) -> None:
    query = "select value_stream, items_done from metrics.value_stream_summary order by 1"
    assert main(["sql", query]) == 0
    out = capsys.readouterr().out
    assert "Payments" in out and "value_stream" in out
    query = "select value_stream, items_done, tech_debt_ratio from metrics.value_stream_summary"
    assert main(["sql", "--csv", query + " order by 1"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "value_stream,items_done,tech_debt_ratio",
        "Payments,2,0.5",
        "all,3,0.25",
    ]


def test_sql_is_read_only_and_bad_sql_exits_2(warehouse: Path, capsys) -> None:
    assert main(["sql", "delete from metrics.value_stream_summary"]) == 2
    assert "read-only" in capsys.readouterr().err.lower()
    assert main(["sql", "selec 1"]) == 2
    assert "SQL error" in capsys.readouterr().err
    con = duckdb.connect(str(warehouse), read_only=True)
    assert con.execute("select count(*) from metrics.value_stream_summary").fetchone() == (2,)
    con.close()


def test_sql_without_a_warehouse_exits_1(tmp_path: Path, monkeypatch, capsys) -> None:
    config = tmp_path / "flow.yaml"
    config.write_text(f"warehouse: {tmp_path / 'absent.duckdb'}\n")
    monkeypatch.setenv("FLOW_CONFIG", str(config))
    assert main(["sql", "select 1"]) == 1
    assert "run `flowmetrics sync` first" in capsys.readouterr().err


def test_export_writes_csvs_and_report(warehouse: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["export", "--out", str(out)]) == 0
    with (out / "value_stream_summary.csv").open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:3] == ["value_stream", "items_done", "wip"]
    assert rows[1][0] == "all"  # 'all' first
    assert (
        (out / "report.html")
        .read_text(encoding="utf-8")
        .lstrip()
        .lower()
        .startswith("<!doctype html")
    )
