"""Section 6 tables against the plain-Python reference on seeded random timelines with the
quirks real instances have and the sandbox rarely makes: ties (several changes in one instant,
a resolution and a group change in one update), clock skew (changes stamped before created_at),
changes after as_of (time travel), flags set at creation, links to issues outside the
warehouse or already done, unassignments, hold reasons changed in the same update as the state,
incidents whose inserts are not audited, deleted and dropped items, as_of exactly at midnight.
"""

from __future__ import annotations

import itertools
import json
import random

import duckdb
import pytest

from tests.conformance.reference_section6 import Reference
from tests.conformance.test_section6_reference import blocked_rows, compare, table
from tests.warehouse.wh_timeline import (
    INCIDENT_CHOICES,
    JIRA_STATUSES,
    T0,
    add_choices,
    add_issue,
    add_jira_statuses,
    add_record,
    build,
    config,
    day,
    new_warehouse,
)

CONFIG = """
window_days: 40
stages: [Backlog, Dev, Review, Test, Triage, Restore, Done]
statuses:
  jira:
    Open: {stage: Backlog, kind: wait}
    In Progress: {stage: Dev, kind: active}
    Blocked: {stage: Dev, kind: wait}
    Ready for Review: {stage: Review, kind: wait}
    In Review: {stage: Review, kind: active}
    Testing: {stage: Test, kind: active}
    Done: {stage: Done, kind: done}
    Won't Do: {stage: Done, kind: dropped}
  servicenow:
    incident:
      "1": {stage: Triage, kind: wait}
      "2": {stage: Restore, kind: active}
      "3": {stage: Restore, kind: wait}
value_streams:
  - {name: Payments, jira: {projects: [PAY]}, servicenow: {assignment_groups: [Alpha]}}
  - {name: Web, jira: {projects: [WEB]}}
  - {name: Empty, jira: {projects: [NONE]}}
handoffs: {jira_field: Team}
forecast: {history_days: 14, horizons_days: [7], trials: 2000, seed: 1}
"""

FLAG_ID, TEAM_ID = "customfield_10021", "customfield_10001"
TEAMS = ["Red", "Blue", "Green", ""]
GROUPS = ["grp-alpha", "grp-beta", "grp-gamma", ""]
REASONS = ["", "1", "4", "5"]
PERIODS = ["week", "2weeks", "month"]
# as_of days: 60.5 mid-day, 45.0 exactly midnight, 80.3 after every change

_n = itertools.count(1)


def _jira_change(con, issue_id, at, field, field_id, fv, fs, tv, ts) -> None:
    n = next(_n)
    con.execute(
        "insert into raw.jira_field_changes values (?, ?, 0, ?, 'a', ?, ?, ?, ?, ?, ?, ?)",
        [issue_id, f"fz{n}", day(at), field, field_id, fv, fs, tv, ts, n],
    )


def _audit(con, sys_id, at, field, old, new, checkpoint) -> None:
    con.execute(
        "insert into raw.servicenow_field_changes values (?, 'incident', ?, ?, ?, ?, ?,"
        " 'b', ?, null)",
        [f"az{next(_n)}", sys_id, field, day(at), old, new, checkpoint],
    )


def _step(rng: random.Random, t: float) -> float:
    """Next instant: often a tie, sometimes skewed back, on quarter days (midnights included)."""
    return t + rng.choice([0.0, 0.0, -1.5, 0.25, 0.5, 1.0, 2.0, 3.75, 6.0])


