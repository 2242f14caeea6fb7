"""Monte Carlo throughput forecast (docs/contract.md §6 `metrics.forecast`), vectorised with numpy.

Why Python: a trial is a running sum of resampled daily throughput, and "the days until
today's WIP is done" runs for as long as the slowest trial needs; a SQL version would have to
materialise trials x days rows up front. The inputs still come from one packaged SELECT
(`warehouse/sql/metrics/forecast.sql`, one row per value stream: its daily samples, its WIP and
the `forecast` settings), so the table is listed, ordered, described and exported like every
other one, and `warehouse.runner.build_transformed` writes it in one transaction.

Reproducible: each value stream draws from its own generator, seeded with
`(forecast.seed, crc32(value stream name))`, so the same warehouse, config and seed give the
same numbers, and adding a value stream does not change another stream's forecast. One draw
matrix serves every horizon (the horizons are prefixes of the same trials), so the forecast never
says fewer items for a longer horizon.

Percentiles (integers, since items and days are whole):
- `items_pNN`: the largest N such that at least NN % of trials finish >= N items within the
  horizon ("at least N items with NN % confidence"): the trial totals sorted ascending, the
  value at index floor(trials x (100 - NN) / 100).
- `wip_done_days_pNN`: the smallest D such that in at least NN % of trials the running total
  reaches today's WIP by day D: the finishing days sorted ascending, the value at index
  ceil(trials x NN / 100) - 1. WIP 0 is done in 0 days; NULL when history has no throughput,
  or when that trial has not finished within MAX_DAYS (ten years).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

PERCENTS: tuple[int, ...] = (50, 85, 95)

#: A trial still short of the WIP after this many days counts as "not within any horizon".
MAX_DAYS = 3660

#: Cells per draw matrix (trials x days): bounds memory at ~32 MB of int64 per step.
_BUDGET = 4_000_000

#: The table's columns (the contract's, then documented extras), in order, with their DuckDB types.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("value_stream", "varchar"),
    ("horizon_days", "integer"),
    ("items_p50", "bigint"),
    ("items_p85", "bigint"),
    ("items_p95", "bigint"),
    ("wip", "bigint"),
    ("wip_done_days_p50", "bigint"),
    ("wip_done_days_p85", "bigint"),
    ("wip_done_days_p95", "bigint"),
    ("history_days", "integer"),
    ("history_items", "bigint"),
    ("trials", "integer"),
)


@dataclass(frozen=True)
class Simulation:
    """One stream's result: items per horizon, and days until today's WIP is done."""

    items: dict[int, tuple[int, ...]]
    wip_done_days: tuple[int | None, ...]


def generator(seed: int, value_stream: str) -> np.random.Generator:
    """The stream's own generator: same seed and name, same draws, whatever else exists."""
    return np.random.default_rng([int(seed), zlib.crc32(value_stream.encode("utf-8"))])


def at_least(totals: np.ndarray, pct: int) -> int:
    """Largest N with share(totals >= N) >= pct %."""
    ordered = np.sort(totals)
    return int(ordered[(len(ordered) * (100 - pct)) // 100])


def within(days: np.ndarray, pct: int) -> int | None:
    """Smallest D with share(days <= D) >= pct %; None when that trial never finished."""
    ordered = np.sort(days)
    value = ordered[-(-len(ordered) * pct // 100) - 1]
    return None if value < 0 or value > MAX_DAYS else int(value)


def simulate(
    samples: Sequence[int],
    horizons: Sequence[int],
    wip: int,
    trials: int,
    rng: np.random.Generator,
) -> Simulation:
    """Run `trials` random paths of daily throughput drawn with replacement from `samples`.

    The paths are drawn in blocks of days (all trials while a horizon is still ahead, then
    only the trials that have not yet reached `wip`), each block one numpy draw and cumsum.
    """
    pool = np.asarray(samples, dtype=np.int64)
    if pool.size == 0:
        raise ValueError("forecast needs at least one day of throughput history")
    max_h = max(horizons)
    track = wip > 0 and int(pool.sum()) > 0
    mean = float(pool.mean())
    cum = np.zeros(trials, dtype=np.int64)
    # -1: not finished yet. Unfinished trials end as MAX_DAYS + 1 (beyond every answer).
    finished = np.full(trials, 0 if wip <= 0 else -1, dtype=np.int64)
    totals: dict[int, np.ndarray] = {}
    everyone = np.arange(trials)
    day = 0
    while True:
        in_horizons = day < max_h
        pending = np.flatnonzero(finished < 0) if track else everyone[:0]
        if not in_horizons and (pending.size == 0 or day >= MAX_DAYS):
            break
        rows = everyone if in_horizons else pending
        width = max(1, _BUDGET // rows.size)
        if in_horizons:
            width = min(width, max_h - day)
        else:
            # About as many days as the furthest trial still needs at the mean rate (plus a
            # quarter), so a block is not mostly days after every trial has finished.
            short = int(wip - cum[rows].min())
            guess = math.ceil(1.25 * short / mean) + 8
            width = min(width, guess, MAX_DAYS - day)
        draws = pool[rng.integers(0, pool.size, size=(rows.size, width))]
        path = cum[rows, None] + np.cumsum(draws, axis=1)
        for h in horizons:
            if day < h <= day + width:
                totals[h] = path[:, h - day - 1]
        if track:
            open_rows = finished[rows] < 0
            hits = path[open_rows] >= wip
            reached = hits.any(axis=1)
            first = hits.argmax(axis=1)
            finished[rows[open_rows][reached]] = day + first[reached] + 1
        cum[rows] = path[:, -1]
        day += width
    items = {h: tuple(at_least(totals[h], p) for p in PERCENTS) for h in horizons}
    if wip > 0 and not track:
        days: tuple[int | None, ...] = (None,) * len(PERCENTS)
    else:
        finished[finished < 0] = MAX_DAYS + 1
        days = tuple(within(finished, p) for p in PERCENTS)
    return Simulation(items=items, wip_done_days=days)


def rows(inputs: Sequence[dict[str, Any]]) -> list[tuple]:
    """The `metrics.forecast` rows for the SELECT's input rows (one per value stream)."""
    out: list[tuple] = []
    for row in inputs:
        name = str(row["value_stream"])
        samples = [int(v) for v in row["samples"]]
        horizons = [int(h) for h in row["horizons_days"]]
        wip = int(row["wip"] or 0)
        trials = int(row["trials"])
        result = simulate(samples, horizons, wip, trials, generator(int(row["seed"]), name))
        history = (len(samples), sum(samples), trials)
        for h in horizons:
            out.append((name, h, *result.items[h], None, None, None, None, *history))
        out.append((name, None, None, None, None, wip, *result.wip_done_days, *history))
    return out
