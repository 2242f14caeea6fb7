"""Compact in-memory state of the simulated JIRA and ServiceNow instances.

Items are slotted objects holding ints and short shared strings; histories are tuples.
Nothing is pre-rendered: JSON is produced per request by the API modules. Sorted keyset
indexes (``(updated, id)``) let searches bisect instead of scanning, which keeps page cost
flat for 100k+ items.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field

#: A JIRA changelog item: (field, fieldId, from, fromString, to, toString).
Item = tuple[str, str, "str | None", str, "str | None", str]
#: A JIRA history: (history id, created ms, author index, items).
History = tuple[int, int, int, tuple[Item, ...]]


class Issue:
    """One JIRA issue. ``histories`` are oldest first; ``updated`` >= the last history."""

    __slots__ = (
        "id",
        "key",
        "project",
        "itype",
        "summary",
        "created",
        "updated",
        "status",
        "priority",
        "labels",
        "components",
        "parent",
        "assignee",
        "reporter",
        "tz",
        "histories",
        "deleted",
        "old_keys",
    )

    def __init__(
        self,
        id: int,
        key: str,
        project: int,
        itype: str,
        summary: str,
        created: int,
        status: str,
        priority: int,
        labels: tuple[str, ...],
        components: tuple[str, ...],
        parent: int | None,
        assignee: int | None,
        reporter: int,
        tz: str,
    ) -> None:
        self.id = id
        self.key = key
        self.project = project
        self.itype = itype
        self.summary = summary
        self.created = created
        self.updated = created
        self.status = status
        self.priority = priority
        self.labels = labels
        self.components = components
        self.parent = parent
        self.assignee = assignee
        self.reporter = reporter
        self.tz = tz
        self.histories: list[History] = []
        self.deleted = False
        self.old_keys: tuple[str, ...] = ()


@dataclass
class JiraStore:
    """All JIRA issues plus the ``(updated, id)`` index searches bisect on."""

    issues: dict[int, Issue] = field(default_factory=dict)
    by_key: dict[str, int] = field(default_factory=dict)
    index: list[tuple[int, int]] = field(default_factory=list)
    next_issue_id: int = 10000
    next_history_id: int = 100000
    project_counters: dict[str, int] = field(default_factory=dict)
    version: int = 0

    def add(self, issue: Issue) -> None:
        self.issues[issue.id] = issue
        self.by_key[issue.key] = issue.id

    def lookup(self, id_or_key: str) -> Issue | None:
        """Find a live issue by id or by any key it ever had (JIRA follows moved keys)."""
        iid = int(id_or_key) if id_or_key.isdigit() else self.by_key.get(id_or_key.upper())
        issue = self.issues.get(iid) if iid is not None else None
        return None if issue is None or issue.deleted else issue

    def reindex(self) -> None:
        """Rebuild the sorted keyset index after generation or time travel."""
        self.index = sorted((i.updated, i.id) for i in self.issues.values() if not i.deleted)
        self.version += 1

    def range(self, lo: int | None, hi: int | None) -> tuple[int, int]:
        """Index positions of ``lo <= updated < hi`` (None = unbounded)."""
        start = 0 if lo is None else bisect.bisect_left(self.index, (lo, -1))
        end = len(self.index) if hi is None else bisect.bisect_left(self.index, (hi, -1))
        return start, end


class Record:
    """One ServiceNow task record (incident, change_request or problem)."""

    __slots__ = (
        "table",
        "sys_id",
        "number",
        "opened",
        "updated",
        "state",
        "hold_reason",
        "priority",
        "impact",
        "urgency",
        "category",
        "group",
        "assigned_to",
        "short_description",
        "caused_by",
        "problem_id",
        "close_code",
        "resolved_at",
        "closed_at",
        "reopen_count",
        "reassignment_count",
        "mod_count",
        "opened_by",
        "deleted",
        "kind",
        "correlation_id",
    )

    def __init__(self, table: str, sys_id: str, number: str, opened: int) -> None:
        self.table = table
        self.sys_id = sys_id
        self.number = number
        self.opened = opened
        self.updated = opened
        self.state = ""
        self.hold_reason = ""
        self.priority = "3"
        self.impact = "2"
        self.urgency = "2"
        self.category = "inquiry"
        self.group = ""
        self.assigned_to = ""
        self.short_description = ""
        self.caused_by = ""
        self.problem_id = ""
        self.close_code = ""
        self.resolved_at = 0
        self.closed_at = 0
        self.reopen_count = 0
        self.reassignment_count = 0
        self.mod_count = 0
        self.opened_by = ""
        self.deleted = False
        self.kind = ""  # change type (normal/standard/emergency) for change_request
        self.correlation_id = ""  # change_request: an external key (a JIRA key), sandbox/links


class Audit:
    """One ``sys_audit`` row. Slotted: there are ~10 per record."""

    __slots__ = (
        "sys_id",
        "at",
        "tablename",
        "documentkey",
        "fieldname",
        "oldvalue",
        "newvalue",
        "checkpoint",
        "user",
    )

    def __init__(
        self,
        sys_id: str,
        at: int,
        tablename: str,
        documentkey: str,
        fieldname: str,
        oldvalue: str,
        newvalue: str,
        checkpoint: int,
        user: str,
    ) -> None:
        self.sys_id = sys_id
        self.at = at
        self.tablename = tablename
        self.documentkey = documentkey
        self.fieldname = fieldname
        self.oldvalue = oldvalue
        self.newvalue = newvalue
        self.checkpoint = checkpoint
        self.user = user


@dataclass
class SnowStore:
    """ServiceNow records, their audit trail and the small reference tables."""

    records: dict[str, Record] = field(default_factory=dict)  # sys_id -> record
    audit: list[Audit] = field(default_factory=list)
    audit_delete: list[tuple[str, int, str, str, str]] = field(default_factory=list)
    groups: dict[str, str] = field(default_factory=dict)  # sys_id -> name
    users: dict[str, str] = field(default_factory=dict)  # sys_id -> user_name
    counters: dict[str, int] = field(default_factory=dict)  # number prefix -> last number
    metric_definition_id: str = ""
    version: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)
