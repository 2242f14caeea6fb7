"""Flow-type defaults (SQL vs models.mapping), rule matching, and the period grains."""

from __future__ import annotations

import pytest

from models.mapping import default_flow_type
from tests.warehouse.wh_timeline import (
    add_issue,
    add_jira_statuses,
    build,
    config,
    new_warehouse,
    rows,
)

CASES = [  # (issue type, labels)
    ("Bug", []),
    ("bug", ["tech-debt"]),
    ("Story", []),
    ("Story", ["TechDebt"]),
    ("Tech Debt", []),
    ("Refactoring", []),
    ("NFR", []),
    ("Story", ["nfr-perf"]),
    ("Security", []),
    ("vulnerability", []),
    ("Risk", ["debt"]),
    ("Task", ["ui", "x"]),
    ("Epic", None),
]


def test_sql_flow_type_defaults_agree_with_models_mapping() -> None:
    con = new_warehouse()
    add_jira_statuses(con, {"1": ("Open", "new")})
    for i, (issue_type, labels) in enumerate(CASES):
        add_issue(con, f"T-{i}", 0, [], issue_type=issue_type, labels=labels)
    build(con, config("{}"), 1)
    got = {r["source_key"]: r["flow_type"] for r in rows(con, "from core.work_items")}
    expected = {
        f"T-{i}": default_flow_type("jira", t, lbl).value for i, (t, lbl) in enumerate(CASES)
    }
    assert got == expected


def test_rules_first_match_and_and_or() -> None:
    con = new_warehouse()
    add_jira_statuses(con, {"1": ("Open", "new")})
    add_issue(con, "PAY-1", 0, [], labels=["API"], components=["Checkout"])
    add_issue(con, "PAY-2", 0, [], labels=["ui"])
    add_issue(con, "WEB-1", 0, [], labels=["api"], issue_type="Bug")
    cfg = config("""
value_streams:
  - name: Checkout API
    jira: {projects: [PAY], components: [checkout, cart], labels: [api]}
  - name: Payments
    jira: {projects: [pay]}
  - name: Everything Jira
    jira: {}
flow_types:
  - {type: risk, jira: {labels: [API], issue_types: [bug]}}
""")
    build(con, cfg, 1)
    got = {
        r["source_key"]: (r["value_stream"], r["flow_type"])
        for r in rows(con, "from core.work_items")
    }
    assert got == {
        "PAY-1": ("Checkout API", "feature"),  # all lists match (AND), case-insensitive
        "PAY-2": ("Payments", "feature"),  # first rule fails on components
        "WEB-1": ("Everything Jira", "risk"),  # empty section matches; rule before Bug default
    }


# One item created day 2 (Wed 2024-01-03), In Progress day 20, Done day 40 (Sat Feb 10);
# as_of day 45 (Thu Feb 15). WIP is 1 at every period end in [2, 40), 0 after.
@pytest.mark.parametrize(
    ("period", "expected"),
    [
        # weeks Jan 1, 8, 15, 22, 29, Feb 5, 12: ends day 7, 14, 21, 28, 35 -> open;
        # end day 42 -> done; the last week counts at as_of -> 0
        (
            "week",
            [
                ("01-01", 0, 1, 1),
                ("01-08", 0, 1, 0),
                ("01-15", 0, 1, 0),
                ("01-22", 0, 1, 0),
                ("01-29", 0, 1, 0),
                ("02-05", 1, 0, 0),
                ("02-12", 0, 0, 0),
            ],
        ),
        # 2-week buckets from origin Mon 2000-01-03: Jan 1, Jan 15, Jan 29, Feb 12
        (
            "2weeks",
            [("01-01", 0, 1, 1), ("01-15", 0, 1, 0), ("01-29", 1, 0, 0), ("02-12", 0, 0, 0)],
        ),
        ("month", [("01-01", 0, 1, 1), ("02-01", 1, 0, 0)]),
    ],
)
def test_flow_distribution_period_grains(period: str, expected: list[tuple]) -> None:
    con = new_warehouse()
    add_jira_statuses(
        con, {"1": ("Open", "new"), "3": ("In Progress", "indeterminate"), "10": ("Done", "done")}
    )
    add_issue(con, "PAY-1", 2, [(20, "1", "3"), (40, "3", "10")])
    build(con, config(f"period: {period}"), 45)
    got = [
        (r["period_start"].strftime("%m-%d"), r["items_done"], r["wip_at_end"], r["arrivals"])
        for r in rows(
            con, "from metrics.flow_distribution where value_stream = 'all' order by period_start"
        )
    ]
    assert got == expected