def _org(seed: int) -> duckdb.DuckDBPyConnection:
    rng = random.Random(seed)
    con = new_warehouse()
    add_jira_statuses(con, JIRA_STATUSES)
    add_choices(con, "incident", INCIDENT_CHOICES)
    con.executemany(
        "insert into raw.servicenow_choices values ('incident', 'hold_reason', ?, ?, 0, false, ?)",
        [("1", "Awaiting Caller", T0), ("4", "Awaiting Vendor", T0)],
    )
    con.executemany(
        "insert into raw.servicenow_groups values (?, ?, '{}', ?)",
        [("grp-alpha", "Alpha", T0), ("grp-beta", "Beta", T0)],
    )  # gamma unknown
    con.execute("insert into raw.jira_fields values (?, 'Flagged', true, '{}', ?)", [FLAG_ID, T0])
    con.execute("insert into raw.jira_fields values (?, 'Team', true, '{}', ?)", [TEAM_ID, T0])
    keys = [f"{rng.choice(['PAY', 'WEB', 'OPS'])}-{n}" for n in range(70)]
    for key in keys:
        created = rng.randrange(0, 320) / 4
        t, cur, changes = created, "1", []
        for _ in range(rng.randint(0, 7)):
            t = _step(rng, t)
            nxt = rng.choice(["3", "4", "5", "6", "7", "10", "10", "11", "1"])
            changes.append((t, cur, nxt))
            cur = nxt
        add_issue(con, key, created, changes, is_deleted=rng.random() < 0.05)
        iid = con.execute(
            "select issue_id from raw.jira_issues where issue_key = ?", [key]
        ).fetchone()[0]
        # flag entries: a first clear means flagged since creation; repeated sets happen
        t, on = created, rng.random() < 0.2
        for _ in range(rng.randint(0, 4)):
            t = _step(rng, t)
            now = rng.random() < 0.6 if not on else rng.random() < 0.2
            frm, to = ("Impediment" if on else ""), ("Impediment" if now else "")
            _jira_change(con, iid, t, "Flagged", FLAG_ID, "", frm, "", to)
            on = now
        # links: blocked by another issue (maybe done already, maybe later) or one outside
        t = created
        for _ in range(rng.randint(0, 2)):
            blocker = rng.choice([*rng.sample(keys, 2), "EXT-1"])
            t = _step(rng, t)
            text = f"This issue is blocked by {blocker}"
            _jira_change(con, iid, t, "Link", "issuelinks", "", "", blocker, text)
            if rng.random() < 0.6:
                t = _step(rng, t)
                _jira_change(con, iid, t, "Link", "issuelinks", blocker, text, "", "")
        # team: a chain of changes (unassignments, same-value changes, ties)
        team = rng.choice(TEAMS)
        t = created
        for _ in range(rng.randint(0, 4)):
            t = _step(rng, t)
            nxt = rng.choice(TEAMS)
            _jira_change(
                con, iid, t, "Team", TEAM_ID, team and f"id-{team}", team, nxt and f"id-{nxt}", nxt
            )
            team = nxt
        if team:
            con.execute(
                "update raw.jira_issues set payload = ? where issue_id = ?",
                [json.dumps({"fields": {TEAM_ID: {"name": team}}}), iid],
            )
    for n in range(40):
        opened = rng.randrange(0, 320) / 4
        t, cur, changes = opened, "1", []
        for _ in range(rng.randint(0, 6)):
            t = max(opened, _step(rng, t))
            nxt = rng.choice(["2", "3", "3", "6", "7", "8", "2"])
            changes.append((t, cur, nxt))
            cur = nxt
        number = f"INC{n}"
        add_record(con, number, opened, changes, group="Alpha")
        sid = con.execute(
            "select sys_id from raw.servicenow_records where number = ?", [number]
        ).fetchone()[0]
        group, reason, cp = rng.choice(GROUPS), rng.choice(REASONS), 100
        audited = rng.random() < 0.6  # does the instance audit inserts?
        if audited:
            _audit(con, sid, opened, "assignment_group", "", group, 0)
            _audit(con, sid, opened, "hold_reason", "", reason, 0)
        moments = [c[0] for c in changes] + [opened + rng.randrange(0, 80) / 4 for _ in range(3)]
        for at in sorted(moments):
            cp += 1
            if rng.random() < 0.5:
                nxt = rng.choice(GROUPS)
                _audit(con, sid, at, "assignment_group", group, nxt, cp)
                group = nxt
            if rng.random() < 0.5:
                nxt = rng.choice(REASONS)
                _audit(con, sid, at, "hold_reason", reason, nxt, cp)
                reason = nxt
        con.execute(
            "update raw.servicenow_records set assignment_group_id = ?,"
            " assignment_group_name = ?, payload = ? where sys_id = ?",
            [
                group,
                {"grp-alpha": "Alpha", "grp-gamma": "Gamma"}.get(group),
                json.dumps({"number": number, "hold_reason": reason}),
                sid,
            ],
        )
    return con


pytestmark = pytest.mark.slow

# each seed at the mid-day as_of and one other (3 seeds x 3 as_ofs add nothing but time)
CASES = [(1, 60.5), (1, 45.0), (2, 60.5), (2, 80.3), (3, 60.5), (3, 45.0)]


@pytest.fixture(scope="module", params=CASES, ids=lambda p: f"seed{p[0]}-asof{p[1]}")
def fuzzed(request):
    seed, as_of_day = request.param
    con = _org(seed)
    period = PERIODS[seed % 3]
    cfg = config(CONFIG + f"period: {period}\n")
    build(con, cfg, as_of_day)
    ref = Reference(
        con,
        day(as_of_day),
        40,
        period,
        jira_field="Team",
        forecast={"history_days": 14, "horizons_days": [7], "trials": 2000, "seed": 1},
    )
    yield con, ref
    con.close()


def test_daily_flow(fuzzed) -> None:
    con, ref = fuzzed
    compare(
        table(con, "metrics.daily_flow", ["value_stream", "day", "stage"]),
        ref.daily_flow(),
        "daily_flow",
    )


def test_aging_wip(fuzzed) -> None:
    con, ref = fuzzed
    compare(table(con, "metrics.aging_wip", ["item_id"]), ref.aging_wip(), "aging_wip")


def test_flow_trends(fuzzed) -> None:
    con, ref = fuzzed
    compare(
        table(con, "metrics.flow_trends", ["value_stream", "period_start"]),
        ref.flow_trends(),
        "flow_trends",
    )


def test_blocked(fuzzed) -> None:
    con, ref = fuzzed
    want = ref.blocked_intervals()
    compare(
        table(con, "core.blocked_intervals", ["item_id", "seq"]),
        blocked_rows(want),
        "blocked_intervals",
    )
    compare(table(con, "metrics.item_flow", ["item_id"]), ref.item_blocked(want), "item_flow")
    compare(
        table(con, "metrics.blocked_work", ["value_stream", "reason"]),
        ref.blocked_work(want),
        "blocked_work",
    )


def test_assignments_and_handoffs(fuzzed) -> None:
    con, ref = fuzzed
    want = ref.assignments()
    compare(table(con, "core.assignments", ["item_id", "seq"]), blocked_rows(want), "assignments")
    compare(
        table(con, "metrics.handoffs", ["value_stream", "owner"]), ref.handoffs(want), "handoffs"
    )


def test_forecast_inputs(fuzzed) -> None:
    con, ref = fuzzed
    got = table(con, "metrics.forecast", ["value_stream", "horizon_days"])
    for vs, (samples, wip) in ref.forecast_inputs().items():
        assert (got[(vs, None)]["wip"], got[(vs, None)]["history_items"]) == (wip, sum(samples))
