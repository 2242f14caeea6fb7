"""Table views over the ServiceNow store: columns, raw getters, references, choices, indexes.

Every table is a list of compact row objects plus a dict of column -> getter that renders the
raw string value on demand. Rows are kept sorted by ``(sys_updated_on, sys_id)`` (or
``sys_created_on`` for append-only tables) so keyset queries bisect instead of scanning.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox import catalogue as cat
from sandbox.clock import snow_duration, snow_ts
from sandbox.store import Audit, Record, SnowStore

Getter = Callable[[Any], str]


def stable_id(*parts: str) -> str:
    """Deterministic sys_id for rows that are derived rather than generated."""
    return hashlib.md5("|".join(parts).encode(), usedforsecurity=False).hexdigest()


@dataclass
class Table:
    """A queryable table: rows sorted by ``(order key, sys_id)``."""

    name: str
    columns: dict[str, Getter]
    rows: list[Any]
    order_col: str
    order_key: Callable[[Any], tuple[int, str]]
    refs: dict[str, str] = field(default_factory=dict)  # column -> referenced table
    choices: dict[str, dict[str, str]] = field(default_factory=dict)  # column -> value -> label
    _by_id: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.rows.sort(key=self.order_key)

    @property
    def by_id(self) -> dict[str, Any]:
        """sys_id -> row, built on first use (a read by sys_id or a dot-walk into this table):
        at 1M incidents sys_audit alone has ~11M rows, and a dict of them is ~1 GB that a
        keyset scan never needs."""
        if self._by_id is None:
            sys_id = self.columns["sys_id"]
            self._by_id = {sys_id(r): r for r in self.rows}
        return self._by_id

    def lower_bound(self, sec: int) -> int:
        # bisect on the rows themselves: no second list of ~11M (seconds, sys_id) keys
        return bisect.bisect_left(self.rows, (sec, ""), key=self.order_key)


def _ts(v: int) -> str:
    return snow_ts(v) if v else ""


def record_columns(table: str) -> dict[str, Getter]:
    cols: dict[str, Getter] = {
        "sys_id": lambda r: r.sys_id,
        "number": lambda r: r.number,
        "state": lambda r: r.state,
        "priority": lambda r: r.priority,
        "impact": lambda r: r.impact,
        "urgency": lambda r: r.urgency,
        "category": lambda r: r.category,
        "short_description": lambda r: r.short_description,
        "assignment_group": lambda r: r.group,
        "assigned_to": lambda r: r.assigned_to,
        "opened_by": lambda r: r.opened_by,
        "opened_at": lambda r: snow_ts(r.opened),
        "closed_at": lambda r: _ts(r.closed_at),
        "close_code": lambda r: r.close_code,
        "active": lambda r: "false" if r.state in INACTIVE[r.table] else "true",
        "sys_created_on": lambda r: snow_ts(r.opened),
        "sys_updated_on": lambda r: snow_ts(r.updated),
        "sys_created_by": lambda r: "admin",
        "sys_updated_by": lambda r: "admin",
        "sys_mod_count": lambda r: str(r.mod_count),
        "sys_class_name": lambda r: r.table,
    }
    if table == "incident":
        cols |= {
            "incident_state": lambda r: r.state,
            "hold_reason": lambda r: r.hold_reason,
            "resolved_at": lambda r: _ts(r.resolved_at),
            "reopen_count": lambda r: str(r.reopen_count),
            "reassignment_count": lambda r: str(r.reassignment_count),
            "caused_by": lambda r: r.caused_by,
            "problem_id": lambda r: r.problem_id,
            "severity": lambda r: r.impact,
        }
    elif table == "change_request":
        cols |= {
            "type": lambda r: r.kind,
            "risk": lambda r: r.impact,
            "on_hold": lambda r: "false",
            "correlation_id": lambda r: r.correlation_id,
            "correlation_display": lambda r: "JIRA" if r.correlation_id else "",
        }
    else:
        cols |= {"resolved_at": lambda r: _ts(r.resolved_at), "problem_state": lambda r: r.state}
    return cols


INACTIVE = {"incident": {"7", "8"}, "change_request": {"3", "4"}, "problem": {"107"}}
STATE_CHOICES = {
    "incident": {**cat.INCIDENT_STATES, **cat.LEGACY_INCIDENT_STATES},
    "change_request": cat.CHANGE_STATES,
    "problem": cat.PROBLEM_STATES,
}
RECORD_REFS = {
    "assignment_group": "sys_user_group",
    "assigned_to": "sys_user",
    "opened_by": "sys_user",
    "caused_by": "change_request",
    "problem_id": "problem",
}


def choice_rows() -> list[tuple[str, ...]]:
    """sys_choice rows: (sys_id, name, element, value, label, inactive, sequence)."""
    rows = []
    for table, states in STATE_CHOICES.items():
        for seq, (value, label) in enumerate(states.items()):
            rows.append(
                (stable_id(table, "state", value), table, "state", value, label, "false", str(seq))
            )
            if table == "incident":
                rows.append(
                    (
                        stable_id(table, "incident_state", value),
                        table,
                        "incident_state",
                        value,
                        label,
                        "false",
                        str(seq),
                    )
                )
    for seq, (value, label) in enumerate(cat.HOLD_REASONS.items()):
        rows.append(
            (
                stable_id("incident", "hold_reason", value),
                "incident",
                "hold_reason",
                value,
                label,
                "false",
                str(seq),
            )
        )
    for seq, (value, label) in enumerate(cat.SNOW_PRIORITIES.items()):
        for table in STATE_CHOICES:
            rows.append(
                (
                    stable_id(table, "priority", value),
                    table,
                    "priority",
                    value,
                    label,
                    "false",
                    str(seq),
                )
            )
    return rows


def metric_rows(store: SnowStore, now: int) -> list[tuple[Any, ...]]:
    """ "Incident State Duration" rows: (sys_id, doc, field_value, start, end, complete).

    Like the out-of-box metric, the period that makes the incident inactive gets no row.
    """
    by_doc: dict[str, list[tuple[int, str, str]]] = {}
    for a in store.audit:
        if a.tablename == "incident" and a.fieldname == "state":
            by_doc.setdefault(a.documentkey, []).append((a.at, a.oldvalue, a.newvalue))
    rows = []
    for rec in store.records.values():
        if rec.table != "incident" or rec.deleted:
            continue
        changes = sorted(by_doc.get(rec.sys_id, []))
        start, value = rec.opened, changes[0][1] if changes else rec.state
        for at, _old, new in changes:
            rows.append((stable_id(rec.sys_id, str(start)), rec.sys_id, value, start, at, True))
            start, value = at, new
        if value not in INACTIVE["incident"]:
            rows.append((stable_id(rec.sys_id, str(start)), rec.sys_id, value, start, 0, False))
    return rows


def insert_audits(store: SnowStore) -> list[Audit]:
    """The rows an instance that audits inserts (``glide.sys.audit_inserts``) writes at
    creation: one per audited field, ``oldvalue`` empty, ``newvalue`` the initial value,
    ``record_checkpoint`` 0, stamped at ``opened``. Derived (stable ids, no random draws), so
    switching the knob never changes the rest of the organisation."""
    first: dict[tuple[str, str], str] = {}
    for a in store.audit:  # appended in time order per record: the first row's old value
        first.setdefault((a.documentkey, a.fieldname), a.oldvalue)
    out = []
    for rec in store.records.values():
        fields = {"state": rec.state, "assignment_group": rec.group}
        if rec.table == "incident":
            # a new incident is never on hold: its reason starts empty
            fields |= {"incident_state": rec.state, "hold_reason": ""}
        for name, current in fields.items():
            initial = first.get((rec.sys_id, name), current)
            out.append(
                Audit(
                    stable_id(rec.sys_id, "insert", name),
                    rec.opened,
                    rec.table,
                    rec.sys_id,
                    name,
                    "",
                    initial,
                    0,
                    "system",
                )
            )
    return out


def build_tables(store: SnowStore, now: int, audit_inserts: bool = False) -> dict[str, Table]:
    """(Re)build every table view; called after generation and after time travel.

    ``audit_inserts``: the instance audits inserts, so sys_audit also holds a creation row per
    record and audited field (see ``insert_audits``)."""
    tables: dict[str, Table] = {}
    for name in ("incident", "change_request", "problem"):
        rows = [r for r in store.records.values() if r.table == name and not r.deleted]
        tables[name] = Table(
            name,
            record_columns(name),
            rows,
            "sys_updated_on",
            lambda r: (r.updated, r.sys_id),
            refs={k: v for k, v in RECORD_REFS.items() if k in record_columns(name)},
            choices={
                "state": STATE_CHOICES[name],
                "incident_state": STATE_CHOICES[name],
                "hold_reason": cat.HOLD_REASONS,
                "priority": cat.SNOW_PRIORITIES,
            },
        )
    tables["sys_audit"] = Table(
        "sys_audit",
        {
            "sys_id": lambda a: a.sys_id,
            "tablename": lambda a: a.tablename,
            "documentkey": lambda a: a.documentkey,
            "fieldname": lambda a: a.fieldname,
            "oldvalue": lambda a: a.oldvalue,
            "newvalue": lambda a: a.newvalue,
            "record_checkpoint": lambda a: str(a.checkpoint),
            "internal_checkpoint": lambda a: f"{a.at:x}{a.checkpoint:04x}",
            "user": lambda a: a.user,
            "reason": lambda a: "",
            "sys_created_on": lambda a: snow_ts(a.at),
            "sys_created_by": lambda a: a.user,
        },
        list(store.audit) + (insert_audits(store) if audit_inserts else []),
        "sys_created_on",
        lambda a: (a.at, a.sys_id),
    )
    tables["sys_audit_delete"] = Table(
        "sys_audit_delete",
        {
            "sys_id": lambda d: d[0],
            "sys_created_on": lambda d: snow_ts(d[1]),
            "tablename": lambda d: d[2],
            "documentkey": lambda d: d[3],
            "display_value": lambda d: d[4],
            "sys_created_by": lambda d: "admin",
        },
        list(store.audit_delete),
        "sys_created_on",
        lambda d: (d[1], d[0]),
    )
    tables["sys_user_group"] = Table(
        "sys_user_group",
        {
            "sys_id": lambda g: g[0],
            "name": lambda g: g[1],
            "active": lambda g: "true",
            "description": lambda g: f"{g[1]} assignment group",
            "sys_updated_on": lambda g: "2023-01-01 00:00:00",
            "sys_created_on": lambda g: "2023-01-01 00:00:00",
        },
        list(store.groups.items()),
        "sys_updated_on",
        lambda g: (0, g[0]),
    )
    tables["sys_user"] = Table(
        "sys_user",
        {
            "sys_id": lambda u: u[0],
            "user_name": lambda u: u[1],
            "name": lambda u: u[1].replace(".", " ").title(),
            "active": lambda u: "true",
            "sys_updated_on": lambda u: "2023-01-01 00:00:00",
        },
        list(store.users.items()),
        "sys_updated_on",
        lambda u: (0, u[0]),
    )
    tables["sys_choice"] = Table(
        "sys_choice",
        {
            "sys_id": lambda c: c[0],
            "name": lambda c: c[1],
            "element": lambda c: c[2],
            "value": lambda c: c[3],
            "label": lambda c: c[4],
            "inactive": lambda c: c[5],
            "sequence": lambda c: c[6],
            "language": lambda c: "en",
            "sys_updated_on": lambda c: "2023-01-01 00:00:00",
        },
        choice_rows(),
        "sys_updated_on",
        lambda c: (0, c[0]),
    )
    definition = store.metric_definition_id
    labels = STATE_CHOICES["incident"]
    tables["metric_instance"] = Table(
        "metric_instance",
        {
            "sys_id": lambda m: m[0],
            "definition": lambda m: definition,
            "id": lambda m: m[1],
            "table": lambda m: "incident",
            "field": lambda m: "state",
            "value": lambda m: labels.get(m[2], m[2]),
            "field_value": lambda m: m[2],
            "start": lambda m: snow_ts(m[3]),
            "end": lambda m: _ts(m[4]),
            "duration": lambda m: snow_duration(m[4] - m[3]) if m[4] else "",
            "business_duration": lambda m: "",
            "calculation_complete": lambda m: "true" if m[5] else "false",
            "sys_created_on": lambda m: snow_ts(m[3]),
            "sys_updated_on": lambda m: snow_ts(m[4] or m[3]),
        },
        metric_rows(store, now),
        "sys_updated_on",
        lambda m: (m[4] or m[3], m[0]),
        refs={"definition": "metric_definition"},
    )
    return tables


def display_value(
    tables: dict[str, Table], store: SnowStore, table: Table, col: str, raw: str
) -> str:
    """Display value of one column: reference -> name/number, choice -> label."""
    if not raw:
        return ""
    target = table.refs.get(col)
    if target == "sys_user_group":
        return store.groups.get(raw, "")
    if target == "sys_user":
        return store.users.get(raw, "").replace(".", " ").title()
    if target in ("change_request", "problem", "incident"):
        rec: Record | None = store.records.get(raw)
        return rec.number if rec else ""
    if target == "metric_definition":
        return "Incident State Duration"
    if col in table.choices:
        return table.choices[col].get(raw, raw)
    return raw
