"""`flowmetrics demo` end to end at its default size, broken down by phase.

    python benchmarks/bench_demo.py [--runs 3] [--size N]

Each run is a subprocess (`python -m flowmetrics demo --out <tmp>`) with a fresh
`DAGSTER_HOME`, so the figures include interpreter start and imports, as a user sees them.
Phases come from two places: the demo's own `timings :` line (sandbox start) and the Dagster
run's step stats in that DAGSTER_HOME's event log (start/end per step), grouped into extraction
per source, core, metrics, exports and checks. "orchestration + other" is what the job's wall
time holds beyond its steps; "process start + imports + summary" is the rest of the total.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    ROOT,
    Figure,
    figures_json,
    print_figures,
    print_machine,
    write_json,
)

PHASES = (
    "process start + imports + summary",
    "sandbox start",
    "extract jira",
    "extract servicenow",
    "core",
    "metrics",
    "exports",
    "checks",
    "orchestration + other",
    "total",
)


def phase_of(step_key: str) -> str:
    key = step_key.lower()
    if "jira" in key and ("raw" in key or "sync" in key):
        return "extract jira"
    if "servicenow" in key and ("raw" in key or "record" in key or "sync" in key):
        return "extract servicenow"
    if "check" in key:
        return "checks"
    if key.startswith("core") or "__core__" in key or key.startswith("build_core"):
        return "core"
    if key.startswith("metrics") or "__metrics__" in key:
        return "metrics"
    if "export" in key or "report" in key or "csv" in key:
        return "exports"
    return "orchestration + other"


def step_stats(home: Path) -> tuple[dict[str, float], float, list[tuple[str, float]]]:
    """(seconds per phase from step stats, run wall time, raw (step, seconds) list)."""
    os.environ["DAGSTER_HOME"] = str(home)
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(limit=1)
        if not runs:
            return {}, 0.0, []
        run = runs[0]
        stats = instance.get_run_step_stats(run.run_id)
        record = instance.get_run_record_by_id(run.run_id)
    per: dict[str, float] = {}
    raw: list[tuple[str, float]] = []
    for s in stats:
        if s.start_time is None or s.end_time is None:
            continue
        d = s.end_time - s.start_time
        raw.append((s.step_key, d))
        per[phase_of(s.step_key)] = per.get(phase_of(s.step_key), 0.0) + d
    wall = 0.0
    if record is not None and record.start_time and record.end_time:
        wall = record.end_time - record.start_time
    return per, wall, raw


def one_run(size: int | None) -> tuple[dict[str, float], list[tuple[str, float]]]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-demo-"))
    try:
        env = {**os.environ, "DAGSTER_HOME": str(tmp / "dagster_home")}
        argv = [sys.executable, "-m", "flowmetrics", "demo", "--out", str(tmp / "out")]
        if size:
            argv += ["--size", str(size)]
        t = time.perf_counter()
        proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
        total = time.perf_counter() - t
        if proc.returncode != 0:
            raise RuntimeError(
                f"demo failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
            )
        phases: dict[str, float] = {"total": total}
        m = re.search(r"sandbox start ([0-9.]+)s", proc.stdout)
        phases["sandbox start"] = float(m.group(1)) if m else 0.0
        m = re.search(r"sync \+ build \+ export ([0-9.]+)s", proc.stdout)
        job = float(m.group(1)) if m else 0.0
        per, wall, raw = step_stats(tmp / "dagster_home")
        phases.update(per)
        steps_sum = sum(per.values())
        phases["orchestration + other"] = phases.get("orchestration + other", 0.0) + max(
            0.0, job - steps_sum
        )
        phases["process start + imports + summary"] = max(
            0.0, total - job - phases["sandbox start"]
        )
        phases["_run wall (dagster record)"] = wall
        return phases, raw
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--size", type=int, default=None, help="default: the demo's own default")
    p.add_argument("--json")
    args = p.parse_args(argv)
    machine = print_machine()
    runs: list[dict[str, float]] = []
    raw_steps: list[tuple[str, float]] = []
    for i in range(args.runs):
        phases, raw = one_run(args.size)
        runs.append(phases)
        raw_steps = raw
        print(f"run {i + 1}/{args.runs}: total {phases['total']:.1f}s", flush=True)
    figures = []
    for ph in PHASES:
        vals = [r.get(ph, 0.0) for r in runs]
        share = statistics.median(vals) / statistics.median([r["total"] for r in runs])
        figures.append(Figure(ph, vals, "s", ratio=share))
    slow = sorted(raw_steps, key=lambda x: -x[1])[:8]
    notes = [
        "ratio = share of the median total",
        "slowest steps (last run): " + ", ".join(f"{k} {v:.2f}s" for k, v in slow),
    ]
    print_figures(f"flowmetrics demo end to end (size {args.size or 'default'})", figures, notes)
    write_json(
        args.json,
        {
            "benchmark": "demo",
            "machine": machine,
            "runs": runs,
            "steps_last_run": raw_steps,
            "figures": figures_json(figures),
            "notes": notes,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
