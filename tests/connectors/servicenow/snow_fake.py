"""A tiny ServiceNow Table API behind `responses`, for tests through the real pysnow client.

It evaluates the encoded queries the connector sends (`^`, `^NQ`, `=`, `!=`, `>`, `>=`, `<`,
`IN`, `ORDERBY`) over in-memory rows, applies `sysparm_fields`/`sysparm_limit`/
`sysparm_offset`, sends `X-Total-Count` when `sysparm_no_count=false`, answers 401/403 like an instance, and lets a test reshape pages (ACL short
pages, `{}` rows) or change data between requests (a record updated mid-scan).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses

from models.config import FlowConfig, parse_config

BASE = "https://acme.service-now.com"
NOW = datetime(2024, 3, 10, 12, 0, 0, tzinfo=UTC)
USER = "sync.bot"
PASSWORD = "s3cret-Pa55"

Row = dict[str, Any]
_OPS = ("IN", ">=", "<=", "!=", "=", ">", "<")
_COND = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)(IN|>=|<=|!=|=|>|<)(.*)$")


@dataclass
class Request:
    table: str
    params: dict[str, str]

    @property
    def query(self) -> str:
        return self.params.get("sysparm_query", "")


@dataclass
class FakeInstance:
    base: str = BASE
    tables: dict[str, list[Row]] = field(default_factory=dict)
    forbidden: set[str] = field(default_factory=set)
    #: tables the instance does not serve at all (404, like a missing plugin or a simulator)
    missing: set[str] = field(default_factory=set)
    requests: list[Request] = field(default_factory=list)
    #: (table, page rows, request) -> rows actually returned (ACL simulation)
    shape: Callable[[str, list[Row], Request], list[Row]] | None = None
    #: called after each answered request (mutate data mid-scan)
    after_request: Callable[[Request], None] | None = None
    #: fields whose conditions the instance "does not know" (dropped silently)
    ignored_fields: set[str] = field(default_factory=set)
    #: queued (status, headers, body) answers that pre-empt the normal one
    queued: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)
    #: answer `sysparm_no_count=false` with X-Total-Count (the query's pre-ACL row count)
    count_header: bool = True
    #: a careless proxy/simulator: X-Total-Count is the size of the page, not of the query
    count_is_page_size: bool = False

    def install(self, rsps: responses.RequestsMock) -> None:
        rsps.add_callback(
            responses.GET,
            re.compile(re.escape(self.base) + r"/api/now/table/\w+"),
            callback=self._handle,
        )

    def table_requests(self, table: str) -> list[Request]:
        return [r for r in self.requests if r.table == table]

    # -- request handling ---------------------------------------------------------------------
    def _handle(self, prepared: Any) -> tuple[int, dict[str, str], str]:
        parts = urlsplit(prepared.url)
        table = parts.path.rsplit("/", 1)[-1]
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        req = Request(table, params)
        self.requests.append(req)
        headers = {"Content-Type": "application/json;charset=UTF-8"}
        if self.queued:
            status, extra, body = self.queued.pop(0)
            return status, {**headers, **extra}, json.dumps(body)
        if not _authorised(prepared.headers.get("Authorization", "")):
            return (
                401,
                headers,
                json.dumps(
                    {
                        "error": {
                            "message": "User Not Authenticated",
                            "detail": "Required to provide Auth information",
                        },
                        "status": "failure",
                    }
                ),
            )
        if table in self.missing:
            return (
                404,
                headers,
                json.dumps(
                    {"error": {"message": "No such table", "detail": table}, "status": "failure"}
                ),
            )
        if table in self.forbidden:
            return (
                403,
                headers,
                json.dumps(
                    {
                        "error": {
                            "message": "User Not Authorized",
                            "detail": "ACL Exception Read Failed due to security constraints",
                        },
                        "status": "failure",
                    }
                ),
            )
        rows, total = self._select(table, req)
        if self.count_header and req.params.get("sysparm_no_count") == "false":
            # counted before ACLs (shape), like an instance
            headers["X-Total-Count"] = str(len(rows) if self.count_is_page_size else total)
        if self.shape is not None:
            rows = self.shape(table, rows, req)
        if self.after_request is not None:
            self.after_request(req)
        return 200, headers, json.dumps({"result": rows})

    def select(self, table: str, req: Request) -> list[Row]:
        return self._select(table, req)[0]

    def _select(self, table: str, req: Request) -> tuple[list[Row], int]:
        """(the page, the number of rows the query matches before offset and limit)."""
        groups, order = _parse(req.query)
        rows = [r for r in self.tables.get(table, []) if _match(r, groups, self.ignored_fields)]
        for f in reversed(order):
            rows.sort(key=lambda r, f=f: str(r.get(f, "")))
        offset = int(req.params.get("sysparm_offset") or 0)
        limit = int(req.params.get("sysparm_limit") or 10000)
        page = rows[offset : offset + limit]
        wanted = [f for f in (req.params.get("sysparm_fields") or "").split(",") if f]
        if wanted:
            page = [{f: r[f] for f in wanted if f in r} for r in page]
        return [dict(r) for r in page], len(rows)


def _authorised(header: str) -> bool:
    if not header.startswith("Basic "):
        return False
    user, _, pwd = base64.b64decode(header[6:]).decode().partition(":")
    return user == USER and pwd == PASSWORD


def _parse(query: str) -> tuple[list[list[tuple[str, str, str]]], list[str]]:
    groups: list[list[tuple[str, str, str]]] = []
    order: list[str] = []
    for text in query.split("^NQ") if query else []:
        conds = []
        for part in text.split("^"):
            if part.startswith("ORDERBY"):
                order.append(part[7:])
                continue
            m = _COND.match(part)
            if m:
                conds.append((m.group(1), m.group(2), m.group(3)))
        groups.append(conds)
    return groups, order


def _value(row: Row, name: str) -> str:
    v = row.get(name, "")
    if isinstance(v, dict):
        v = v.get("value", "")
    return str(v)


def _match(row: Row, groups: list[list[tuple[str, str, str]]], ignored: set[str]) -> bool:
    if not groups:
        return True
    for conds in groups:
        ok = True
        for name, op, want in conds:
            if name in ignored:
                continue
            have = _value(row, name)
            hit = {
                "IN": lambda h, w: h in w.split(","),
                "=": lambda h, w: h == w,
                "!=": lambda h, w: h != w,
                ">": lambda h, w: h > w,
                ">=": lambda h, w: h >= w,
                "<": lambda h, w: h < w,
                "<=": lambda h, w: h <= w,
            }[op](have, want)
            if not hit:
                ok = False
                break
        if ok:
            return True
    return False


def sys_id(n: int, prefix: str = "a") -> str:
    """A 32-char hex-looking sys_id whose order follows n."""
    return f"{prefix}{n:031x}"


def incident(n: int, updated: str, state: str = "2", **extra: Any) -> Row:
    row: Row = {
        "sys_id": sys_id(n),
        "number": f"INC{n:07d}",
        "short_description": f"incident {n}",
        "state": state,
        "incident_state": state,
        "priority": "3",
        "category": "network",
        "assignment_group": "",
        "opened_at": "2024-01-01 08:00:00",
        "sys_created_on": "2024-01-01 08:00:00",
        "sys_updated_on": updated,
        "sys_mod_count": "1",
        "active": "true",
    }
    row.update(extra)
    return row


def audit(
    n: int,
    doc: str,
    at: str,
    old: str,
    new: str,
    checkpoint: int,
    fieldname: str = "state",
    table: str = "incident",
) -> Row:
    return {
        "sys_id": sys_id(n, "f"),
        "tablename": table,
        "documentkey": doc,
        "fieldname": fieldname,
        "oldvalue": old,
        "newvalue": new,
        "record_checkpoint": str(checkpoint),
        "user": "itil.user",
        "reason": "",
        "sys_created_on": at,
    }


def make_cfg(tables: list[str] | None = None, query: str = "", page_size: int = 500) -> FlowConfig:
    return parse_config(
        {
            "sources": {"servicenow": {"tables": tables or ["incident"], "query": query}},
            "sync": {"page_size": page_size, "overlap_minutes": 10, "lag_minutes": 1},
        }
    )
