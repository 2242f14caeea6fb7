"""Section 6 tables on real ServiceNow history against the plain-Python reference.

Loads the UCI "Incident management process enriched event log" (a real, anonymised ServiceNow
incident log: one row per update, ordered by sys_mod_count; see /work/shared/data/README.md)
into an in-memory warehouse's raw tables the way our connector lands sys_audit: every change of
`incident_state` becomes a state change and every change of `assignment_group` an audit row
(the first update's values are insert rows, checkpoint 0). Then it builds core and metrics at
two as_of instants and prints, per section 6 table, how many rows and cells agree with
tests/conformance/reference_section6.py. Nothing is copied into the repository; the data path
is an argument (default: /work/shared/data/servicenow/incident_event_log.csv.gz).

    PYTHONPATH=$PWD python benchmarks/conformance_real_data.py [path]

The log has no hold_reason (its pre-Helsinki "Awaiting ..." states are wait states, not state 3)
and no JIRA side, so `blocked_intervals`/`blocked_work` are empty here: the sandbox and the
fuzz test (tests/conformance) cover them.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from models.config import parse_config  # noqa: E402
from tests.conformance.reference_section6 import Reference, agreement  # noqa: E402
from warehouse.build import build_core, build_metrics  # noqa: E402
from warehouse.db import bootstrap  # noqa: E402

DEFAULT = Path("/work/shared/data/servicenow/incident_event_log.csv.gz")
AS_OFS = [datetime(2016, 5, 16, 13, 30, tzinfo=UTC), datetime(2016, 9, 1, 0, 0, tzinfo=UTC)]
STATES = [
    "New",
    "Active",
    "Awaiting User Info",
    "Awaiting Vendor",
    "Awaiting Problem",
    "Awaiting Evidence",
    "Resolved",
    "Closed",
    "-100",
]

CONFIG = {
    "window_days": 90,
    "period": "week",
    "stages": ["Triage", "Restore", "Done"],
    "statuses": {
        "servicenow": {
            "incident": {
                "New": {"stage": "Triage", "kind": "wait"},
                "Active": {"stage": "Restore", "kind": "active"},
                "Awaiting User Info": {"stage": "Restore", "kind": "wait"},
                "Awaiting Vendor": {"stage": "Restore", "kind": "wait"},
                "Awaiting Problem": {"stage": "Restore", "kind": "wait"},
                "Awaiting Evidence": {"stage": "Restore", "kind": "wait"},
                "-100": {"stage": "Restore", "kind": "wait"},
                "Resolved": {"stage": "Done", "kind": "done"},
                "Closed": {"stage": "Done", "kind": "done"},
            }
        }
    },
    "value_streams": [
        {"name": "Service", "servicenow": {"assignment_groups": ["Group 70"]}},
        {"name": "Ops", "servicenow": {"assignment_groups": ["Group 20", "Group 25"]}},
    ],
    "forecast": {"history_days": 56, "horizons_days": [14, 28], "trials": 2000, "seed": 1},
}

LOAD = """
create temp table ev as
select number, cast(sys_mod_count as bigint) as mod,
    strptime(sys_updated_at, '%d/%m/%Y %H:%M')::timestamp at time zone 'UTC' as ts,
    try_strptime(nullif(opened_at, '?'), '%d/%m/%Y %H:%M')::timestamp at time zone 'UTC' as opened,
    try_strptime(nullif(sys_created_at, '?'), '%d/%m/%Y %H:%M')::timestamp at time zone 'UTC' as created,
    incident_state as state, nullif(assignment_group, '?') as grp,
    row_number() over (partition by number order by cast(sys_mod_count as bigint), ts) as k
