"""The shared harness of bench_jira_sync.py and bench_servicenow_sync.py.

1. Start the sandbox in a child process (see _common.SandboxProcess).
2. Recording pass (also the warm-up): one full connector sync with every request that reaches
   the wire recorded (method, URL, headers, body).
3. Timed rounds, alternating order: the floor (a bare `requests.Session` + `json.loads` loop
   replaying exactly the recorded requests: same pages, same params, same bulk calls) and the
   connector (a full sync into a fresh DuckDB file). Median of each, and the ratio of medians.
4. Peak RSS: one more connector sync in a fresh child process that reports its VmHWM.
5. Requests: the sandbox's own counters for one connector run, against the minimum.

Run as a script (`python benchmarks/_syncbench.py rss ...`) it is the RSS child.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Figure,
    Recorded,
    RequestRecorder,
    SandboxProcess,
    figures_json,
    floor_replay,
    print_figures,
    print_machine,
    vm_hwm_mb,
    write_json,
)


def _sync_fn(source: str) -> tuple[Callable[..., Any], Callable[[dict[str, str]], Any]]:
    if source == "jira":
        from connectors.jira.settings import JiraSettings
        from connectors.jira.sync import sync_jira

        return sync_jira, JiraSettings.from_env
    from connectors.servicenow.settings import ServiceNowSettings
    from connectors.servicenow.sync import sync_servicenow

    return sync_servicenow, ServiceNowSettings.from_env


def connector_run(
    source: str, env: dict[str, str], now: datetime, *, full: bool = True, db_dir: str | None = None
) -> tuple[float, Any]:
    """One sync into `db_dir`/w.duckdb (a fresh temp dir when None); returns (seconds, result).

    Only the sync call is timed (not opening/bootstrapping the warehouse).
    """
    from models.config import load_demo_config
    from warehouse.db import bootstrap, connect

    sync, settings_from_env = _sync_fn(source)
    cfg = load_demo_config()
    settings = settings_from_env(env)
    own = db_dir is None
    folder = db_dir or tempfile.mkdtemp(prefix=f"bench-{source}-")
    con = connect(str(Path(folder) / "w.duckdb"))
    try:
        bootstrap(con)
        t = time.perf_counter()
        result = sync(con, settings, cfg, full=full, run_started_at=now)
        seconds = time.perf_counter() - t
    finally:
        con.close()
        if own:
            shutil.rmtree(folder, ignore_errors=True)
    return seconds, result


def rss_child(source: str, env: dict[str, str], now: datetime) -> dict[str, Any]:
    """Peak RSS of one full sync in a fresh process (after imports + a warm-up of nothing)."""
    import connectors.jira.sync
    import connectors.servicenow.sync  # noqa: F401
    import warehouse.db  # noqa: F401

    baseline = vm_hwm_mb()
    seconds, result = connector_run(source, env, now)
    return {
        "baseline_mb": baseline,
        "peak_mb": vm_hwm_mb(),
        "seconds": seconds,
        "records": sum(s.records for s in result.streams),
    }


def floor_rss_child(log_path: str) -> dict[str, Any]:
    import requests  # noqa: F401

    raw = json.loads(Path(log_path).read_text())
    recorded = [
        Recorded(
            r["method"],
            r["url"],
            r["headers"],
            r["body"].encode("latin-1") if r["body"] is not None else None,
            r["status"],
            r["response_bytes"],
            r["items"],
        )
        for r in raw
    ]
    baseline = vm_hwm_mb()
    floor_replay(recorded)
    return {"baseline_mb": baseline, "peak_mb": vm_hwm_mb()}


def dump_log(recorded: Sequence[Recorded], path: Path) -> None:
    path.write_text(
        json.dumps(
            [
                {
                    "method": r.method,
                    "url": r.url,
                    "headers": r.headers,
                    "body": r.body.decode("latin-1") if r.body is not None else None,
                    "status": r.status,
                    "response_bytes": r.response_bytes,
                    "items": r.items,
                }
                for r in recorded
            ]
        )
    )


# -- minimum request counts -----------------------------------------------------------------
def jira_minimum(recorded: Sequence[Recorded], records: int) -> tuple[int, dict[str, Any]]:
    """Search pages at the page size the server granted for the fields asked, plus, on Cloud,
    one bulkfetch per 1000 issues; on Data Center (changelogs embedded in the search, cut at
    the newest 40) one full-history request per issue whose embedded changelog was cut."""
    search = [
        r for r in recorded if "/search/jql" in r.url or r.url.split("?")[0].endswith("/search")
    ]
    granted = max((r.items or 0) for r in search) if search else 1
    pages = math.ceil(records / granted) if records else 1
    if any("/search/jql" in r.url for r in search):
        bulk = math.ceil(records / 1000)
        return pages + bulk, {
            "issues": records,
            "granted_page": granted,
            "search_pages_min": pages,
            "bulkfetch_min": bulk,
        }
    cut = sum(r.cut_changelogs for r in search)
    return pages + cut, {
        "issues": records,
        "granted_page": granted,
        "search_pages_min": pages,
        "cut_changelogs": cut,
    }


def _scan_of(r: Recorded) -> str:
    parts = urlsplit(r.url)
    table = parts.path.rsplit("/", 1)[-1]
    query = parse_qs(parts.query).get("sysparm_query", [""])[0]
    for clause in query.split("^"):
        if clause.startswith("tablename="):
            return f"{table}[{clause.split('=', 1)[1]}]"
        if clause.startswith("name=") and table == "sys_choice":
            return f"{table}[{clause.split('=', 1)[1]}]"
    return table


def snow_minimum(recorded: Sequence[Recorded]) -> tuple[int, dict[str, Any]]:
    """Per scan (a table's records, its sys_audit state rows read as ONE window scan, its
    tombstones, its choices, the groups): rows // limit + 1 pages; the +1 is the empty page
    that proves the end (a short page is not the end: the ACL trap, docs/api-facts.md §2.2)."""
    rows: Counter[str] = Counter()
    limits: dict[str, int] = {}
    for r in recorded:
        scan = _scan_of(r)
        rows[scan] += r.items or 0
        limit = parse_qs(urlsplit(r.url).query).get("sysparm_limit", ["1000"])[0]
        limits[scan] = int(limit)
    per_scan = {s: rows[s] // limits[s] + 1 for s in rows}
    return sum(per_scan.values()), {"rows": dict(rows), "min_pages": per_scan}


# -- the benchmark ----------------------------------------------------------------------------
def bench_sync(
    source: str,
    size: int,
    runs: int,
    seed: int,
    json_path: str | None,
    title: str,
    mode: str = "cloud",
) -> dict[str, Any]:
    machine = print_machine()
    figures: list[Figure] = []
    notes: list[str] = []
    with SandboxProcess(size=size, seed=seed, mode=mode) as sb:
        env, now = sb.env, sb.now
        print(f"sandbox: size {size}, started in {sb.start_seconds:.1f}s (child process)")
        # recording pass (warm-up)
        sb.reset_counters()
        with RequestRecorder() as rec:
            rec_s, result = connector_run(source, env, now)
        counters = sb.counters()
        recorded = list(rec.log)
        records = sum(s.records for s in result.streams)
        histories = sum(s.histories for s in result.streams)
        print(
            f"recording pass: {records} records, {histories} histories, "
            f"{len(recorded)} requests, {sum(r.response_bytes for r in recorded) / 1e6:.1f} MB "
            f"in {rec_s:.1f}s"
        )
        floor_s: list[float] = []
        conn_s: list[float] = []
        for i in range(runs):
            order = ("floor", "connector") if i % 2 == 0 else ("connector", "floor")
            for what in order:
                if what == "floor":
                    t = time.perf_counter()
                    sent, _ = floor_replay(recorded)
                    floor_s.append(time.perf_counter() - t)
                else:
                    sb.reset_counters()
                    s, _ = connector_run(source, env, now)
                    conn_s.append(s)
                    if sb.counters().get("total") != counters.get("total"):
                        notes.append(
                            f"round {i}: connector sent {sb.counters().get('total')} "
                            f"requests, recording pass {counters.get('total')}"
                        )
            print(
                f"round {i + 1}/{runs}: floor {floor_s[-1]:.2f}s, connector {conn_s[-1]:.2f}s",
                flush=True,
            )
        ratios = [c / f for c, f in zip(conn_s, floor_s, strict=True)]
        med_ratio = sorted(ratios)[len(ratios) // 2] if len(ratios) % 2 else None
        ratio = sorted(conn_s)[len(conn_s) // 2] / sorted(floor_s)[len(floor_s) // 2]
        figures.append(Figure("floor wall time (bare requests+json)", floor_s, "s"))
        figures.append(
            Figure(
                "connector full sync wall time",
                conn_s,
                "s",
                ratio=ratio,
                target="<= 1.3 x floor",
                met=ratio <= 1.3,
                note=f"ratio of medians {ratio:.3f}; per-round ratios "
                + ", ".join(f"{x:.2f}" for x in ratios)
                + ("" if med_ratio is None else f" (median per-round {med_ratio:.3f})"),
            )
        )
        # requests
        if source == "jira":
            minimum, detail = jira_minimum(recorded, records)
            data = (
                counters.get("jira.search_jql", 0)
                + counters.get("jira.search_dc", 0)
                + counters.get("jira.changelog_bulkfetch", 0)
                + counters.get("jira.issue_changelog", 0)
                + counters.get("jira.issue", 0)
            )
            setup = counters.get("total", 0) - data
            figures.append(
                Figure(
                    "requests (search + changelog)",
                    [float(data)],
                    "",
                    ratio=data / minimum,
                    target=f"= minimum {minimum}",
                    met=data == minimum,
                    note=f"{detail}; plus {setup} setup requests "
                    f"(serverInfo, status catalogue); counters {counters}",
                )
            )
        else:
            minimum, detail = snow_minimum(recorded)
            total = counters.get("total", 0)
            by_scan = Counter(_scan_of(r) for r in recorded)
            figures.append(
                Figure(
                    "requests (all)",
                    [float(total)],
                    "",
                    ratio=total / minimum,
                    target=f"= minimum {minimum}",
                    met=total == minimum,
                    note=f"connector per scan {dict(by_scan)}; minimum per scan "
                    f"{detail['min_pages']}; rows {detail['rows']}",
                )
            )
        with tempfile.TemporaryDirectory() as tmp:
            log_path = Path(tmp) / "log.json"
            dump_log(recorded, log_path)
            from _common import run_child_json

            child = run_child_json(
                [
                    __file__,
                    "rss",
                    "--source",
                    source,
                    "--env",
                    json.dumps(env),
                    "--now",
                    now.isoformat(),
                ]
            )
            floor_child = run_child_json([__file__, "floor-rss", "--log", str(log_path)])
        figures.append(
            Figure(
                "connector peak RSS (VmHWM, child)",
                [child["peak_mb"]],
                "MiB",
                note=f"{child['baseline_mb']:.0f} MiB after imports, so "
                f"{child['peak_mb'] - child['baseline_mb']:.0f} MiB for "
                f"the sync of {child['records']} records",
            )
        )
        figures.append(Figure("floor peak RSS (VmHWM, child)", [floor_child["peak_mb"]], "MiB"))
    notes.append(
        "floor = the recorded requests replayed by a bare requests.Session + json.loads"
        " (same URLs, params, bodies, in order; responses parsed and dropped); both "
        "against the sandbox in a child process, so server time is in both"
    )
    print_figures(title, figures, notes)
    payload = {
        "benchmark": title,
        "source": source,
        "mode": mode,
        "size": size,
        "runs": runs,
        "records": records,
        "histories": histories,
        "machine": machine,
        "counters": counters,
        "figures": figures_json(figures),
        "notes": notes,
    }
    write_json(json_path, payload)
    return payload


def parser(description: str, default_size: int) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--size",
        type=int,
        default=default_size,
        help=f"sandbox size (default {default_size}; 2000 for a quick check)",
    )
    p.add_argument("--runs", type=int, default=3, help="timed rounds (floor + connector each)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--json", help="also write the figures as JSON to this path")
    return p


def _child_main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["rss", "floor-rss"])
    p.add_argument("--source")
    p.add_argument("--env")
    p.add_argument("--now")
    p.add_argument("--log")
    a = p.parse_args(argv)
    if a.mode == "rss":
        out = rss_child(a.source, json.loads(a.env), datetime.fromisoformat(a.now))
    else:
        out = floor_rss_child(a.log)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(_child_main(sys.argv[1:]))
