"""One hand-written organisation, built once per module: every expected number in the tests is
worked out by hand from this timeline (days from T0 = Monday 2024-01-01 00:00 UTC).

Config: stages Backlog(1) Dev(2) Review(3) Test(4) Done(5); as_of = day 20; window_days = 14,
so the window is done_at in (day 6, day 20]. Incident states and JIRA "QA Hold" use defaults.

  A PAY-1  Story      created 0: 2 Open>In Progress, 5 >Blocked, 6 >In Progress, 8 >In Review,
                      10 >Done                                      forward only, blocked time
  B PAY-2  Bug        created 1: 2 Open>In Progress, 4 >In Review, 5 >In Progress (backward),
                      7 >In Review, 9 >Done, 11 Done>In Progress (reopen), 12 >Done
  C PAY-3  Story      created 3: 4 Open>In Progress, 6 >Won't Do            dropped
  D PAY-4  Story      created 15, no transitions (Open)                    never started, open
  I PAY-5  Story      created 1: 2 Open>Done, deleted                       left out of metrics
  E WEB-1  Story      created 4: 5 Open>In Progress, 17 >QA Hold (default)  open at as_of
  F WEB-2  Tech Debt  created 6: change stamped day 5 (skew) Open>In Progress recorded as
                      "Doing" (renamed since), 9 >Done
  G WEB-3  Story      created 10: 25 Open>In Progress (after as_of)         open, Open at as_of
  H INC1   incident   Payments Ops, opened 2: 3 New>In Progress, 4 >On Hold, 6 >In Progress,
                      8 >Resolved, 13 Resolved>Closed                     done_at stays 8
  J INC2   incident   Service Desk (unassigned), opened 0: 1 New>Resolved   done before window
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
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
)

CONFIG = """
window_days: 14
period: week
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
    Won't Do: {stage: Done, kind: dropped}
value_streams:
  - name: Payments
    jira: {projects: [pay]}
    servicenow: {assignment_groups: [payments ops]}
  - name: Web
    jira: {projects: [WEB]}
targets:
  lead_time_p95_days: 10
  tech_debt_ratio_min: 0.2
  unplanned_ratio_max: 0.5
  pct_complete_accurate_min: 0.8
"""

AS_OF_DAY = 20


def load_organisation(con: duckdb.DuckDBPyConnection) -> None:
    add_jira_statuses(con, {**JIRA_STATUSES, "20": ("QA Hold", "indeterminate")})
    add_choices(con, "incident", INCIDENT_CHOICES)
    add_issue(
        con,
        "PAY-1",
        0,
        [(2, "1", "3"), (5, "3", "4"), (6, "4", "3"), (8, "3", "6"), (10, "6", "10")],
    )
    add_issue(
        con,
        "PAY-2",
        1,
        [
            (2, "1", "3"),
            (4, "3", "6"),
            (5, "6", "3"),
            (7, "3", "6"),
            (9, "6", "10"),
            (11, "10", "3"),
            (12, "3", "10"),
        ],
        issue_type="Bug",
    )
    add_issue(con, "PAY-3", 3, [(4, "1", "3"), (6, "3", "11")])
    add_issue(con, "PAY-4", 15, [])
    add_issue(con, "PAY-5", 1, [(2, "1", "10")], is_deleted=True)
    add_issue(con, "WEB-1", 4, [(5, "1", "3"), (17, "3", "20")])
    add_issue(
        con,
        "WEB-2",
        6,
        [(5, "1", "3"), (9, "3", "10")],
        issue_type="Tech Debt",
        names={0: ("Open", "Doing")},
    )
    add_issue(con, "WEB-3", 10, [(25, "1", "3")], status="3")
    add_record(
        con, "INC1", 2, [(3, "1", "2"), (4, "2", "3"), (6, "3", "2"), (8, "2", "6"), (13, "6", "7")]
    )
    add_record(con, "INC2", 0, [(1, "1", "6")], group="Service Desk")


@pytest.fixture(scope="module")
def org() -> Iterator[duckdb.DuckDBPyConnection]:
    con = new_warehouse()
    load_organisation(con)
    build(con, config(CONFIG), AS_OF_DAY)
    yield con
    con.close()
