"""Ground truth for tests: what the sandbox generated, independent of any API rendering."""

from __future__ import annotations

from typing import Any

from sandbox import catalogue as cat
from sandbox.clock import from_ms, snow_ts
from sandbox.snow_tables import Table
from sandbox.store import JiraStore, SnowStore


class Truth:
    """Read-only views; call again after ``advance()`` to see the new state."""

    def __init__(self, jira: JiraStore, snow: SnowStore, tables: Any) -> None:
        self._jira = jira
        self._snow = snow
        self._tables = tables  # callable returning the current dict of Table views

    def jira_issues(self, include_deleted: bool = False) -> list[dict[str, Any]]:
        """One dict per issue: ids, keys, current status and the full status history."""
        out = []
        for issue in sorted(self._jira.issues.values(), key=lambda i: i.id):
            if issue.deleted and not include_deleted:
                continue
            statuses = [
                {
                    "history_id": str(hid),
                    "at": from_ms(at),
                    "from": item[2],
                    "to": item[4],
                    "from_name": item[3],
                    "to_name": item[5],
                }
                for hid, at, _a, items in issue.histories
                for item in items
                if item[0] == "status"
            ]
            out.append(
                {
                    "id": str(issue.id),
                    "key": issue.key,
                    "old_keys": list(issue.old_keys),
                    "project": cat.PROJECTS[issue.project].key,
                    "issuetype": issue.itype,
                    "status": issue.status,
                    "status_id": cat.STATUS_BY_NAME[issue.status].id,
                    "created": from_ms(issue.created),
                    "updated": from_ms(issue.updated),
                    "updated_ms": issue.updated,
                    "history_count": len(issue.histories),
                    "history_ids": [str(h[0]) for h in issue.histories],
                    "status_history": statuses,
                    "deleted": issue.deleted,
                }
            )
        return out

    def servicenow_records(self, table: str) -> list[dict[str, Any]]:
        """Task tables: one dict per live record with its state history from sys_audit.
        Other tables: every row with raw values."""
        if table in ("incident", "change_request", "problem"):
            history: dict[str, list[dict[str, str]]] = {}
            for a in self._snow.audit:
                if a.tablename == table and a.fieldname == "state":
                    history.setdefault(a.documentkey, []).append(
                        {
                            "at": snow_ts(a.at),
                            "old": a.oldvalue,
                            "new": a.newvalue,
                            "sys_id": a.sys_id,
                        }
                    )
            return [
                {
                    "sys_id": r.sys_id,
                    "number": r.number,
                    "state": r.state,
                    "opened_at": snow_ts(r.opened),
                    "sys_updated_on": snow_ts(r.updated),
                    "assignment_group": self._snow.groups.get(r.group, ""),
                    "reassignment_count": r.reassignment_count,
                    "reopen_count": r.reopen_count,
                    "state_history": sorted(
                        history.get(r.sys_id, []), key=lambda h: (h["at"], h["sys_id"])
                    ),
                }
                for r in self._snow.records.values()
                if r.table == table and not r.deleted
            ]
        view: Table = self._tables()[table]
        return [{c: g(row) for c, g in view.columns.items()} for row in view.rows]

    def servicenow_deleted(self) -> list[dict[str, str]]:
        return [
            {
                "sys_id": d[0],
                "sys_created_on": snow_ts(d[1]),
                "tablename": d[2],
                "documentkey": d[3],
                "number": d[4],
            }
            for d in self._snow.audit_delete
        ]
