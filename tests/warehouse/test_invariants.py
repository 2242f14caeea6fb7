"""Property-style invariants on a seeded random organisation (no sandbox dependency)."""

from __future__ import annotations

import random

import pytest

from tests.warehouse.wh_timeline import (
    INCIDENT_CHOICES,
    JIRA_STATUSES,
    add_choices,
    add_issue,
    add_jira_statuses,
    add_record,
    build,
    config,
    new_warehouse,
    one,
)
from warehouse.build import CHECKS, run_check

CONFIG = """
window_days: 60
stages: [Backlog, Dev, Review, Test, Done]
statuses:
  jira:
    Open: {stage: Backlog, kind: wait}
    In Progress: {stage: Dev, kind: active}
    Blocked: {stage: Dev, kind: wait}
    Ready for Review: {stage: Review, kind: wait}
    In Review: {stage: Review, kind: active}
    Testing: {stage: Test, kind: active}
    Done: {stage: Done, kind: done}
value_streams:
  - {name: Payments, jira: {projects: [PAY]}, servicenow: {assignment_groups: [Payments Ops]}}
  - {name: Web, jira: {projects: [WEB]}}
"""


@pytest.fixture(scope="module", params=[1, 2, 3])
def random_org(request: pytest.FixtureRequest):
    rng = random.Random(request.param)
    con = new_warehouse()
    add_jira_statuses(con, JIRA_STATUSES)
    add_choices(con, "incident", INCIDENT_CHOICES)
    jira_ids = list(JIRA_STATUSES)
    for n in range(120):
        created = rng.uniform(0, 100)
        t, current, changes = created, "1", []
        for _ in range(rng.randint(0, 8)):
            t += rng.choice([0.0, rng.uniform(-2, 6)])  # ties and clock skew included
            nxt = rng.choice(jira_ids)
            changes.append((t, current, nxt))
            current = nxt
        add_issue(
            con,
            f"{rng.choice(['PAY', 'WEB', 'OPS'])}-{n}",
            created,
            changes,
            issue_type=rng.choice(["Story", "Bug", "Tech Debt", "Risk"]),
            is_deleted=rng.random() < 0.05,
        )
    for n in range(60):
        opened = rng.uniform(0, 100)
        t, current, changes = opened, "1", []
        for _ in range(rng.randint(0, 6)):
            t += rng.uniform(0, 5)
            nxt = rng.choice(list(INCIDENT_CHOICES))
            changes.append((t, current, nxt))
            current = nxt
        add_record(
            con, f"INC{n}", opened, changes, group=rng.choice(["Payments Ops", "Service Desk"])
        )
    build(con, config(CONFIG), 90)  # as_of before some changes: they must be ignored
    yield con
    con.close()


@pytest.mark.parametrize("name", CHECKS)
def test_checks_hold(random_org, name: str) -> None:
    """Intervals tile [created_at, as_of], ids unique, no negative duration, ratios in [0, 1]."""
    assert run_check(random_org, name) == []


def test_blocks_add_up_to_mean_lead_time(random_org) -> None:
    # Σ blocks = mean lead time − mean time in the final stage before done_at (done before a
    # reopen, or dropped-then-revived), per value stream and for 'all'.
    bad = random_org.execute("""
        with s as (select window_start, as_of, done_stage from core.build_settings),
        w as (select f.* from metrics.item_flow f, s
              where f.done_at > s.window_start and f.done_at <= s.as_of),
        final_stage as (
            select i.item_id, sum(i.duration_days) filter (
                where i.stage = s.done_stage and i.entered_at < w.done_at) as days
            from core.status_intervals i join w using (item_id), s group by i.item_id),
        per_item as (select w.value_stream, w.lead_time_days - coalesce(f.days, 0) as net
                     from w left join final_stage f using (item_id)),
        expected as (select value_stream, avg(net) as v from per_item group by all
                     union all select 'all', avg(net) from per_item),
        blocks as (select value_stream, sum(lead_time_days) as v
                   from metrics.value_stream_map group by all)
        select e.value_stream, e.v, b.v from expected e join blocks b using (value_stream)
        where abs(e.v - b.v) > 1e-6
    """).fetchall()
    assert bad == []
    assert one(random_org, "select count(*) as n from metrics.value_stream_map")["n"] > 0


def test_counts_are_consistent(random_org) -> None:
    r = one(
        random_org,
        """
        select
            (select items_done from metrics.value_stream_summary where value_stream = 'all')
                as summary_done,
            (select items from metrics.lead_time where value_stream = 'all'
                and flow_type = 'all') as lead_items,
            (select sum(items_done) from metrics.value_stream_summary
                where value_stream <> 'all') as streams_done,
            (select sum(arrivals) from metrics.flow_distribution where value_stream = 'all')
                as arrivals,
            (select count(*) from core.work_items where not is_deleted) as items
    """,
    )
    assert r["summary_done"] == r["lead_items"] == r["streams_done"]
    assert r["arrivals"] == r["items"]
