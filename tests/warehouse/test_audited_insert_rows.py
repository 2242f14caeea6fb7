"""docs/contract.md §4: a ServiceNow sys_audit row with an empty `oldvalue` records the record's creation;
its `newvalue` is the initial state, not a transition (instances that audit inserts)."""

from __future__ import annotations

from tests.warehouse.wh_timeline import (
    INCIDENT_CHOICES,
    add_choices,
    add_record,
    build,
    config,
    day,
    new_warehouse,
    rows,
)

CONFIG = """
window_days: 60
stages: [Triage, Restore, Done]
statuses:
  servicenow:
    incident:
      "1": {stage: Triage, kind: wait}
      "2": {stage: Restore, kind: active}
      "6": {stage: Done, kind: done}
"""


def test_insert_row_is_the_initial_state_not_a_transition() -> None:
    con = new_warehouse()
    add_choices(con, "incident", INCIDENT_CHOICES)
    # INC1: opened day 2 in New ("1"), the insert row says so (empty oldvalue); day 5 -> In
    # Progress ("2"); day 9 -> Resolved ("6"). INC2: the same without the insert row.
    add_record(con, "INC1", 2, [(2, "", "1"), (5, "1", "2"), (9, "2", "6")])
    add_record(con, "INC2", 2, [(5, "1", "2"), (9, "2", "6")])
    # INC3: an imported record, opened day 1 but inserted (and audited) day 3, never moved
    add_record(con, "INC3", 1, [(3, "", "2")])
    build(con, config(CONFIG), 20)

    def transitions(item: str) -> list[tuple]:
        return [
            (r["from_status"], r["to_status"], r["at"], r["direction"])
            for r in rows(
                con, "select * from core.transitions where item_id = ? order by seq", [item]
            )
        ]

    def intervals(item: str) -> list[tuple]:
        return [
            (r["status"], r["entered_at"], r["duration_days"])
            for r in rows(
                con, "select * from core.status_intervals where item_id = ? order by seq", [item]
            )
        ]

    new, in_progress, resolved = (INCIDENT_CHOICES[v] for v in ("1", "2", "6"))
    # two transitions, none from NULL (the insert row is not one)
    assert transitions("servicenow:INC1") == [
        (new, in_progress, day(5), "forward"),
        (in_progress, resolved, day(9), "forward"),
    ]
    assert transitions("servicenow:INC1") == transitions("servicenow:INC2")
    # New 2-5 (3 days, one interval, not split at the insert row), In Progress 5-9 (4),
    # Resolved 9-20 (11)
    assert intervals("servicenow:INC1") == [
        (new, day(2), 3.0),
        (in_progress, day(5), 4.0),
        (resolved, day(9), 11.0),
    ]
    assert intervals("servicenow:INC1") == intervals("servicenow:INC2")
    # INC3: no transition at all; one interval in its (current) state from opened_at, day 1-20
    assert transitions("servicenow:INC3") == []
    assert intervals("servicenow:INC3") == [(in_progress, day(1), 19.0)]
    assert (
        rows(con, "select count(*) as n from core.transitions where from_status is null")[0]["n"]
        == 0
    )
