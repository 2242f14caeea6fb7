"""metrics.forecast (docs/contract.md §6): statistical properties of the Monte Carlo rather than golden
numbers, on the simulation itself and on the built table."""

from __future__ import annotations

import duckdb
import numpy as np

from tests.warehouse.wh_timeline import (
    JIRA_STATUSES,
    add_issue,
    add_jira_statuses,
    build,
    config,
    new_warehouse,
    rows,
)
from warehouse.build import build_one
from warehouse.forecast import PERCENTS, at_least, generator, simulate, within

BUMPY = [0, 0, 1, 3, 5, 2, 0, 7, 1, 0, 4, 2, 0, 0]


def test_constant_throughput_gives_exactly_k_times_horizon() -> None:
    # Every sample is 3: every trial sums 3 per day, so every percentile is 3 x horizon; WIP 10
    # is reached on day 4 (3, 6, 9, 12) in every trial.
    sim = simulate([3] * 10, [14, 28, 56], wip=10, trials=500, rng=generator(1, "x"))
    assert sim.items == {14: (42, 42, 42), 28: (84, 84, 84), 56: (168, 168, 168)}
    assert sim.wip_done_days == (4, 4, 4)


def test_same_seed_repeats_and_another_seed_differs() -> None:
    def run(seed: int, name: str = "Payments"):
        return simulate(BUMPY, [14, 28], wip=30, trials=2000, rng=generator(seed, name))

    assert run(1) == run(1)
    assert run(1) != run(2)  # a new seed draws new trials (checked: these two differ)
    assert run(1, "Web") != run(1, "Payments")  # each stream has its own generator


def test_more_trials_narrow_the_spread() -> None:
    # The p85 of 14-day totals, estimated with 20 different seeds: with 50 trials it wanders,
    # with 20 000 it barely moves (the Monte Carlo error shrinks like 1 / sqrt(trials)).
    def spread(trials: int) -> int:
        got = [
            simulate(BUMPY, [14], 0, trials, generator(seed, "s")).items[14][1]
            for seed in range(20)
        ]
        return max(got) - min(got)

    assert spread(20_000) < spread(50)
    assert spread(20_000) <= 2


def test_percentiles_are_ordered_and_horizons_nested() -> None:
    sim = simulate(BUMPY, [7, 14, 28], wip=40, trials=5000, rng=generator(5, "s"))
    for h in (7, 14, 28):
        p50, p85, p95 = sim.items[h]
        assert p95 <= p85 <= p50  # "at least N" with more confidence is a smaller N
    assert sim.items[7][1] <= sim.items[14][1] <= sim.items[28][1]
    d50, d85, d95 = sim.wip_done_days
    assert d50 <= d85 <= d95
    # mean throughput 25 / 14 a day: 40 items take about 22 days at the median
    assert 15 <= d50 <= 30


def test_no_throughput_and_no_wip() -> None:
    dead = simulate([0] * 5, [14], wip=3, trials=100, rng=generator(1, "s"))
    assert dead.items == {14: (0, 0, 0)} and dead.wip_done_days == (None, None, None)
    idle = simulate([2, 0], [14], wip=0, trials=100, rng=generator(1, "s"))
    assert idle.wip_done_days == (0, 0, 0)  # nothing to finish: done within 0 days


def test_percentile_definitions_by_hand() -> None:
    totals = np.array([5, 1, 4, 2, 3, 9, 7, 8, 6, 10])  # 1..10
    # at least N in 85% of 10 trials: 9 trials must reach N -> N = 2 (index 10 * 15 // 100 = 1)
    assert at_least(totals, 85) == 2 and at_least(totals, 50) == 6 and at_least(totals, 95) == 1
    # done within D in 85% of 10 trials: 9 trials finish by D -> D = 9 (index ceil(8.5) - 1)
    assert within(totals, 85) == 9 and within(totals, 50) == 5 and within(totals, 95) == 10
    assert PERCENTS == (50, 85, 95)