from read_csv('{path}', all_varchar = true, header = true);
"""


def load(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    con.execute(LOAD.format(path=str(path).replace("'", "''")))
    now = datetime(2017, 3, 1, tzinfo=UTC)
    con.execute(
        """
        insert into raw.servicenow_records
        select number, 'incident', number, null, last(state order by k), null, null,
            last(grp order by k), last(grp order by k), null, min(opened), min(created),
            max(ts), null, json_object('number', number), ?, false, null
        from ev group by number""",
        [now],
    )
    con.execute(
        """
        insert into raw.servicenow_groups
        select distinct grp, grp, '{}', ? from ev where grp is not null""",
        [now],
    )
    con.executemany(
        "insert into raw.servicenow_choices values ('incident', 'state', ?, ?, 0, false, ?)",
        [(s, s, now) for s in STATES],
    )
    con.execute("""
        insert into raw.servicenow_state_changes
        select number || '-s' || k, 'incident', number, ts, prev, state, null, mod, 'sys_audit',
            null
        from (select *, lag(state) over (partition by number order by k) as prev from ev)
        where k = 1 or prev is distinct from state""")
    con.execute("update raw.servicenow_state_changes set from_value = '' where from_value is null")
    con.execute("""
        insert into raw.servicenow_field_changes
        select number || '-g' || k, 'incident', number, 'assignment_group', ts,
            case when k = 1 then '' else coalesce(prev, '') end, coalesce(grp, ''), null,
            case when k = 1 then 0 else mod end, null
        from (select *, lag(grp) over (partition by number order by k) as prev from ev)
        where k = 1 or prev is distinct from grp""")


TABLES = [
    ("metrics.daily_flow", ["value_stream", "day", "stage"], "daily_flow"),
    ("metrics.aging_wip", ["item_id"], "aging_wip"),
    ("metrics.flow_trends", ["value_stream", "period_start"], "flow_trends"),
    ("core.assignments", ["item_id", "seq"], "assignments"),
    ("metrics.handoffs", ["value_stream", "owner"], "handoffs"),
    ("metrics.item_flow", ["item_id"], "item_blocked"),
]


def fetch(con, name: str, keys: list[str]) -> dict[tuple, dict]:
    cur = con.execute(f"select * from {name}")  # noqa: S608 - a name from TABLES
    cols = [d[0] for d in cur.description]
    out = {}
    for r in cur.fetchall():
        row = {
            c: (v.astimezone(UTC) if isinstance(v, datetime) else v)
            for c, v in zip(cols, r, strict=True)
        }
        out[tuple(row[k] for k in keys)] = row
    return out


def main(path: Path) -> int:
    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")
    bootstrap(con)
    t0 = time.perf_counter()
    load(con, path)
    n = con.execute("select count(*) from raw.servicenow_records").fetchone()[0]
    print(f"loaded {n} incidents in {time.perf_counter() - t0:.1f}s")
    cfg = parse_config(CONFIG)
    failures = 0
    for as_of in AS_OFS:
        build_core(con, cfg, as_of)
        build_metrics(con, cfg, as_of)
        ref = Reference(
            con, as_of, CONFIG["window_days"], CONFIG["period"], forecast=CONFIG["forecast"]
        )
        print(f"\nas_of {as_of.isoformat()}")
        for name, keys, method in TABLES:
            t = time.perf_counter()
            if method in ("handoffs",):
                want = ref.handoffs(ref.assignments())
            elif method == "item_blocked":
                want = ref.item_blocked(ref.blocked_intervals())
            elif method == "assignments":
                want = {
                    (r["item_id"], r["seq"]): {
                        k: v for k, v in r.items() if k not in ("item_id", "seq")
                    }
                    for r in ref.assignments()
                }
            else:
                want = getattr(ref, method)()
            a = agreement(fetch(con, name, keys), want)
            failures += a["rows_missing"] + a["rows_extra"] + a["cells_differ"]
            print(
                f"  {name:24} rows sql {a['rows_sql']:>6} ref {a['rows_ref']:>6}"
                f" missing {a['rows_missing']} extra {a['rows_extra']}"
                f"  cells {a['cells']:>7} differ {a['cells_differ']}"
                f"  ({time.perf_counter() - t:.1f}s) {a['examples'] or ''}"
            )
        got = fetch(con, "metrics.forecast", ["value_stream", "horizon_days"])
        inputs = ref.forecast_inputs()
        ok = sum(
            got[(vs, None)]["wip"] == w and got[(vs, None)]["history_items"] == sum(s)
            for vs, (s, w) in inputs.items()
        )
        failures += len(inputs) - ok
        print(f"  metrics.forecast inputs (wip, history items): {ok}/{len(inputs)} streams agree")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT))
