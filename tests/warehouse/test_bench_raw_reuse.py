"""`bench_metrics.py --raw PATH`: the 1M raw layer is generated once and reused by later runs
(A/B runs of two commits must rebuild the very same file), and a file of another size is refused
instead of being timed as if it were the asked tier."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def bench():
    from benchmarks import bench_metrics  # the code under test here is the benchmark's

    return bench_metrics


def test_raw_file_is_generated_once_then_reused(bench, tmp_path: Path) -> None:
    raw = tmp_path / "raw-2000.duckdb"
    first = bench.raw_warehouse(raw, 2000, 10)
    assert raw.exists()
    assert first["generated"] is True
    # 85 % JIRA issues, 15 % ServiceNow records (sandbox.warehouse_gen.JIRA_SHARE)
    assert first["jira_issues"] == 1700
    assert first["servicenow_records"] == 300
    stamp = raw.stat().st_mtime_ns

    again = bench.raw_warehouse(raw, 2000, 10)
    assert again["generated"] is False
    assert raw.stat().st_mtime_ns == stamp  # read only, not regenerated
    for table in ("jira_issues", "jira_status_changes", "servicenow_records"):
        assert again[table] == first[table]
    assert again["servicenow_state_changes"] == first["servicenow_state_changes"]


def test_raw_file_of_another_size_is_refused(bench, tmp_path: Path) -> None:
    raw = tmp_path / "raw-2000.duckdb"
    bench.raw_warehouse(raw, 2000, 10)
    with pytest.raises(ValueError, match=r"raw-2000\.duckdb holds 2000 items, not 3000"):
        bench.raw_warehouse(raw, 3000, 10)