CONFIG = """
window_days: 30
stages: [Backlog, Dev, Done]
statuses:
  jira:
    Open: {stage: Backlog, kind: wait}
    In Progress: {stage: Dev, kind: active}
    Done: {stage: Done, kind: done}
value_streams:
  - name: Payments
    jira: {projects: [PAY]}
forecast: {history_days: 3, horizons_days: [5, 10], trials: 300, seed: 11}
"""


def constant_warehouse() -> duckdb.DuckDBPyConnection:
    """as_of day 10.5; history = days 7, 8, 9 (ending with the day before as_of's day).

    Two PAY items done on each of days 7, 8 and 9; one done on day 10 (as_of's own day: not in
    the history) and one on day 6 (before it); three open items (WIP 3).
    """
    con = new_warehouse()
    add_jira_statuses(con, JIRA_STATUSES)
    n = 0
    for d in (6, 7, 7, 8, 8, 9, 9, 10):
        n += 1
        add_issue(con, f"PAY-{n}", 1, [(2, "1", "3"), (d + 0.5, "3", "10")])
    for _ in range(3):
        n += 1
        add_issue(con, f"PAY-{n}", 2, [(3, "1", "3")])
    build(con, config(CONFIG), 10.5)
    return con


def test_forecast_table_with_constant_history() -> None:
    con = constant_warehouse()
    got = {(r["value_stream"], r["horizon_days"]): r for r in rows(con, "from metrics.forecast")}
    # samples [2, 2, 2] -> horizon 5: exactly 10 items, horizon 10: exactly 20, in every trial;
    # WIP 3 at 2 a day: 2, 4 -> done on day 2 in every trial.
    for stream in ("Payments", "all"):
        assert [got[(stream, h)][f"items_p{p}"] for h in (5, 10) for p in PERCENTS] == [
            10,
            10,
            10,
            20,
            20,
            20,
        ]
        w = got[(stream, None)]
        assert (
            w["wip"],
            w["wip_done_days_p50"],
            w["wip_done_days_p85"],
            w["wip_done_days_p95"],
        ) == (3, 2, 2, 2)
        assert (w["history_days"], w["history_items"], w["trials"]) == (3, 6, 300)
        assert got[(stream, 5)]["wip"] is None and w["items_p85"] is None
    assert ("unassigned", None) not in got  # no item in it: no stream
    con.close()


def test_forecast_rebuild_is_reproducible() -> None:
    con = new_warehouse()
    add_jira_statuses(con, JIRA_STATUSES)
    for i, d in enumerate([1, 2, 2, 4, 7, 7, 7, 8]):
        add_issue(con, f"PAY-{i}", 0, [(0.5, "1", "3"), (d + 0.25, "3", "10")])
    add_issue(con, "PAY-99", 0, [(0.5, "1", "3")])
    build(con, config(CONFIG.replace("history_days: 3", "history_days: 9")), 9.5)
    first = rows(con, "from metrics.forecast order by value_stream, horizon_days")
    build_one(con, "metrics", "forecast")
    assert rows(con, "from metrics.forecast order by value_stream, horizon_days") == first
    con.close()


CRASH = """
import sys
from tests.reliability.crashhook import install_from_env
install_from_env()
from warehouse.db import connect
from warehouse.build import build_one
con = connect(sys.argv[1])
con.execute("update core.forecast_settings set seed = seed + 1, trials = 50")
build_one(con, "metrics", "forecast")  # FLOWMETRICS_CRASH_AT=metrics kills it before COMMIT
"""


def test_a_rebuild_killed_mid_transaction_leaves_the_old_table(tmp_path) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    from warehouse.db import connect

    path = tmp_path / "w.duckdb"
    con = constant_warehouse()
    con.execute(f"attach '{path}' as f")
    con.execute("copy from database memory to f")
    con.close()
    con = connect(str(path))
    before = rows(con, "from metrics.forecast order by value_stream, horizon_days")
    con.close()
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", CRASH, str(path)],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root), "FLOWMETRICS_CRASH_AT": "metrics"},
        timeout=120,
    )
    assert done.returncode == -9, done.stderr[-2000:]  # SIGKILL inside the transaction
    con = connect(str(path))
    assert rows(con, "from metrics.forecast order by value_stream, horizon_days") == before
    assert before[0]["trials"] == 300
    con.close()
