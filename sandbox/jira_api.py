"""The JIRA REST API (Cloud or Data Center flavour) over the simulated store.

Cloud: ``search/jql`` with opaque ``nextPageToken``, truncated embedded changelogs, paged
``/issue/{id}/changelog``, ``changelog/bulkfetch``, 410 on the removed ``/search``.
Data Center: ``/rest/api/2/search`` with ``startAt`` (server-capped at 50), full changelog
only via ``issue?expand=changelog``. Both answer 401 like JIRA on bad credentials.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import re
from collections import OrderedDict
from typing import Any

from sandbox import catalogue as cat
from sandbox.jira_render import (
    NAVIGABLE,
    history_json,
    issue_json,
    status_json,
    wanted_fields,
)
from sandbox.jql import JqlError, ParsedJql, parse_jql
from sandbox.store import Issue
from sandbox.wire import Request, Response, json_response

EMAIL = "demo@example.com"
API_TOKEN = "sandbox-token"
PAT = "sandbox-pat"

GONE = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at "
    "https://developer.atlassian.com/changelog/#CHANGE-2046"
)
NOT_FOUND_ISSUE = "Issue does not exist or you do not have permission to see it."
SEARCH_POST_KEYS = {
    "jql",
    "nextPageToken",
    "maxResults",
    "fields",
    "expand",
    "properties",
    "fieldsByKeys",
    "failFast",
    "reconcileIssues",
}
DC_SEARCH_POST_KEYS = {
    "jql",
    "startAt",
    "maxResults",
    "fields",
    "expand",
    "validateQuery",
    "properties",
    "fieldsByKeys",
}
EMBED_CAP = 40
DC_MAX_RESULTS = 50
_PATH = re.compile(r"^/rest/api/(2|3|latest)/(.*)$")


def errors(status: int, *messages: str) -> Response:
    return json_response(status, {"errorMessages": list(messages), "errors": {}})


class JiraApi:
    """Request handler; ``state`` gives the store, clock, mode and knobs."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self._cache: OrderedDict[tuple[str, str, int], list[int]] = OrderedDict()

    # -- routing -----------------------------------------------------------------------------
    @staticmethod
    def endpoint(method: str, path: str) -> str:
        m = _PATH.match(path)
        if not m:
            return "jira.other"
        rest = m.group(2).rstrip("/")
        if rest == "search/jql":
            return "jira.search_jql"
        if rest == "search":
            return "jira.search_dc"
        if rest == "changelog/bulkfetch":
            return "jira.changelog_bulkfetch"
        if rest.startswith("issue/") and rest.endswith("/changelog"):
            return "jira.issue_changelog"
        if rest.startswith("issue/"):
            return "jira.issue"
        return "jira." + rest.replace("/", "_")

    @property
    def cloud(self) -> bool:
        return self.state.mode == "cloud"

    def authorized(self, req: Request) -> bool:
        auth = req.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return not self.cloud and auth[7:].strip() == PAT
        if auth.lower().startswith("basic "):
            try:
                user, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except (ValueError, binascii.Error):
                return False
            if self.cloud:
                return user == EMAIL and secret == API_TOKEN
            return user in (EMAIL, "demo") and secret in (API_TOKEN, PAT)
        return False

    def handle(self, req: Request) -> Response:
        if not self.authorized(req):
            resp = errors(
                401, "You are not authenticated. Authentication required to perform this operation."
            )
            resp.headers += [
                ("X-Seraph-LoginReason", "AUTHENTICATED_FAILED"),
                ("WWW-Authenticate", 'Basic realm="protected-area"'),
            ]
            return resp
        m = _PATH.match(req.path)
        if not m:
            return errors(404, "Not found")
        rest = m.group(2).rstrip("/")
        get, post = req.method == "GET", req.method == "POST"
        with self.state.lock:
            if get and rest == "serverInfo":
                return json_response(200, self.server_info(req))
            if get and rest == "myself":
                return json_response(200, self.myself(req))
            if get and rest == "status":
                return json_response(200, [status_json(self.base(req), s.id) for s in cat.STATUSES])
            if get and rest == "field":
                return json_response(200, FIELDS)
            if get and rest == "project":
                return json_response(200, [self.project_json(req, p) for p in cat.PROJECTS])
            if rest == "search/jql" and (get or post):
                if not self.cloud:
                    return errors(404, "null for uri: " + req.path)
                return self.search_jql(req)
            if rest == "search/approximate-count" and post and self.cloud:
                return self.approximate_count(req)
            if rest == "search" and (get or post):
                if self.cloud:
                    return errors(410, GONE)
                return self.search_dc(req)
            if rest == "changelog/bulkfetch" and post:
                if not self.cloud or self.state.bulkfetch_disabled:
                    return errors(404, "null for uri: " + req.path)
                return self.bulkfetch(req)
            if get and rest.startswith("issue/"):
                parts = rest.split("/")
                if len(parts) == 3 and parts[2] == "changelog":
                    if not self.cloud:
                        return errors(404, "null for uri: " + req.path)
                    return self.issue_changelog(req, parts[1])
                if len(parts) == 2:
                    return self.get_issue(req, parts[1])
        return errors(404, "null for uri: " + req.path)

    # -- small resources ---------------------------------------------------------------------
    def base(self, req: Request) -> str:
        return f"http://{req.host}"

    def server_info(self, req: Request) -> dict[str, Any]:
        if self.cloud:
            version, numbers, dtype = "1001.0.0-SNAPSHOT", [1001, 0, 0], "Cloud"
        else:
            version, numbers, dtype = "9.12.7", [9, 12, 7], "Server"
        return {
            "baseUrl": self.base(req),
            "version": version,
            "versionNumbers": numbers,
            "deploymentType": dtype,
            "buildNumber": 100270,
            "buildDate": "2025-01-01T00:00:00.000+0000",
            "serverTime": self.state.jira_now_str(),
            "scmInfo": "sandbox",
            "serverTitle": "Flowmetrics Sandbox JIRA",
        }

    def myself(self, req: Request) -> dict[str, Any]:
        u = cat.API_USER
        return {
            "self": f"{self.base(req)}/rest/api/2/user?accountId={u.account_id}",
            "accountId": u.account_id,
            "accountType": "atlassian",
            "emailAddress": EMAIL,
            "displayName": u.name,
            "active": True,
            "timeZone": u.tz,
            "locale": "en_US",
            **({} if self.cloud else {"name": "demo", "key": "demo"}),
        }

    def project_json(self, req: Request, p: cat.Project) -> dict[str, Any]:
        return {
            "self": f"{self.base(req)}/rest/api/2/project/{p.id}",
            "id": p.id,
            "key": p.key,
            "name": p.name,
            "projectTypeKey": "software",
            "simplified": False,
            "style": "classic",
            "isPrivate": False,
        }

    def damaged(self, issue: dict[str, Any]) -> dict[str, Any]:
        """The issue with the `malformed` knob's field values for its key (any JSON, e.g.
        `{"created": 1e30}` or `{"status": "Done"}`), as a broken instance or proxy sends."""
        bad = self.state.malformed.get(issue.get("key"))
        if bad:
            issue["fields"] = {**issue.get("fields", {}), **bad}
        return issue

    # -- searching ---------------------------------------------------------------------------
    def params(self, req: Request, allowed: set[str]) -> dict[str, Any] | Response:
        """Merge GET query params or a POST body (which rejects unknown keys, like Cloud)."""
        if req.method == "POST":
            try:
                body = json.loads(req.body or b"{}")
            except ValueError:
                return errors(400, "Unexpected character in the request body.")
            if not isinstance(body, dict):
                return errors(400, "Request body must be a JSON object.")
            unknown = set(body) - allowed
            if unknown:
                return errors(
                    400,
                    f'Unrecognized field "{sorted(unknown)[0]}" (class '
                    "SearchAndReconcileRequestBean), not marked as ignorable",
                )
            fields = body.get("fields") or []
            return {**body, "fields": fields if isinstance(fields, list) else [fields]}
        fields: list[str] = []
        for value in req.args("fields"):
            fields.extend(v.strip() for v in value.split(",") if v.strip())
        out: dict[str, Any] = {k: req.arg(k) for k in allowed if k != "fields" and req.arg(k)}
        out["fields"] = fields
        return out

    def parse(self, jql: str) -> ParsedJql | Response:
        try:
            return parse_jql(jql, self.state.now_ms)
        except JqlError as e:
            return errors(400, str(e))

    def matching(self, jql: str, parsed: ParsedJql) -> list[int]:
        """Ids matching ``parsed`` in its order; cached per (jql, order, store version)."""
        store = self.state.jira
        key = (jql, "", store.version)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        lo, hi = store.range(parsed.updated_lo, parsed.updated_hi)
        pred = parsed.predicate
        issues = store.issues
        matched = [
            issues[iid] for _, iid in store.index[lo:hi] if pred is None or pred(issues[iid])
        ]
        order = parsed.order or [("key", True)]
        for name, desc in reversed(order):
            matched.sort(key=lambda i, n=name: _order_key(i, n), reverse=desc)
        ids = [i.id for i in matched]
        self._cache[key] = ids
        if len(self._cache) > 8:
            self._cache.popitem(last=False)
        return ids

    def page_cap(self, fields: list[str], star: bool, changelog: bool) -> int:
        """Cloud returns fewer issues than asked when the payload is heavy."""
        if not fields and not changelog:
            return 5000
        if changelog or star or len(fields) > 10:
            return 100
        return 1000

    def search_jql(self, req: Request) -> Response:
        p = self.params(req, SEARCH_POST_KEYS)
        if isinstance(p, Response):
            return p
        jql = (p.get("jql") or "").strip()
        parsed = self.parse(jql)
        if isinstance(parsed, Response):
            return parsed
        if parsed.predicate is None:
            return errors(
                400,
                "Unbounded JQL queries are not allowed here. Please add a search "
                "restriction to your query.",
            )
        fields, star = wanted_fields(p["fields"])
        expand = p.get("expand") or ""
        expand_list = expand if isinstance(expand, list) else expand.split(",")
        changelog = "changelog" in [e.strip() for e in expand_list]
        try:
            asked = int(p.get("maxResults") or 50)
        except (TypeError, ValueError):
            return errors(400, "maxResults must be a number.")
        limit = max(1, min(asked, self.page_cap(fields, star, changelog)))
        token = _decode_token(p.get("nextPageToken"))
        if p.get("nextPageToken") and token is None:
            return errors(400, "Invalid nextPageToken.")
        store = self.state.jira
        page: list[Issue]
        more: bool
        if _keyset_order(parsed):
            lo, hi = store.range(parsed.updated_lo, parsed.updated_hi)
            if token and "k" in token:
                lo = max(lo, bisect.bisect_right(store.index, tuple(token["k"])))
            page, pos = [], lo
            while pos < hi and len(page) <= limit:
                iss = store.issues[store.index[pos][1]]
                if parsed.predicate(iss):
                    page.append(iss)
                pos += 1
            more = len(page) > limit
            page = page[:limit]
            next_token = {"k": [page[-1].updated, page[-1].id]} if more and page else None
        else:
            ids = self.matching(jql, parsed)
            start = token.get("o", 0) if token else 0
            page = [store.issues[i] for i in ids[start : start + limit]]
            more = start + limit < len(ids)
            next_token = {"o": start + limit} if more else None
        fault = self.page_fault(jql)
        if fault == "empty":
            # an empty page that still carries a token to the same place (followed, it loses
            # nothing); a different string, so it is not a repeated token
            back = dict(token or {"o": 0}) if not _keyset_order(parsed) or token else None
            if back is None:
                lo, _ = store.range(parsed.updated_lo, parsed.updated_hi)
                back = {"k": list(store.index[lo - 1]) if lo else [-1, -1]}
            page, next_token = [], {**back, "n": 1}
        base = self.base(req)
        issues = [
            self.damaged(
                issue_json(
                    base,
                    store.lookup,
                    i,
                    fields,
                    "embedded" if changelog else None,
                    False,
                    EMBED_CAP,
                )
            )
            for i in page
        ]
        body: dict[str, Any] = {"issues": issues}
        if next_token:
            body["nextPageToken"] = _encode_token(next_token)
        if fault == "repeat" and p.get("nextPageToken"):
            body["nextPageToken"] = p["nextPageToken"]  # the token it was asked with
            next_token = token
        body["isLast"] = next_token is None
        self.edit_after(page, fault)
        return json_response(200, body)

    def page_fault(self, jql: str) -> str | None:
        """Count a search page and say which `search_fault` knob fires on it (once each):
        "empty" (no issues, total or token kept), "repeat" (Cloud: the token asked with comes
        back), "edit" (the page's first issue is edited right after the page is served).
        Only searches whose JQL contains the knob's `match` text are counted."""
        state = self.state
        if state.search_fault_match not in jql:
            return None
        state.search_pages += 1
        fault = state.search_fault
        if fault and state.search_pages == state.search_fault_page:
            state.search_fault = None
            return fault
        return None

    def edit_after(self, page: list[Issue], fault: str | None) -> None:
        """The "edit" fault: someone edits the page's first issue while the scan goes on, so
        it moves to the end of `ORDER BY updated` (what loses an issue to position paging)."""
        if fault != "edit" or not page:
            return
        issue = page[0]
        issue.updated = max(issue.updated + 1, self.state.now_ms)
        self.state.jira.reindex()

    def approximate_count(self, req: Request) -> Response:
        p = self.params(req, {"jql"})
        if isinstance(p, Response):
            return p
        parsed = self.parse(p.get("jql") or "")
        if isinstance(parsed, Response):
            return parsed
        return json_response(200, {"count": len(self.matching(p.get("jql") or "", parsed))})

    def search_dc(self, req: Request) -> Response:
        p = self.params(req, DC_SEARCH_POST_KEYS)
        if isinstance(p, Response):
            return p
        jql = (p.get("jql") or "").strip()
        parsed = self.parse(jql)
        if isinstance(parsed, Response):
            return parsed
        fields, _star = wanted_fields(p["fields"] or ["*navigable"])
        expand = p.get("expand") or ""
        expand_list = expand if isinstance(expand, list) else expand.split(",")
        changelog = "changelog" in [e.strip() for e in expand_list]
        try:
            start = max(0, int(p.get("startAt") or 0))
            asked = int(p.get("maxResults") or DC_MAX_RESULTS)
        except (TypeError, ValueError):
            return errors(400, "startAt and maxResults must be numbers.")
        limit = max(0, min(asked, DC_MAX_RESULTS))
        ids = self.matching(jql, parsed)
        store = self.state.jira
        base = self.base(req)
        fault = self.page_fault(jql)
        page = [] if fault == "empty" else [store.issues[i] for i in ids[start : start + limit]]
        issues = [
            self.damaged(
                issue_json(base, store.lookup, i, fields, "full" if changelog else None, True)
            )
            for i in page
        ]
        self.edit_after(page, fault)
        return json_response(
            200,
            {
                "expand": "schema,names",
                "startAt": start,
                "maxResults": limit,
                "total": len(ids),
                "issues": issues,
            },
        )

    # -- single issue and changelogs -----------------------------------------------------------
    def get_issue(self, req: Request, id_or_key: str) -> Response:
        issue = self.state.jira.lookup(id_or_key)
        if issue is None:
            return errors(404, NOT_FOUND_ISSUE)
        spec: list[str] = []
        for value in req.args("fields"):
            spec.extend(v.strip() for v in value.split(",") if v.strip())
        fields, _ = wanted_fields(spec or ["*all"])
        changelog = "changelog" in (req.arg("expand") or "").split(",")
        return json_response(
            200,
            self.damaged(
                issue_json(
                    self.base(req),
                    self.state.jira.lookup,
                    issue,
                    fields,
                    "full" if changelog else None,
                    not self.cloud,
                )
            ),
        )

    def issue_changelog(self, req: Request, id_or_key: str) -> Response:
        issue = self.state.jira.lookup(id_or_key)
        if issue is None:
            return errors(404, NOT_FOUND_ISSUE)
        try:
            start = max(0, int(req.arg("startAt") or 0))
            limit = max(1, min(int(req.arg("maxResults") or 100), 100))
        except ValueError:
            return errors(400, "startAt and maxResults must be numbers.")
        hs = issue.histories
        base = self.base(req)
        url = f"{base}{req.path}"
        last = start + limit >= len(hs)
        body: dict[str, Any] = {"self": f"{url}?startAt={start}&maxResults={limit}"}
        if not last:
            body["nextPage"] = f"{url}?&startAt={start + limit}&maxResults={limit}"
        body |= {
            "maxResults": limit,
            "startAt": start,
            "total": len(hs),
            "isLast": last,
            "values": [history_json(base, issue, h, False) for h in hs[start : start + limit]],
        }
        return json_response(200, body)

    def bulkfetch(self, req: Request) -> Response:
        try:
            body = json.loads(req.body or b"{}")
        except ValueError:
            return errors(400, "Unexpected character in the request body.")
        ids = body.get("issueIdsOrKeys") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not 1 <= len(ids) <= 1000:
            return errors(400, "issueIdsOrKeys must contain between 1 and 1000 issue ids or keys.")
        unknown = set(body) - {"issueIdsOrKeys", "fieldIds", "maxResults", "nextPageToken"}
        if unknown:
            return errors(400, f'Unrecognized field "{sorted(unknown)[0]}"')
        field_ids = body.get("fieldIds") or []
        if len(field_ids) > 10:
            return errors(400, "fieldIds must contain at most 10 field ids.")
        limit = body.get("maxResults") or 1000
        if not isinstance(limit, int) or not 1 <= limit <= 10000:
            return errors(400, "maxResults must be between 1 and 10000.")
        token = _decode_token(body.get("nextPageToken"))
        if body.get("nextPageToken") and token is None:
            return errors(400, "Invalid nextPageToken.")
        wanted = frozenset(field_ids) if field_ids else None
        store = self.state.jira
        entries = []
        seen: set[int] = set()
        for ref in ids:
            issue = store.lookup(str(ref))
            if issue is None or issue.id in seen:
                continue
            seen.add(issue.id)
            for h in issue.histories:
                if wanted is None or any(item[1] in wanted for item in h[3]):
                    entries.append((h[1], issue.id, h))
        entries.sort(key=lambda e: (e[0], e[1], e[2][0]))
        start = token.get("o", 0) if token else 0
        chunk = entries[start : start + limit]
        base = self.base(req)
        grouped: dict[int, list[dict[str, Any]]] = {}
        for _, iid, h in chunk:
            grouped.setdefault(iid, []).append(
                history_json(
                    base, store.issues[iid], h, False, self.state.bulkfetch_epoch_created, wanted
                )
            )
        out: dict[str, Any] = {
            "issueChangeLogs": [
                {"issueId": str(i), "changeHistories": v} for i, v in grouped.items()
            ]
        }
        if start + limit < len(entries):
            out["nextPageToken"] = _encode_token({"o": start + limit})
        return json_response(200, out)


