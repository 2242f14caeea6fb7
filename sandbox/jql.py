"""A JQL subset: enough of the grammar a sync connector sends, with JIRA's failure modes.

Supports ``AND``/``OR``/``NOT``/parentheses, ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``,
``in``/``not in`` on project, key, id, status, issuetype, labels, component, created and
updated, plus ``ORDER BY`` (at most 7 fields). Date values may be epoch milliseconds,
relative offsets (``-1d``) or quoted ``"yyyy-MM-dd HH:mm"`` literals, which - like the real
thing - are read in the *API user's* time zone at minute precision.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from sandbox import catalogue as cat
from sandbox.clock import API_USER_TZ, jql_literal_to_ms
from sandbox.store import Issue

_TOKEN = re.compile(
    r'\s*(?:("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(!=|>=|<=|!~|=|>|<|~)'
    r'|([(),])|([^\s(),=!<>~"\']+))'
)
MAX_ORDER_FIELDS = 7
DATE_FIELDS = ("updated", "created")
FIELDS = (
    "project",
    "key",
    "issuekey",
    "id",
    "status",
    "issuetype",
    "type",
    "labels",
    "component",
    "updated",
    "created",
)
ORDER_FIELDS = ("updated", "created", "id", "key", "issuekey", "priority", "status", "project")
_RELATIVE = re.compile(r"^([+-]?\d+)([wdhm])$")
_UNIT_MS = {"w": 604_800_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000}

Predicate = Callable[[Issue], bool]


class JqlError(ValueError):
    """A 400 from the search endpoint; the message goes into ``errorMessages``."""


@dataclass
class ParsedJql:
    predicate: Predicate | None
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    updated_lo: int | None = None  # inclusive bound usable for bisecting
    updated_hi: int | None = None  # exclusive


@dataclass
class _Bounds:
    lo: int | None = None
    hi: int | None = None


def tokenize(text: str) -> list[str]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise JqlError(
                f"Error in the JQL Query: The character '{text[pos]}' is a reserved "
                f"JQL character. (line 1, character {pos + 1})"
            )
        tokens.append(next(g for g in m.groups() if g is not None))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, text: str, now_ms: int, tz: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.now_ms = now_ms
        self.tz = tz
        self.bounds = _Bounds()

    def peek(self, offset: int = 0) -> str | None:
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise JqlError(
                f"Error in the JQL Query: Expecting either a value, list or function "
                f"but got 'EOF'. The invalid query was '{self.text}'"
            )
        self.pos += 1
        return tok

    def at_kw(self, *words: str) -> bool:
        return all((self.peek(i) or "").lower() == w for i, w in enumerate(words))

    def parse(self) -> ParsedJql:
        pred: Predicate | None = None
        if self.peek() is not None and not self.at_kw("order", "by"):
            pred = self.or_expr(top=True)
        order: list[tuple[str, bool]] = []
        if self.at_kw("order", "by"):
            self.pos += 2
            order = self.order_by()
        if self.peek() is not None:
            raise JqlError(
                f"Error in the JQL Query: Expecting either 'OR' or 'AND' but got '{self.peek()}'."
            )
        return ParsedJql(pred, order, self.bounds.lo, self.bounds.hi)

    def order_by(self) -> list[tuple[str, bool]]:
        order = []
        while True:
            name = self.take().lower()
            if name not in ORDER_FIELDS:
                raise JqlError(f"Not able to sort using field '{name}'.")
            desc = False
            if (self.peek() or "").lower() in ("asc", "desc"):
                desc = self.take().lower() == "desc"
            order.append(("key" if name == "issuekey" else name, desc))
            if self.peek() != ",":
                break
            self.pos += 1
        if len(order) > MAX_ORDER_FIELDS:
            raise JqlError(f"The ORDER BY clause can contain at most {MAX_ORDER_FIELDS} fields.")
        return order

    def or_expr(self, top: bool = False) -> Predicate:
        parts = [self.and_expr(top)]
        while self.at_kw("or"):
            self.pos += 1
            parts.append(self.and_expr(False))
        if len(parts) > 1 and top:
            self.bounds = _Bounds()  # an OR at the top level voids bisectable bounds
        return parts[0] if len(parts) == 1 else (lambda i: any(p(i) for p in parts))

    def and_expr(self, top: bool) -> Predicate:
        parts = [self.unary(top)]
        while self.at_kw("and"):
            self.pos += 1
            parts.append(self.unary(top))
        return parts[0] if len(parts) == 1 else (lambda i: all(p(i) for p in parts))

    def unary(self, top: bool) -> Predicate:
        if self.at_kw("not"):
            self.pos += 1
            inner = self.unary(False)
            return lambda i: not inner(i)
        if self.peek() == "(":
            self.pos += 1
            inner = self.or_expr(False)
            if self.take() != ")":
                raise JqlError("Error in the JQL Query: Expecting ')'.")
            return inner
        return self.clause(top)

    def clause(self, top: bool) -> Predicate:
        name = _unquote(self.take()).lower()
        if name not in FIELDS:
            raise JqlError(
                f"Field '{name}' does not exist or you do not have permission to view it."
            )
        op = self.take().lower()
        if op == "not" and self.at_kw("in"):
            self.pos += 1
            op = "not in"
        if op in ("in", "not in"):
            values = self.value_list()
            pred = self.membership(name, values)
            return pred if op == "in" else (lambda i: not pred(i))
        if op not in ("=", "!=", ">", ">=", "<", "<="):
            raise JqlError(
                f"Error in the JQL Query: Expecting operator but got '{op}'. The "
                f"invalid query was '{self.text}'"
            )
        raw = self.take()
        if name in DATE_FIELDS:
            return self.date_clause(name, op, self.date_value(raw), top)
        if op in ("=", "!="):
            pred = self.membership(name, [_unquote(raw)])
            return pred if op == "=" else (lambda i: not pred(i))
        if name == "id":
            v = int(_unquote(raw))
            return {
                ">": lambda i: i.id > v,
                ">=": lambda i: i.id >= v,
                "<": lambda i: i.id < v,
                "<=": lambda i: i.id <= v,
            }[op]
        raise JqlError(f"The operator '{op}' is not supported by the '{name}' field.")

    def value_list(self) -> list[str]:
        if self.take() != "(":
            raise JqlError("Error in the JQL Query: Expecting '(' after 'in'.")
        values = []
        while True:
            values.append(_unquote(self.take()))
            sep = self.take()
            if sep == ")":
                return values
            if sep != ",":
                raise JqlError(f"Error in the JQL Query: Expecting ',' or ')' but got '{sep}'.")

    def membership(self, name: str, values: list[str]) -> Predicate:
        wanted = {v.lower() for v in values}
        if name == "project":
            known = (
                {p.key.lower() for p in cat.PROJECTS}
                | {p.name.lower() for p in cat.PROJECTS}
                | {p.id for p in cat.PROJECTS}
            )
            for v in values:
                if v.lower() not in known:
                    raise JqlError(f"The value '{v}' does not exist for the field 'project'.")
            idx = {
                i
                for i, p in enumerate(cat.PROJECTS)
                if {p.key.lower(), p.name.lower(), p.id} & wanted
            }
            return lambda i: i.project in idx
        if name in ("key", "issuekey"):
            return lambda i: i.key.lower() in wanted or any(k.lower() in wanted for k in i.old_keys)
        if name == "id":
            ids = {int(v) for v in values if v.isdigit()}
            return lambda i: i.id in ids
        if name == "status":
            return lambda i: i.status.lower() in wanted or cat.STATUS_BY_NAME[i.status].id in wanted
        if name in ("issuetype", "type"):
            return lambda i: i.itype.lower() in wanted
        if name == "labels":
            return lambda i: any(label.lower() in wanted for label in i.labels)
        return lambda i: any(c.lower() in wanted for c in i.components)

    def date_value(self, raw: str) -> int:
        text = _unquote(raw)
        if re.fullmatch(r"\d+", text):
            return int(text)
        m = _RELATIVE.match(text)
        if m:
            return self.now_ms + int(m.group(1)) * _UNIT_MS[m.group(2)]
        if text.lower() in ("now()", "now"):
            return self.now_ms
        try:
            return jql_literal_to_ms(text, self.tz)
        except ValueError:
            raise JqlError(
                f"Date value '{text}' for field 'updated' is invalid. Valid formats include: "
                "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a "
                "period format e.g. '-5d', '4w 2d'."
            ) from None

    def date_clause(self, name: str, op: str, v: int, top: bool) -> Predicate:
        if name == "updated" and top:
            lo, hi = self.bounds.lo, self.bounds.hi
            if op in (">=", ">", "="):
                self.bounds.lo = v if lo is None else max(lo, v)
            if op in ("<", "<=", "="):
                end = v + 1 if op in ("<=", "=") else v
                self.bounds.hi = end if hi is None else min(hi, end)
        attr = name
        return {
            "=": lambda i: getattr(i, attr) == v,
            "!=": lambda i: getattr(i, attr) != v,
            ">": lambda i: getattr(i, attr) > v,
            ">=": lambda i: getattr(i, attr) >= v,
            "<": lambda i: getattr(i, attr) < v,
            "<=": lambda i: getattr(i, attr) <= v,
        }[op]


def _unquote(tok: str) -> str:
    if len(tok) >= 2 and tok[0] == tok[-1] and tok[0] in "\"'":
        return re.sub(r"\\(.)", r"\1", tok[1:-1])
    return tok


def parse_jql(text: str, now_ms: int, tz: str = API_USER_TZ) -> ParsedJql:
    """Parse JQL; raise :class:`JqlError` with JIRA's wording on anything it would reject."""
    return _Parser(text or "", now_ms, tz).parse()
