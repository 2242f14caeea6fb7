"""A scriptable JIRA (Cloud or Data Center) behind `responses`, for tests through the real
`jira` client. Data-driven by default (issues + histories), with per-path fault queues and
scripted search pages for the paging edge cases."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses

BASE = "https://acme.atlassian.net"
TOKEN = "s3cr3t-t0ken-VALUE"
NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
STATUSES = [
    {"id": "1", "name": "Open", "statusCategory": {"id": 2, "key": "new", "name": "To Do"}},
    {"id": "3", "name": "In Progress", "statusCategory": {"id": 4, "key": "indeterminate"}},
    {"id": "10001", "name": "Code Review", "statusCategory": {"id": 4, "key": "indeterminate"}},
    {"id": "5", "name": "Done", "statusCategory": {"id": 3, "key": "done"}},
]
NAMES = {s["id"]: s["name"] for s in STATUSES}


def make_issue(
    issue_id: str,
    key: str,
    *,
    status: str = "1",
    created: Any = "2024-01-01T10:00:00.000+0000",
    updated: Any = "2024-01-02T10:00:00.000+0000",
    project: str | None = None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "summary": f"summary of {key}",
        "status": {
            "id": status,
            "name": NAMES.get(status, status),
            "statusCategory": {"key": "new" if status == "1" else "indeterminate"},
        },
        "issuetype": {"id": "10", "name": "Story"},
        "project": {"id": "100", "key": project or key.split("-")[0]},
        "priority": {"id": "3", "name": "Medium"},
        "labels": ["a"],
        "components": [{"id": "7", "name": "API"}],
        "updated": updated,
    }
    if created is not None:
        fields["created"] = created
    return {
        "id": issue_id,
        "key": key,
        "self": f"{BASE}/rest/api/2/issue/{issue_id}",
        "fields": fields,
    }


def make_history(
    hid: str,
    created: Any,
    frm: str,
    to: str,
    *,
    extra: bool = False,
    names: tuple[str, str] | None = None,
) -> dict[str, Any]:
    items = []
    if extra:
        items.append(
            {
                "field": "summary",
                "fieldtype": "jira",
                "fieldId": "summary",
                "fromString": "x",
                "toString": "y",
            }
        )
    items.append(
        {
            "field": "status",
            "fieldtype": "jira",
            "fieldId": "status",
            "from": frm,
            "fromString": (names or (NAMES.get(frm), None))[0],
            "to": to,
            "toString": (names or (None, NAMES.get(to)))[1],
        }
    )
    return {"id": hid, "created": created, "author": {"displayName": "Mia"}, "items": items}


def chain(issue_id: int, steps: list[str], start_day: int = 2) -> list[dict[str, Any]]:
    """Histories moving through `steps` (status ids), one a day."""
    return [
        make_history(
            f"{issue_id}{n:03d}",
            f"2024-01-{start_day + n:02d}T09:00:00.000+0000",
            steps[n],
            steps[n + 1],
        )
        for n in range(len(steps) - 1)
    ]


class FakeJira:
    def __init__(self, rsps: responses.RequestsMock, *, cloud: bool = True, base: str = BASE):
        self.rsps = rsps
        self.cloud = cloud
        self.base = base
        self.issues: list[dict[str, Any]] = []
        self.histories: dict[str, list[dict[str, Any]]] = {}
        self.statuses = [dict(s) for s in STATUSES]
        self.search_script: list[dict[str, Any]] | None = None
        self.search_cap = 5000
        #: Data Center: search request number (1-based) -> a smaller page size for that one page
        #: (a short page mid-scan)
        self.dc_short: dict[int, int] = {}
        self.bulk_cap = 10000
        self.bulk_404 = False
        self.issue_changelog_404 = False
        self.changelog_cap = 100
        self.embedded_cap: int | None = None
        self.faults: dict[str, list[tuple[int, dict[str, str], str]]] = defaultdict(list)
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        #: called with (method, path, query or body) before each request is answered, on the
        #: thread that sent it (tests use it to see which requests are in flight together)
        self.before: list[Any] = []
        self._register()

    # -- scripting ----------------------------------------------------------------------
    def add(self, issue: dict[str, Any], histories: list[dict[str, Any]] | None = None) -> None:
        self.issues = [i for i in self.issues if i["id"] != issue["id"]] + [issue]
        self.histories[issue["id"]] = histories or []

    def fault(
        self, path_part: str, status: int, headers: dict[str, str] | None = None, body: Any = None
    ) -> None:
        self.faults[path_part].append((status, headers or {}, json.dumps(body or {})))

    def paths(self, method: str | None = None) -> list[str]:
        return [p for m, p, _ in self.calls if method is None or m == method]

    def count(self, part: str) -> int:
        return sum(1 for _, p, _ in self.calls if part in p)

    # -- routes -------------------------------------------------------------------------
    def _register(self) -> None:
        self.rsps.assert_all_requests_are_fired = False
        routes = [
            ("GET", r"/rest/api/2/serverInfo", self._server_info),
            (
                "GET",
                r"/rest/api/2/field",
                lambda q, b: [{"id": "summary", "name": "Summary", "clauseNames": ["summary"]}],
            ),
            ("GET", r"/rest/api/2/status", lambda q, b: self.statuses),
            ("GET", r"/rest/api/[23]/search/jql", self._search_jql),
            ("GET", r"/rest/api/2/search", self._search_dc),
            ("POST", r"/rest/api/3/changelog/bulkfetch", self._bulkfetch),
            ("GET", r"/rest/api/3/issue/(\d+)/changelog", self._issue_changelog),
            ("GET", r"/rest/api/2/issue/(\d+)", self._issue_dc),
            ("POST", r"/rest/api/3/search/approximate-count", self._approximate_count),
        ]
        for method, pattern, handler in routes:
            self.rsps.add_callback(
                method,
                re.compile(re.escape(self.base) + pattern + r"(\?.*)?$"),
                callback=self._wrap(handler, pattern),
                content_type="application/json",
            )

    def _wrap(self, handler: Any, pattern: str) -> Any:
        def callback(request: Any) -> tuple[int, dict[str, str], str]:
            parts = urlsplit(request.url)
            query = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(parts.query).items()}
            body = json.loads(request.body) if request.body else None
            self.calls.append((request.method, parts.path, body if body is not None else query))
            for hook in self.before:
                hook(request.method, parts.path, body if body is not None else query)
            for part, queue in self.faults.items():
                if part in parts.path and queue:
                    status, headers, text = queue.pop(0)
                    return status, headers, text
            m = re.search(pattern, parts.path)
            result = handler(query, body, *m.groups()) if m and m.groups() else handler(query, body)
            if isinstance(result, tuple):
                return result
            return 200, {}, json.dumps(result)

        return callback

    def _server_info(self, q: Any, b: Any) -> dict[str, Any]:
        info = {
            "baseUrl": self.base,
            "versionNumbers": [1001, 0, 0] if self.cloud else [9, 12, 0],
            "version": "1001.0.0" if self.cloud else "9.12.0",
        }
        info["deploymentType"] = "Cloud" if self.cloud else "Server"
        return info

    def _with_changelog(self, issue: dict[str, Any], newest_first: bool) -> dict[str, Any]:
        hs = list(self.histories.get(issue["id"], []))
        shown = hs[-self.embedded_cap :] if self.embedded_cap is not None else hs
        if self.embedded_cap == 0:
            shown = []
        if newest_first:
            shown = shown[::-1]
        return {
            **issue,
            "changelog": {
                "startAt": 0,
                "maxResults": len(shown),
                "total": len(hs),
                "histories": shown,
            },
        }

    def _search_jql(self, q: dict[str, Any], b: Any) -> Any:
        if not self.cloud:
            return 404, {}, json.dumps({"errorMessages": ["null for uri"]})
        if self.search_script is not None:
            return self.search_script.pop(0)
        offset = int(q.get("nextPageToken") or 0)
        size = min(int(q.get("maxResults", 50)), self.search_cap)
        page = self.issues[offset : offset + size]
        if q.get("expand") == "changelog":
            page = [self._with_changelog(i, newest_first=True) for i in page]
        out: dict[str, Any] = {"issues": page}
        if offset + size < len(self.issues):
            out["nextPageToken"] = str(offset + size)
        else:
            out["isLast"] = True
        return out

    def _search_dc(self, q: dict[str, Any], b: Any) -> Any:
        if self.cloud:
            return 410, {}, json.dumps({"errorMessages": ["The requested API has been removed."]})
        start = int(q.get("startAt", 0))
        pages = sum(1 for _, p, _ in self.calls if p == "/rest/api/2/search")
        size = min(int(q.get("maxResults", 50)), self.search_cap, self.dc_short.get(pages, 10**9))
        matched = _dc_order_and_keyset(self.issues, str(q.get("jql") or ""))
        page = matched[start : start + size]
        if q.get("expand") == "changelog":
            page = [self._with_changelog(i, newest_first=False) for i in page]
        return {"startAt": start, "maxResults": size, "total": len(matched), "issues": page}

    def _bulkfetch(self, q: Any, body: dict[str, Any]) -> Any:
        if self.bulk_404 or not self.cloud:
            return 404, {}, json.dumps({"errorMessages": ["not found"]})
        flat = []
        for iid in body["issueIdsOrKeys"]:
            for h in self.histories.get(iid, []):
                if any(i["field"] == "status" for i in h["items"]):
                    flat.append((str(h["created"]), iid, h))
        flat.sort(key=lambda t: (t[0], t[1]))
        offset = int(body.get("nextPageToken") or 0)
        size = min(body.get("maxResults", 1000), self.bulk_cap)
        chunk = flat[offset : offset + size]
        logs: list[dict[str, Any]] = []
        for _, iid, h in chunk:
            if logs and logs[-1]["issueId"] == iid:
                logs[-1]["changeHistories"].append(h)
            else:
                logs.append({"issueId": iid, "changeHistories": [h]})
        out: dict[str, Any] = {"issueChangeLogs": logs}
        if offset + size < len(flat):
            out["nextPageToken"] = str(offset + size)
        return out

    def _issue_changelog(self, q: dict[str, Any], b: Any, issue_id: str) -> Any:
        if self.issue_changelog_404:
            return 404, {}, json.dumps({"errorMessages": ["Not found"]})
        hs = self.histories.get(issue_id, [])
        start = int(q.get("startAt", 0))
        size = min(int(q.get("maxResults", 100)), self.changelog_cap)
        values = hs[start : start + size]
        return {
            "startAt": start,
            "maxResults": size,
            "total": len(hs),
            "isLast": start + size >= len(hs),
            "values": values,
        }

    def _approximate_count(self, q: Any, body: dict[str, Any]) -> Any:
        """Cloud's count for a JQL (this fake ignores the JQL: every issue it holds)."""
        if not self.cloud:
            return 404, {}, json.dumps({"errorMessages": ["null for uri"]})
        return {"count": len(self.issues)}

    def _issue_dc(self, q: dict[str, Any], b: Any, issue_id: str) -> Any:
        issue = next((i for i in self.issues if i["id"] == issue_id), None)
        if issue is None:
            return (
                404,
                {},
                json.dumps(
                    {
                        "errorMessages": [
                            "Issue does not exist or you do not have permission to see it."
                        ]
                    }
                ),
            )
        hs = self.histories.get(issue_id, [])
        return {
            **issue,
            "changelog": {"startAt": 0, "maxResults": len(hs), "total": len(hs), "histories": hs},
        }


