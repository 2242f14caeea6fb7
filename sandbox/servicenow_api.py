"""The ServiceNow Table API over the simulated store.

Answers ``GET /api/now/[v2/]table/{table}[/{sys_id}]`` with the real shapes: every value a
string, references as ``{link, value}`` (or bare with ``sysparm_exclude_reference_link``),
``display_value=all`` objects, a ``Link`` header with ``prev`` offset -1 on the first page,
a pre-ACL ``X-Total-Count``, and ACL-style short pages and ``{}`` rows when faults ask.
"""

from __future__ import annotations

import base64
import itertools
import random
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from sandbox.encoded_query import compile_predicate, lower_bound, parse, to_seconds
from sandbox.snow_tables import Table, display_value
from sandbox.wire import Request, Response, json_response, truthy

USER = "admin"
PASSWORD = "sandbox-password"
DEFAULT_LIMIT = 10000

UNAUTHENTICATED = {
    "error": {
        "message": "User Not Authenticated",
        "detail": "Required to provide Auth information",
    },
    "status": "failure",
}
FORBIDDEN = {
    "error": {
        "message": "User Not Authorized",
        "detail": "ACL Exception Read Failed due to security constraints",
    },
    "status": "failure",
}


class ServiceNowApi:
    """Stateless request handler; reads the current table views from ``state``."""

    def __init__(self, state: Any) -> None:
        self.state = state  # sandbox.sandbox.SandboxState: .tables, .snow, .forbidden_tables
        self._txn = itertools.count(1)

    @staticmethod
    def endpoint(path: str) -> str:
        parts = _parts(path)
        if len(parts) >= 4 and parts[2] == "table":
            return f"snow.table.{parts[3]}"
        return "snow.other"

    def authorized(self, req: Request) -> bool:
        auth = req.headers.get("authorization", "")
        if not auth.lower().startswith("basic "):
            return False
        try:
            user, _, pwd = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == USER and pwd == PASSWORD

    def handle(
        self,
        req: Request,
        acl_short: bool = False,
        empty_rows: bool = False,
        rng: random.Random | None = None,
    ) -> Response:
        txn = [("X-Transaction-ID", f"{next(self._txn):012x}")]
        if not self.authorized(req):
            return json_response(
                401, UNAUTHENTICATED, [*txn, ("WWW-Authenticate", 'Basic realm="Service-now"')]
            )
        parts = _parts(req.path)
        if len(parts) < 4 or parts[2] != "table" or req.method != "GET":
            return json_response(
                400,
                {
                    "error": {
                        "message": "Requested URI does not represent any resource",
                        "detail": None,
                    },
                    "status": "failure",
                },
                txn,
            )
        name = parts[3]
        if name in self.state.forbidden_tables:
            return json_response(403, FORBIDDEN, txn)
        table = self.state.tables.get(name)
        if table is None:
            return json_response(
                400,
                {
                    "error": {"message": f"Invalid table {name}", "detail": None},
                    "status": "failure",
                },
                txn,
            )
        if len(parts) >= 5:
            row = table.by_id.get(parts[4])
            if row is None:
                return json_response(
                    404,
                    {
                        "error": {
                            "message": "No Record found",
                            "detail": "Record doesn't exist or ACL restricts the record retrieval",
                        },
                        "status": "failure",
                    },
                    txn,
                )
            return json_response(200, {"result": self.render(req, table, row)}, txn)
        return self.list(req, table, txn, acl_short, empty_rows, rng or random.Random(0))

    # -- listing -----------------------------------------------------------------------------
    def list(
        self,
        req: Request,
        table: Table,
        txn: list[tuple[str, str]],
        acl_short: bool,
        empty_rows: bool,
        rng: random.Random,
    ) -> Response:
        query = parse(req.arg("sysparm_query", "") or "")
        limit = _int(req.arg("sysparm_limit"), DEFAULT_LIMIT)
        offset = max(0, _int(req.arg("sysparm_offset"), 0))
        no_count = truthy(req.arg("sysparm_no_count"))
        pred = compile_predicate(query, self.getter(table))
        natural = all(
            f in (table.order_col, "sys_id") and not desc for f, desc in query.order
        ) and (not query.order or query.order[0][0] == table.order_col)
        start = 0
        bound = lower_bound(query, table.order_col)
        if bound is not None and (sec := to_seconds(bound)) is not None:
            start = table.lower_bound(sec)
        rows = table.rows
        if natural and no_count:
            page: list[Any] = []
            skipped = 0
            for row in itertools.islice(rows, start, None):
                if pred is None or pred(row):
                    if skipped < offset:
                        skipped += 1
                        continue
                    page.append(row)
                    if len(page) > limit:  # one extra row tells us a next page exists
                        break
            total = None
            has_next = len(page) > limit
            page = page[:limit]
        else:
            matched = [r for r in itertools.islice(rows, start, None) if pred is None or pred(r)]
            if not natural:
                for f, desc in reversed(query.order):
                    matched.sort(
                        key=lambda r, f=f: _sort_key(self.value(table, r, f)), reverse=desc
                    )
            total = len(matched)
            page = matched[offset : offset + limit]
            has_next = offset + limit < total
        results = [self.render(req, table, r) for r in page]
        if acl_short and len(results) > 1:
            keep = max(1, len(results) // 3)
            results = results[:keep]
        if empty_rows and results:
            for i in rng.sample(range(len(results)), max(1, len(results) // 10)):
                results[i] = {}
        headers = list(txn)
        if total is not None:
            headers.append(("X-Total-Count", str(total)))
        if not truthy(req.arg("sysparm_suppress_pagination_header")) and (has_next or offset):
            headers.append(("Link", self.link_header(req, offset, limit, total, has_next)))
        return json_response(200, {"result": results}, headers)

    def link_header(
        self, req: Request, offset: int, limit: int, total: int | None, has_next: bool
    ) -> str:
        base = f"http://{req.host}{req.path}"
        params = {k: v[-1] for k, v in req.query.items()}

        def url(off: int) -> str:
            return f"{base}?{urlencode({**params, 'sysparm_limit': limit, 'sysparm_offset': off})}"

        links = [f'<{url(0)}>;rel="first"']
        links.append(f'<{url(offset - limit if offset else -1)}>;rel="prev"')
        if has_next:
            links.append(f'<{url(offset + limit)}>;rel="next"')
        if total is not None:
            links.append(f'<{url(max(0, (total - 1) // limit * limit))}>;rel="last"')
        return ",".join(links)

    # -- values ------------------------------------------------------------------------------
    def getter(self, table: Table) -> Callable[[Any, str], str | None]:
        """`value` for a predicate: a plain column's getter called directly (a counted page
        at 1M incidents evaluates ~30M conditions), anything else through `value`."""
        columns = table.columns

        def get(row: Any, field: str) -> str | None:
            column = columns.get(field)
            return column(row) if column is not None else self.value(table, row, field)

        return get

    def value(self, table: Table, row: Any, field: str) -> str | None:
        getter = table.columns.get(field)
        if getter is not None:
            return getter(row)
        head, dot, rest = field.partition(".")
        if dot and head in table.refs:
            target = self.state.tables.get(table.refs[head])
            ref = table.columns[head](row)
            if target is None or not ref:
                return ""
            target_row = target.by_id.get(ref)
            return "" if target_row is None else (self.value(target, target_row, rest) or "")
        return None  # unknown field

    def render(self, req: Request, table: Table, row: Any) -> dict[str, Any]:
        mode = (req.arg("sysparm_display_value", "false") or "false").lower()
        exclude = truthy(req.arg("sysparm_exclude_reference_link"))
        wanted = [f.strip() for f in (req.arg("sysparm_fields") or "").split(",") if f.strip()]
        out: dict[str, Any] = {}
        host = f"http://{req.host}"
        for f in wanted or list(table.columns):
            raw = self.value(table, row, f)
            if raw is None:
                continue  # unknown field: ignored
            target = table.refs.get(f)
            disp = (
                display_value(self.state.tables, self.state.snow, table, f, raw)
                if mode != "false"
                else raw
            )
            if target and raw:
                link = f"{host}/api/now/table/{target}/{raw}"
                if mode == "false":
                    out[f] = raw if exclude else {"link": link, "value": raw}
                elif mode == "true":
                    out[f] = disp if exclude else {"display_value": disp, "link": link}
                else:
                    out[f] = (
                        {"display_value": disp, "value": raw}
                        if exclude
                        else {"display_value": disp, "link": link, "value": raw}
                    )
            elif mode == "all":
                out[f] = {"display_value": disp, "value": raw}
            else:
                out[f] = disp
        return out


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text not in (None, "") else default
    except ValueError:
        return default


def _sort_key(value: str | None) -> tuple[int, float, str]:
    v = value or ""
    try:
        return (0, float(v), v)
    except ValueError:
        return (1, 0.0, v)


def _parts(path: str) -> list[str]:
    """Path segments with the optional ``v2`` version segment removed."""
    parts = [p for p in path.split("/") if p]
    if len(parts) > 2 and parts[:3] == ["api", "now", "v2"]:
        parts = ["api", "now", *parts[3:]]
    return parts
