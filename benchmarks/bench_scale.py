"""Backfill at scale, per tier: wall time, client CPU, requests, peak RSS, and a resume after
kill -9 at about half of the backfill (rows re-read).

`python benchmarks/bench_scale.py --source jira --sizes 20000 200000 --rework 2.5 --long-issues 3`
`python benchmarks/bench_scale.py --source servicenow --sizes 20000 1250000` (1M incidents)

Per tier: the sandbox (only the source benchmarked unless `--both-sources`, `--size`;
ServiceNow incidents are 80 % of it; the scale knobs `--rework`, `--long-issues`,
`--long-histories` of docs/sandbox.md) runs in a child process; every sync runs in its own
fresh child process (`child` mode below) that reports its wall time, CPU time (user + system,
`resource.getrusage`), VmHWM and the import baseline. Requests are compared with the minimum
any client needs for those volumes (`minimum_requests`), the sandbox's own peak RSS is read
from /proc at the end.
1. an uninterrupted backfill into a fresh warehouse (the reference figures);
2. the same backfill killed with SIGKILL just before chunk `ceil(chunks / 2) + 1` commits
   (`FLOWMETRICS_CRASH_AT=chunk:<n>`: the worst moment -- a whole chunk read and landed, not
   committed); then a resumed run in a fresh child. Rows re-read = rows the resumed run read
   minus the rows the killed run had not committed (records + history rows).
Requests are the sandbox's own counters for each run. Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import ROOT, SandboxProcess, print_machine, vm_hwm_mb, write_json


def child(source: str, env: dict[str, str], now: datetime, db: str, chunk_rows: int) -> dict:
    """One sync in this (fresh) process; prints its figures as one JSON line."""
    from models.config import load_demo_config
    from warehouse.db import bootstrap, connect

    if source == "jira":
        from connectors.jira.settings import JiraSettings as Settings
        from connectors.jira.sync import sync_jira as sync
    else:
        from connectors.servicenow.settings import ServiceNowSettings as Settings
        from connectors.servicenow.sync import sync_servicenow as sync
    cfg = load_demo_config()
    cfg = cfg.model_copy(
        update={"sync": cfg.sync.model_copy(update={"backfill_chunk_rows": chunk_rows})}
    )
    baseline = vm_hwm_mb()
    con = connect(db)
    bootstrap(con)
    cpu0 = _cpu()
    t = time.perf_counter()
    result = sync(con, Settings.from_env(env), cfg, full=False, run_started_at=now)
    seconds = time.perf_counter() - t
    cpu = _cpu() - cpu0
    # the sync's own peak, then the process's after closing the warehouse (DuckDB may
    # checkpoint its write-ahead log at close, under the connection's restored limit)
    sync_peak = vm_hwm_mb()
    con.close()
    return {
        "seconds": seconds,
        "cpu_s": cpu,
        "baseline_mb": baseline,
        "sync_peak_mb": sync_peak,
        "peak_mb": vm_hwm_mb(),
        "records": result.records,
        "histories": sum(s.histories for s in result.streams),
        "requests": result.requests,
    }


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _run_child(
    source: str, sb: SandboxProcess, db: Path, chunk_rows: int, crash: str | None = None
) -> tuple[int, dict | None]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("FLOWMETRICS_CRASH_AT", None)
    if crash:
        env["FLOWMETRICS_CRASH_AT"] = crash
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "child",
            "--source",
            source,
            "--env",
            json.dumps(sb.env),
            "--now",
            sb.now.isoformat(),
            "--db",
            str(db),
            "--chunk-rows",
            str(chunk_rows),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        if not crash:
            raise RuntimeError(proc.stderr[-3000:])
        # the chunk being committed when the kill came: read and landed, then lost
        lost = [
            int(m.group(1)) for m in re.finditer(r"committing chunk \d+ \((\d+) rows", proc.stderr)
        ]
        return proc.returncode, {"lost_chunk_rows": lost[-1] if lost else None}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["chunks_committed"] = len(re.findall(r"committing chunk", proc.stderr))
    return 0, out


def _backfill_state(db: Path, source: str) -> tuple[int, int]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute(
            "select chunks, rows_landed from raw.backfill_state where source = ?", [source]
        ).fetchone()
    finally:
        con.close()
    return (row[0], row[1]) if row else (0, 0)


def minimum_requests(source: str, counts: dict[str, Any], counters: dict[str, int]) -> int:
    """The fewest requests any client needs for these volumes: full pages of the big
    endpoints, plus every other request as made (setup, reference tables: one page each).

    JIRA: search pages of 1000 issues (ids + at most 10 fields) and, per page, bulkfetch calls
    of at most 10,000 histories (only the histories with a synced field id count; computed by
    the sandbox over its `ORDER BY updated, id` pages).
    ServiceNow: record pages and sys_audit pages (state, hold_reason, assignment_group rows) of
    the configured page size."""
    from connectors.servicenow.paging import clamp_page_size
    from models.config import load_demo_config

    def pages(rows: int, size: int) -> int:
        return max(1, -(-rows // size))

    total = counters.get("total", 0)
    if source == "jira":
        search = pages(counts["jira_issues"], 1000)
        bulk = counts["jira_bulkfetch_min"]
        big = ("jira.search_jql", "jira.changelog_bulkfetch")
        return search + bulk + total - sum(counters.get(e, 0) for e in big)
    size = clamp_page_size(load_demo_config().sync.page_size)
    tables = counts["snow_records"]
    data = sum(pages(n, size) for n in tables.values())
    data += pages(counts["sys_audit_rows_read"], size)
    big = [f"snow.table.{t}" for t in (*tables, "sys_audit")]
    return data + total - sum(counters.get(e, 0) for e in big)


def tier(
    source: str,
    size: int,
    seed: int,
    mode: str,
    chunk_rows: int,
    knobs: dict[str, Any],
    kill: bool = True,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "source": source,
        "size": size,
        "mode": mode,
        "chunk_rows": chunk_rows,
        "knobs": knobs,
    }
    tmp_root = os.environ.get("BENCH_TMP")  # a roomy disk for the warehouses (docs/benchmarks)
    with (
        SandboxProcess(size=size, seed=seed, mode=mode, knobs=knobs) as sb,
        tempfile.TemporaryDirectory(prefix="bench-scale-", dir=tmp_root) as tmp,
    ):
        out["sandbox_start_s"] = round(sb.start_seconds, 1)
        out["sandbox_generate_s"] = round(sb.info.get("generate_s", 0.0), 1)
        out["counts"] = sb.counts
        print(f"[{source} {size}] sandbox up in {sb.start_seconds:.0f}s: {sb.counts}", flush=True)
        sb.reset_counters()
        _, clean = _run_child(source, sb, Path(tmp) / "clean.duckdb", chunk_rows)
        assert clean is not None
        counters = sb.counters()
        clean["sandbox_requests"] = counters.get("total")
        clean["requests_by_endpoint"] = counters
        clean["minimum_requests"] = minimum_requests(source, sb.counts, counters)
        out["uninterrupted"] = clean
        total_rows = clean["records"] + clean["histories"]
        chunks = clean["chunks_committed"]  # the last chunk commits with the cursor, unlogged
        print(f"[{source} {size}] backfill: {clean}", flush=True)
        if chunks == 0 or not kill:
            if kill:
                print(f"[{source} {size}] one chunk only: no resume to measure", flush=True)
            out["resume"] = None
            out["sandbox_peak_mb"] = sb.peak_mb()
            return out
        # kill -9 at about half, then resume
        crash_at = (chunks + 1) // 2 + 1 if chunks > 1 else 1
        db = Path(tmp) / "killed.duckdb"
        sb.reset_counters()
        rc, killed = _run_child(source, sb, db, chunk_rows, crash=f"chunk:{crash_at}")
        killed_requests = sb.counters().get("total")
        committed_chunks, committed_rows = _backfill_state(db, source)
        sb.reset_counters()
        _, resumed = _run_child(source, sb, db, chunk_rows)
        assert resumed is not None
        resumed["sandbox_requests"] = sb.counters().get("total")
        left = total_rows - committed_rows
        read = resumed["records"] + resumed["histories"]
        out["resume"] = {
            "killed_returncode": rc,
            "crash_point": f"chunk:{crash_at}",
            "committed_chunks": committed_chunks,
            "committed_rows": committed_rows,
            "killed_requests": killed_requests,
            "resumed": resumed,
            "rows_left": left,
            "rows_read_by_resume": read,
            # re-read = the killed chunk (read and landed, never committed) + what the resume
            # point makes the next run read twice (JIRA: issues at the resume millisecond)
            "lost_chunk_rows": (killed or {}).get("lost_chunk_rows"),
            "overlap_rows": read - left,
            "rows_reread": ((killed or {}).get("lost_chunk_rows") or 0) + read - left,
            "requests_killed_plus_resumed": (killed_requests or 0) + resumed["sandbox_requests"],
        }
        print(f"[{source} {size}] resume: {out['resume']}", flush=True)
        out["sandbox_peak_mb"] = sb.peak_mb()
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "child":
        p = argparse.ArgumentParser()
        p.add_argument("child")
        p.add_argument("--source")
        p.add_argument("--env")
        p.add_argument("--now")
        p.add_argument("--db")
        p.add_argument("--chunk-rows", type=int)
        a = p.parse_args(argv)
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        logging.getLogger("connectors.backfill").setLevel(logging.INFO)
        # the kill at chunk n goes through the crash seam, whose test-side hook must be
        # installed in the process it kills (models/crashpoints.py); without it the "killed"
        # run finished and the resume figures measured nothing
        from tests.reliability.crashhook import install_from_env

        install_from_env()
        print(
            json.dumps(
                child(
                    a.source, json.loads(a.env), datetime.fromisoformat(a.now), a.db, a.chunk_rows
                )
            )
        )
        return 0
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--source", choices=["jira", "servicenow"], required=True)
    p.add_argument("--sizes", type=int, nargs="+", default=[20000])
    p.add_argument("--mode", default="cloud")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--chunk-rows", type=int, default=50_000)
    p.add_argument("--rework", type=float, default=0.0, help="JIRA review round trips / issue")
    p.add_argument("--long-issues", type=int, default=0, help="JIRA issues with long histories")
    p.add_argument("--long-histories", type=int, default=10_000, help="histories of each")
    p.add_argument("--both-sources", action="store_true", help="generate both organisations")
    p.add_argument(
        "--no-kill", action="store_true", help="the uninterrupted backfill only (no kill/resume)"
    )
    p.add_argument("--json")
    a = p.parse_args(argv)
    knobs: dict[str, Any] = {}
    if not a.both_sources:
        knobs["sources"] = [a.source]
    if a.source == "jira":
        knobs |= {
            "jira_rework": a.rework,
            "long_issues": a.long_issues,
            "long_issue_histories": a.long_histories,
        }
    machine = print_machine()
    tiers = []
    for size in a.sizes:
        load = os.getloadavg()
        tiers.append(tier(a.source, size, a.seed, a.mode, a.chunk_rows, knobs, kill=not a.no_kill))
        tiers[-1]["load_before"], tiers[-1]["load_after"] = load, os.getloadavg()
    print()
    print(
        "| tier | records | history rows (sandbox: histories / sys_audit rows) | wall s | "
        "client CPU s | requests (minimum) | peak RSS MiB (sync's share) | sandbox RSS MiB | "
        "resume: committed rows / re-read rows | requests killed + resumed | load 1-min |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for t in tiers:
        u, r = (
            t["uninterrupted"],
            t["resume"]
            or {"committed_rows": 0, "rows_reread": 0, "requests_killed_plus_resumed": 0},
        )
        c = t["counts"]
        made = (
            f"{c['jira_histories']:,}, {c['jira_issues_10k']} issues >= 10k"
            if t["source"] == "jira"
            else f"{c['sys_audit_rows']:,}"
        )
        print(
            f"| {t['source']} {t['size']:,} | {u['records']:,} | {u['histories']:,} ({made}) | "
            f"{u['seconds']:.1f} | {u['cpu_s']:.1f} | "
            f"{u['sandbox_requests']:,} ({u['minimum_requests']:,}) | "
            f"{u['peak_mb']:.0f} ({u['peak_mb'] - u['baseline_mb']:.0f}) | "
            f"{t['sandbox_peak_mb'] or 0:.0f} | "
            f"{r['committed_rows']:,} / {r['rows_reread']:,} | "
            f"{r['requests_killed_plus_resumed']:,} | "
            f"{t['load_before'][0]:.1f} -> {t['load_after'][0]:.1f} |"
        )
    write_json(
        a.json,
        {
            "benchmark": "scale",
            "machine": machine,
            "tiers": tiers,
            "at": datetime.now(UTC).isoformat(),
            "rows_per_chunk": a.chunk_rows,
            "chunks_note": "kill at chunk ceil(n/2)+1",
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
