"""Run every benchmark at modest sizes and print one summary table (`make bench`).

    python benchmarks/run_all.py [--full] [--only jira,servicenow,incremental,metrics,demo]

Modest sizes (a few minutes in all on 2 cores): sync 2000, incremental 2000, metrics 100k
items, demo at its default size. `--full` uses the sizes of docs/benchmarks.md (20k syncs, 1M
items; about half an hour). Each benchmark runs as its own subprocess (its own peak RSS).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, print_machine, render_table

HERE = Path(__file__).resolve().parent

MODEST = {
    "jira": ["bench_jira_sync.py", "--size", "2000", "--runs", "3"],
    "servicenow": ["bench_servicenow_sync.py", "--size", "2000", "--runs", "3"],
    "incremental": ["bench_incremental.py", "--size", "2000", "--runs", "3"],
    "metrics": ["bench_metrics.py", "--items", "100000", "--runs", "3"],
    "demo": ["bench_demo.py", "--runs", "1"],
}
FULL = {
    "jira": ["bench_jira_sync.py", "--size", "20000", "--runs", "3"],
    "servicenow": ["bench_servicenow_sync.py", "--size", "20000", "--runs", "3"],
    "incremental": ["bench_incremental.py", "--size", "20000", "--runs", "3"],
    "metrics": ["bench_metrics.py", "--items", "1000000", "--runs", "3"],
    "demo": ["bench_demo.py", "--runs", "3"],
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--full", action="store_true")
    p.add_argument("--only", default="")
    args = p.parse_args(argv)
    plan = FULL if args.full else MODEST
    only = [x.strip() for x in args.only.split(",") if x.strip()] or list(plan)
    print_machine()
    rows: list[list[str]] = []
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in only:
            out = Path(tmp) / f"{name}.json"
            cmd = [sys.executable, str(HERE / plan[name][0]), *plan[name][1:], "--json", str(out)]
            print(f"\n### {name}: {' '.join(plan[name])}", flush=True)
            proc = subprocess.run(cmd, cwd=ROOT)
            if proc.returncode != 0 or not out.exists():
                failed.append(name)
                rows.append([name, "FAILED", "", "", "", "", ""])
                continue
            data = json.loads(out.read_text())
            for f in data["figures"]:
                med = f["median"]
                rows.append(
                    [
                        name,
                        f["name"],
                        "-" if med is None else f"{med:.4g} {f['unit']}",
                        str(f["n"]),
                        "-" if f["ratio"] is None else f"{f['ratio']:.3g}",
                        f["target"] or "-",
                        {None: "-", True: "yes", False: "NO"}[f["met"]],
                    ]
                )
    print("\n== Summary")
    print(render_table(rows, ["bench", "figure", "median", "n", "ratio", "target", "met?"]))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
