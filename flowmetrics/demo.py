"""`flowmetrics demo`: the whole product on the built-in sandbox, with no credentials.

Starts the simulator in-process, points the environment at it, runs the same Dagster job the
nightly schedule runs (recorded in $DAGSTER_HOME), and prints a one-screen summary plus where the
warehouse, CSVs and report are.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from connectors.jira import JiraSettings
from connectors.servicenow import ServiceNowSettings
from flowmetrics.exits import EXIT_OK
from flowmetrics.runner import run_reported
from models.config import demo_config_path
from pipelines.resources import RunSetup
from sandbox import Sandbox
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

#: docs/contract.md §6 at a glance: flow efficiency net of blocked time, the main block reason, hand-offs.
BLOCKED_SQL = """
with s as (select window_start, as_of from core.build_settings),
w as (
    select f.* from metrics.item_flow f, s
    where f.done_at > s.window_start and f.done_at <= s.as_of
),
eff as (
    select value_stream, sum(process_time_days) as p, sum(blocked_active_days) as ba,
           sum(blocked_time_days) as b, sum(lead_time_days) as l
    from w group by value_stream
    union all
    select 'all', sum(process_time_days), sum(blocked_active_days), sum(blocked_time_days),
           sum(lead_time_days)
    from w
),
top_reason as (
    select value_stream, arg_max(reason, total_blocked_days) as top_block_reason
    from metrics.blocked_work group by value_stream
),
top_loop as (
    select value_stream, arg_max(owner || ' > ' || via_owner || ' > ' || owner, loops) as top_loop
    from metrics.handoff_loops group by value_stream
)
select e.value_stream,
       round(e.p / nullif(e.l, 0), 2) as flow_eff,
       round((e.p - e.ba) / nullif(e.l, 0), 2) as flow_eff_net,
       round(e.b / nullif(e.l, 0), 2) as blocked_share,
       r.top_block_reason,
       round(h.reassignments_per_item, 2) as reassign_per_item,
       round(h.first_owner_resolution_rate, 2) as first_owner,
       t.top_loop
from eff e
left join top_reason r using (value_stream)
left join metrics.handoffs h on h.value_stream = e.value_stream and h.owner is null
left join top_loop t on t.value_stream = e.value_stream
order by e.value_stream = 'all' desc, e.value_stream
"""


def run_demo(*, out: Path, size: int, seed: int) -> int:
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
        setup = RunSetup(
            config_path=str(demo_config_path()),
            warehouse=str(warehouse),
            export_dir=str(exports),
            jira=JiraSettings.from_env(sb.env),
            servicenow=ServiceNowSettings.from_env(sb.env),
        )
        t = time.monotonic()
        run_reported(full=True, source=None, setup=setup)
        timings["sync + build + export"] = time.monotonic() - t
    con = connect(warehouse, read_only=True)
    try:
        frame = con.execute(SUMMARY_SQL).df()
        blocked = con.execute(BLOCKED_SQL).df()
        from reports.report_stability import DEMO_SUMMARY_SQL

        across = con.execute(DEMO_SUMMARY_SQL).df()  # changes, failures, idea to production
    finally:
        con.close()
    print()
    print(frame.to_string(index=False, na_rep="-"))
    print()
    print(
        "blocked work and hand-offs (core.blocked_intervals, core.assignments, "
        "metrics.blocked_work, metrics.handoffs, metrics.handoff_loops):"
    )
    print(blocked.to_string(index=False, na_rep="-"))
    print()
    print(across.to_string(index=False, na_rep="-"))
    print()
    print(f"warehouse : {warehouse}")
    print(f"exports   : {exports}")
    print(f"report    : {exports / 'report.html'}")
    print(f"dagster   : {os.environ.get('DAGSTER_HOME')} (open the UI: see README 'Dagster UI')")
    print("timings   : " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
    return EXIT_OK
