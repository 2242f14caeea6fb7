"""`flowmetrics demo`: the whole product on the built-in sandbox, with no credentials.

Starts the simulator in-process, points the environment at it, runs the same Dagster job the
nightly schedule runs (recorded in $DAGSTER_HOME), and prints a one-screen summary plus where the
warehouse, CSVs and report are.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from flowmetrics.cli import EXIT_OK
from warehouse.db import connect

SUMMARY_SQL = """
with top_wait as (
    select value_stream, arg_min(stage || ' / ' || status, rank) as top_wait_state
    from metrics.wait_states group by value_stream
)
select s.value_stream,
       s.items_done,
       round(s.lead_time_p50_days, 1) as lead_p50_d,
       round(s.lead_time_p95_days, 1) as lead_p95_d,
       round(s.activity_ratio, 2) as flow_eff,
       round(s.rolled_pct_complete_accurate, 2) as rolled_pca,
       round(s.tech_debt_ratio, 2) as debt_ratio,
       w.top_wait_state
from metrics.value_stream_summary s
left join top_wait w using (value_stream)
order by s.value_stream = 'all' desc, s.value_stream
"""


def run_demo(*, out: Path, size: int, seed: int) -> int:
    from flowmetrics.commands import _run, demo_config_path
    from sandbox import Sandbox

    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    warehouse = out / "flow.duckdb"
    exports = out / "exports"
    for stale in (warehouse, Path(f"{warehouse}.wal")):
        stale.unlink(missing_ok=True)  # a demo always starts from an empty warehouse
    timings: dict[str, float] = {}
    started = time.monotonic()
    with Sandbox(seed=seed, size=size, mode="cloud") as sb:
        timings["sandbox start"] = time.monotonic() - started
        print(f"sandbox: JIRA at {sb.jira_url}, ServiceNow at {sb.servicenow_url}")
        os.environ.update(sb.env)
        os.environ["FLOW_CONFIG"] = str(demo_config_path())
        os.environ["FLOW_WAREHOUSE"] = str(warehouse)
        os.environ["FLOW_EXPORT_DIR"] = str(exports)
        t = time.monotonic()
        _run(full=True, source=None)
        timings["sync + build + export"] = time.monotonic() - t
    con = connect(warehouse, read_only=True)
    try:
        frame = con.execute(SUMMARY_SQL).df()
        from flowmetrics.report_stability import DEMO_SUMMARY_SQL

        across = con.execute(DEMO_SUMMARY_SQL).df()  # changes, failures, idea to production
    finally:
        con.close()
    print()
    print(frame.to_string(index=False))
    print()
    print(across.to_string(index=False))
    print()
    print(f"warehouse : {warehouse}")
    print(f"exports   : {exports}")
    print(f"report    : {exports / 'report.html'}")
    print(f"dagster   : {os.environ.get('DAGSTER_HOME')} (open the UI: see README 'Dagster UI')")
    print("timings   : " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
    return EXIT_OK