_KEYSET_UPDATED = re.compile(r"\(updated > (\d+) OR \(updated = \d+ AND id > (\d+)\)\)")
_KEYSET_ID = re.compile(r"\bid > (\d+)")


def _updated_ms(issue: dict[str, Any]) -> int:
    value = (issue.get("fields") or {}).get("updated")
    try:
        return int(datetime.fromisoformat(value).timestamp() * 1000)
    except (TypeError, ValueError):
        return 0


def _dc_order_and_keyset(issues: list[dict[str, Any]], jql: str) -> list[dict[str, Any]]:
    """Data Center's `ORDER BY updated ASC, id ASC` (or `id ASC`), and the keyset clause the
    connector appends after its first page (the only JQL this fake reads)."""

    def num(issue: dict[str, Any]) -> int:
        return int(issue["id"]) if str(issue["id"]).isdigit() else 0

    if jql.rstrip().endswith("ORDER BY id ASC"):
        out = sorted(issues, key=num)
        m = _KEYSET_ID.search(jql)
        return [i for i in out if num(i) > int(m.group(1))] if m else out
    out = sorted(issues, key=lambda i: (_updated_ms(i), num(i)))
    m = _KEYSET_UPDATED.search(jql)
    if m:
        key = (int(m.group(1)), int(m.group(2)))
        out = [i for i in out if (_updated_ms(i), num(i)) > key]
    return out