def _order_key(issue: Issue, name: str) -> Any:
    if name == "key":
        proj, _, num = issue.key.partition("-")
        return (proj, int(num))
    if name == "priority":
        return issue.priority
    if name == "project":
        return cat.PROJECTS[issue.project].key
    return getattr(issue, name)


def _keyset_order(parsed: ParsedJql) -> bool:
    return parsed.order in ([("updated", False)], [("updated", False), ("id", False)])


def _encode_token(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def _decode_token(token: Any) -> dict[str, Any] | None:
    if not token or not isinstance(token, str):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        return None
    return data if isinstance(data, dict) else None


FIELDS: list[dict[str, Any]] = [
    {
        "id": f,
        "key": f,
        "name": f.capitalize(),
        "custom": False,
        "orderable": True,
        "navigable": True,
        "searchable": True,
        "clauseNames": [f],
    }
    for f in NAVIGABLE
] + [
    {
        "id": "customfield_10020",
        "key": "customfield_10020",
        "name": "Sprint",
        "custom": True,
        "orderable": True,
        "navigable": True,
        "searchable": True,
        "clauseNames": ["Sprint", "cf[10020]"],
        "schema": {
            "type": "array",
            "items": "json",
            "custom": "com.pyxis.greenhopper.jira:gh-sprint",
            "customId": 10020,
        },
    },
    {
        "id": "issuelinks",
        "key": "issuelinks",
        "name": "Linked Issues",
        "custom": False,
        "orderable": True,
        "navigable": True,
        "searchable": True,
        "clauseNames": ["issuelinks"],
        "schema": {"type": "array", "items": "issuelinks", "system": "issuelinks"},
    },
    {
        "id": cat.FLAGGED_FIELD_ID,
        "key": cat.FLAGGED_FIELD_ID,
        "name": "Flagged",
        "custom": True,
        "orderable": True,
        "navigable": True,
        "searchable": True,
        "clauseNames": ["Flagged", "cf[10021]"],
        "schema": {
            "type": "array",
            "items": "option",
            "custom": "com.atlassian.jira.plugin.system.customfieldtypes:multicheckboxes",
            "customId": 10021,
        },
    },
    {
        "id": cat.TEAM_FIELD_ID,
        "key": cat.TEAM_FIELD_ID,
        "name": "Team",
        "custom": True,
        "orderable": True,
        "navigable": True,
        "searchable": True,
        "clauseNames": ["Team", "cf[10001]"],
        "schema": {
            "type": "team",
            "custom": "com.atlassian.jira.plugin.system.customfieldtypes:atlassian-team",
            "customId": 10001,
        },
    },
    {
        "id": "customfield_10016",
        "key": "customfield_10016",
        "name": "Story point estimate",
        "custom": True,
        "orderable": True,
        "navigable": True,
        "searchable": True,
        "clauseNames": ["Story point estimate", "cf[10016]"],
        "schema": {
            "type": "number",
            "custom": "com.pyxis.greenhopper.jira:jsw-story-points",
            "customId": 10016,
        },
    },
]
