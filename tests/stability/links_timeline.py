"""Hand-written ServiceNow records with the fields links are read from (payload kept as JSON).

`wh_timeline.add_record` writes a fixed payload; links need `caused_by`, `problem_id`,
`correlation_id` and a chosen sys_id, so this adds records the way the connector lands them.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from tests.warehouse.wh_timeline import add_choices, day

CHANGE_CHOICES = {
    "-5": "New",
    "-4": "Assess",
    "-3": "Authorize",
    "-2": "Scheduled",
    "-1": "Implement",
    "0": "Review",
    "3": "Closed",
    "4": "Canceled",
}
PROBLEM_CHOICES = {"101": "New", "102": "Assess", "106": "Resolved", "107": "Closed"}
INCIDENT_CHOICES = {
    "1": "New",
    "2": "In Progress",
    "3": "On Hold",
    "6": "Resolved",
    "7": "Closed",
    "8": "Canceled",
}


def add_all_choices(con: duckdb.DuckDBPyConnection) -> None:
    add_choices(con, "incident", INCIDENT_CHOICES)
    add_choices(con, "change_request", CHANGE_CHOICES)
    add_choices(con, "problem", PROBLEM_CHOICES)


def add_snow(
    con: duckdb.DuckDBPyConnection,
    table: str,
    number: str,
    opened: float,
    changes: list[tuple[float, str, str]],
    *,
    short_description: str = "",
    group: str = "Payments Ops",
    updated: float | None = None,
    **fields: Any,
) -> str:
    """One record whose sys_id is `sys-<number>`; `fields` go into the payload as given
    (a reference as a bare sys_id string or as {"link", "value"}). Returns the sys_id."""
    sys_id = f"sys-{number}"
    current = changes[-1][2] if changes else {"incident": "1", "problem": "101"}.get(table, "-5")
    last = updated if updated is not None else max([opened] + [c[0] for c in changes])
    payload = {"sys_id": sys_id, "number": number, "short_description": short_description, **fields}
    # raw.servicenow_records has no primary key (schema v2): replace by hand, as the landing does
    con.execute("delete from raw.servicenow_records where sys_id = ?", [sys_id])
    con.execute(
        "insert into raw.servicenow_records values (?, ?, ?, ?, ?, '3', null, ?, ?,"
        " null, ?, ?, ?, null, ?, ?, false, null)",
        [
            sys_id,
            table,
            number,
            short_description,
            current,
            f"grp-{group.lower().replace(' ', '-')}",
            group,
            day(opened),
            day(opened),
            day(last),
            json.dumps(payload),
            day(last),
        ],
    )
    con.execute("delete from raw.servicenow_state_changes where record_sys_id = ?", [sys_id])
    for i, (d, frm, to) in enumerate(changes):
        con.execute(
            "insert into raw.servicenow_state_changes values (?, ?, ?, ?, ?, ?, 'bob',"
            " ?, 'sys_audit', null)",
            [f"{sys_id}-a{i}", table, sys_id, day(d), frm, to, i + 1],
        )
    return sys_id


def done_change(number: str, opened: float, done: float, **kw: Any) -> dict[str, Any]:
    """Arguments for add_snow: a change request New -> Implement -> Closed (done at `done`)."""
    return {
        "table": "change_request",
        "number": number,
        "opened": opened,
        "changes": [(opened + (done - opened) / 2, "-5", "-1"), (done, "-1", "3")],
        **kw,
    }
