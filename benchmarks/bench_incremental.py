"""Nightly incremental sync after ~1% of items changed, as a share of a full sync.

    python benchmarks/bench_incremental.py [--size 20000] [--runs 3] [--sources jira,servicenow]

Per source: one full sync into a persistent warehouse (the "last night" state). Then per round:
`advance(days=1, change_fraction=0.01)` on the sandbox, the incremental sync into that
warehouse, and a full sync of the same (advanced) sandbox into a scratch warehouse, so both
sides of the share are measured in the same round against the same data. Requests come from
the sandbox's own counters. The JIRA id census (weekly, `sync.census_days`) is not due on
these nights; its cost is reported separately when --census is given.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    ByteCounter,
    Figure,
    SandboxProcess,
    figures_json,
    print_figures,
    print_machine,
    write_json,
)
from _syncbench import connector_run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--size", type=int, default=20000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--change-fraction", type=float, default=0.01)
    p.add_argument("--sources", default="jira,servicenow")
    p.add_argument("--json")
    args = p.parse_args(argv)
    machine = print_machine()
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    figures: list[Figure] = []
    notes: list[str] = []
    detail: dict[str, list[dict]] = {s: [] for s in sources}
    tmp = Path(tempfile.mkdtemp(prefix="bench-incr-"))
    try:
        with SandboxProcess(size=args.size, seed=args.seed) as sb:
            dbs = {s: tmp / s for s in sources}
            for s in sources:
                dbs[s].mkdir()
                connector_run(s, sb.env, sb.now, full=True, db_dir=str(dbs[s]))
            for i in range(args.runs):
                adv = sb.advance(days=1, change_fraction=args.change_fraction)
                for s in sources:
                    sb.reset_counters()
                    with ByteCounter() as inc_bytes:
                        inc_s, inc = connector_run(
                            s, sb.env, sb.now, full=False, db_dir=str(dbs[s])
                        )
                    inc_req = sb.counters().get("total", 0)
                    sb.reset_counters()
                    with ByteCounter() as full_bytes:
                        full_s, full = connector_run(s, sb.env, sb.now, full=True)
                    full_req = sb.counters().get("total", 0)
                    row = {
                        "incr_s": inc_s,
                        "full_s": full_s,
                        "incr_req": inc_req,
                        "full_req": full_req,
                        "incr_bytes": inc_bytes.bytes,
                        "full_bytes": full_bytes.bytes,
                        "incr_records": sum(x.records for x in inc.streams),
                        "full_records": sum(x.records for x in full.streams),
                        "changed": adv["counts"],
                    }
                    detail[s].append(row)
                    print(
                        f"night {i + 1}/{args.runs} {s}: incremental {inc_req} requests "
                        f"{inc_s:.2f}s ({row['incr_records']} records) | full {full_req} "
                        f"requests {full_s:.2f}s ({row['full_records']} records)",
                        flush=True,
                    )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for s in sources:
        rows = detail[s]
        req_share = [r["incr_req"] / r["full_req"] for r in rows]
        time_share = [r["incr_s"] / r["full_s"] for r in rows]
        med = sorted(req_share)[len(req_share) // 2]
        figures.append(
            Figure(
                f"{s}: incremental requests / full",
                [x * 100 for x in req_share],
                "%",
                ratio=med,
                target="<= 2%",
                met=med <= 0.02,
                note="requests incremental/full per night: "
                + ", ".join(f"{r['incr_req']}/{r['full_req']}" for r in rows),
            )
        )
        byte_share = [r["incr_bytes"] / r["full_bytes"] for r in rows]
        figures.append(
            Figure(
                f"{s}: incremental bytes read / full",
                [x * 100 for x in byte_share],
                "%",
                ratio=sorted(byte_share)[len(byte_share) // 2],
                note="MB incremental/full: "
                + ", ".join(
                    f"{r['incr_bytes'] / 1e6:.2f}/{r['full_bytes'] / 1e6:.1f}" for r in rows
                ),
            )
        )
        figures.append(
            Figure(
                f"{s}: incremental wall time / full",
                [x * 100 for x in time_share],
                "%",
                ratio=sorted(time_share)[len(time_share) // 2],
                note="seconds incremental/full: "
                + ", ".join(f"{r['incr_s']:.2f}/{r['full_s']:.2f}" for r in rows)
                + "; records re-read: "
                + ", ".join(str(r["incr_records"]) for r in rows),
            )
        )
    notes.append(f"change per night: {detail[sources[0]][0]['changed'] if sources else ''}")
    print_figures(
        f"Incremental nightly sync, size {args.size}, {args.change_fraction:.0%} changed per night",
        figures,
        notes,
    )
    write_json(
        args.json,
        {
            "benchmark": "incremental",
            "size": args.size,
            "machine": machine,
            "detail": detail,
            "figures": figures_json(figures),
            "notes": notes,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
