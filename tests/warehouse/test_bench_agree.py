"""The metrics benchmark compares like with like: its pandas code and its one-query SQL compute
the same lead times and wait states as the product's rebuild, on the same generated data.

Correctness only (the ratio is the benchmark's business; no timed assertion here).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def bench():
    from benchmarks import bench_metrics  # the code under test here is the benchmark's

    return bench_metrics


def test_pandas_and_same_work_sql_agree_with_the_rebuild(bench, tmp_path: Path) -> None:
    gen = tmp_path / "gen.duckdb"
    bench.generate(gen, 3000, 10)
    built, same = tmp_path / "built.duckdb", tmp_path / "same.duckdb"
    shutil.copy(gen, built)
    shutil.copy(gen, same)

    sql = bench.build_child(str(built))
    pandas = bench.pandas_child(str(gen))
    one_query = bench.same_work_child(str(same))

    assert sql["check"]["window_items"] > 100
    assert sql["check"]["all_wait_items"] > 100
    for other in (pandas, one_query):
        assert other["done_items"] == sql["done_items"]
        assert other["wait_rows"] == sql["wait_rows"]
        for key, value in sql["check"].items():
            assert math.isclose(other["check"][key], value, rel_tol=1e-9), key
