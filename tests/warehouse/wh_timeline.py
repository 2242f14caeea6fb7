"""Hand-written raw rows for warehouse tests: an issue or a record with its status history.

Times are given as day offsets from `T0` (fractions allowed), so expected values in tests can
be worked out by hand in days.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import duckdb

from models.config import FlowConfig, parse_config
from warehouse.build import build_core, build_metrics
from warehouse.db import bootstrap

#: Monday 2024-01-01 00:00 UTC: day 0 of every hand-written timeline.
T0 = datetime(2024, 1, 1, tzinfo=UTC)

_counter = itertools.count(1)

#: A small JIRA status catalogue: id -> (name, category).
JIRA_STATUSES: dict[str, tuple[str, str]] = {
    "1": ("Open", "new"),
    "3": ("In Progress", "indeterminate"),
    "4": ("Blocked", "indeterminate"),
    "5": ("Ready for Review", "indeterminate"),
    "6": ("In Review", "indeterminate"),
    "7": ("Testing", "indeterminate"),
    "10": ("Done", "done"),
    "11": ("Won't Do", "done"),
}

INCIDENT_CHOICES = {
    "1": "New",
    "2": "In Progress",
    "3": "On Hold",
    "6": "Resolved",
    "7": "Closed",
    "8": "Canceled",
}


def day(d: float) -> datetime:
    return T0 + timedelta(days=d)


def new_warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("set timezone = 'UTC'")
    bootstrap(con)
    return con


def add_jira_statuses(con: duckdb.DuckDBPyConnection, statuses: dict[str, tuple[str, str]]) -> None:
    con.executemany(
        "insert or replace into raw.jira_statuses values (?, ?, ?, '{}', ?)",
        [(sid, name, cat, T0) for sid, (name, cat) in statuses.items()],
    )


def add_issue(
    con: duckdb.DuckDBPyConnection,
    key: str,
    created: float,
    changes: list[tuple[float, str, str]],
    *,
    status: str | None = None,
    issue_type: str = "Story",
    labels: list[str] | None = None,
    components: list[str] | None = None,
    priority: str = "Medium",
    is_deleted: bool = False,
    catalogue: dict[str, tuple[str, str]] | None = None,
    names: dict[int, tuple[str, str]] | None = None,
) -> None:
    """One JIRA issue; `changes` are (day, from_status_id, to_status_id) in source order.

    `status` is the current status id (default: the last change's `to`, else '1').
    `names` overrides the recorded from/to names of change i (a status renamed since).
    """
    catalogue = catalogue or JIRA_STATUSES
    current = status or (changes[-1][2] if changes else "1")
    name, category = catalogue.get(current, (current, None))
    last = max([created] + [c[0] for c in changes])
    issue_id = str(next(_counter))
    con.execute(
        "insert into raw.jira_issues values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null, ?, ?, ?,"
        " null, null, '{}', ?, ?, null)",
        [
            issue_id,
            key,
            key.split("-")[0],
            issue_type,
            f"Summary of {key}",
            current,
            name,
            category,
            priority,
            labels or [],
            components or [],
            day(created),
            day(last),
            f"https://jira.example/browse/{key}",
            day(last),
            is_deleted,
        ],
    )
    for i, (d, frm, to) in enumerate(changes):
        fname, tname = (names or {}).get(
            i, (catalogue.get(frm, (frm,))[0], catalogue.get(to, (to,))[0])
        )
        con.execute(
            "insert into raw.jira_status_changes values (?, ?, 0, ?, 'alice', ?, ?, ?, ?, ?, null)",
            [issue_id, f"h{issue_id}-{i}", day(d), frm, fname, to, tname, next(_counter)],
        )


def add_choices(con: duckdb.DuckDBPyConnection, table: str, choices: dict[str, str]) -> None:
    con.executemany(
        "insert or replace into raw.servicenow_choices values (?, 'state', ?, ?, 0, false, ?)",
        [(table, v, label, T0) for v, label in choices.items()],
    )


def add_record(
    con: duckdb.DuckDBPyConnection,
    number: str,
    opened: float,
    changes: list[tuple[float, str, str]],
    *,
    table: str = "incident",
    group: str = "Payments Ops",
    state: str | None = None,
    category: str | None = None,
    is_deleted: bool = False,
) -> None:
    """One ServiceNow record; `changes` are (day, from_value, to_value) audit rows."""
    current = state or (changes[-1][2] if changes else "1")
    last = max([opened] + [c[0] for c in changes])
    sys_id = f"sys{next(_counter)}"
    con.execute(
        "insert into raw.servicenow_records values (?, ?, ?, ?, ?, '3', ?, ?, ?, null, ?, ?, ?,"
        " null, ?, ?, ?, null)",
        [
            sys_id,
            table,
            number,
            f"Summary of {number}",
            current,
            category,
            f"grp-{group.lower().replace(' ', '-')}",
            group,
            day(opened),
            day(opened),
            day(last),
            json.dumps({"number": number}),
            day(last),
            is_deleted,
        ],
    )
    for i, (d, frm, to) in enumerate(changes):
        con.execute(
            "insert into raw.servicenow_state_changes values (?, ?, ?, ?, ?, ?, 'bob', ?,"
            " 'sys_audit', null)",
            [f"{sys_id}-a{i}", table, sys_id, day(d), frm, to, i + 1],
        )


def config(text: str) -> FlowConfig:
    import yaml

    return parse_config(yaml.safe_load(text), "<test>")


def build(con: duckdb.DuckDBPyConnection, cfg: FlowConfig, as_of_day: float) -> None:
    as_of = day(as_of_day)
    build_core(con, cfg, as_of)
    build_metrics(con, cfg, as_of)


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cur = con.execute(sql, params or [])
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def one(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> dict:
    found = rows(con, sql, params)
    assert len(found) == 1, found
    return found[0]
