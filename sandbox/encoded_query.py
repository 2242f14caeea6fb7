"""Parse and evaluate ServiceNow encoded queries (``sysparm_query``).

Supports ``^`` (AND), ``^OR``, ``^NQ`` (new OR group), ``ORDERBY``/``ORDERBYDESC`` and the
operators connectors actually send. Like a default instance, a condition on an unknown field
is dropped silently, which turns a mistyped filter into a broader scan (docs/api-facts.md §2.1).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

#: Longest first, so ">=" wins over ">".
OPERATORS = (
    "NOT IN",
    "NOTLIKE",
    "STARTSWITH",
    "ENDSWITH",
    "ISNOTEMPTY",
    "ISEMPTY",
    "LIKE",
    "IN",
    ">=",
    "<=",
    "!=",
    "=",
    ">",
    "<",
)
_FIELD = re.compile(r"[a-z_][a-z0-9_.]*")
_NUM = re.compile(r"-?\d+(\.\d+)?$")


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: str


@dataclass
class Query:
    """OR-groups (``^NQ``) of AND-terms, each term an OR-list of conditions (``^OR``)."""

    groups: list[list[list[Condition]]] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)


def parse(text: str) -> Query:
    query = Query()
    for group_text in text.split("^NQ") if text else []:
        terms: list[list[Condition]] = []
        for part in group_text.split("^"):
            part = part.strip()
            if not part or part == "EQ":
                continue
            if part.startswith("ORDERBYDESC"):
                query.order.append((part[11:], True))
                continue
            if part.startswith("ORDERBY"):
                query.order.append((part[7:], False))
                continue
            is_or = part.startswith("OR") and terms and _condition(part[2:]) is not None
            cond = _condition(part[2:] if is_or else part)
            if cond is None:
                continue  # unparseable parts are ignored, like the real instance
            if is_or:
                terms[-1].append(cond)
            else:
                terms.append([cond])
        query.groups.append(terms)
    return query


def _condition(part: str) -> Condition | None:
    m = _FIELD.match(part)
    if not m:
        return None
    rest = part[m.end() :]
    for op in OPERATORS:
        if rest.startswith(op):
            return Condition(m.group(0), op, rest[len(op) :])
    return None


def compare(a: str, b: str) -> int:
    """Numeric comparison when both sides are numbers (state -5 < 0), else string order."""
    if _NUM.match(a) and _NUM.match(b):
        fa, fb = float(a), float(b)
        return (fa > fb) - (fa < fb)
    return (a > b) - (a < b)


@functools.lru_cache(maxsize=256)
def _split(values: str) -> frozenset[str]:
    """An IN list as a set, parsed once per query text rather than once per row."""
    return frozenset(values.split(","))


def matches(cond: Condition, value: str) -> bool:
    op, v = cond.op, cond.value
    if op == "=":
        return value == v
    if op == "!=":
        return value != v
    if op in (">", ">=", "<", "<="):
        if value == "":
            return False
        c = compare(value, v)
        return {">": c > 0, ">=": c >= 0, "<": c < 0, "<=": c <= 0}[op]
    if op == "IN":
        return value in _split(v)
    if op == "NOT IN":
        return value not in _split(v)
    if op == "STARTSWITH":
        return value.lower().startswith(v.lower())
    if op == "ENDSWITH":
        return value.lower().endswith(v.lower())
    if op == "LIKE":
        return v.lower() in value.lower()
    if op == "NOTLIKE":
        return v.lower() not in value.lower()
    if op == "ISEMPTY":
        return value == ""
    if op == "ISNOTEMPTY":
        return value != ""
    return False


def compile_predicate(
    query: Query, getter: Callable[[object, str], str | None]
) -> Callable[[object], bool] | None:
    """Row predicate, or None when every row matches. ``getter`` returns None for unknown
    fields: such conditions are dropped (they match everything)."""
    if not query.groups:
        return None

    def pred(row: object) -> bool:
        for terms in query.groups:
            ok = True
            for alternatives in terms:
                hit = False
                for cond in alternatives:
                    value = getter(row, cond.field)
                    if value is None or matches(cond, value):
                        hit = True
                        break
                if not hit:
                    ok = False
                    break
            if ok:
                return True
        return False

    return pred


def lower_bound(query: Query, column: str) -> str | None:
    """Smallest value of ``column`` any matching row can have (for bisecting), or None."""
    bounds: list[str] = []
    for terms in query.groups:
        best: str | None = None
        for alternatives in terms:
            if (
                len(alternatives) == 1
                and alternatives[0].field == column
                and alternatives[0].op in (">", ">=", "=")
            ):
                value = alternatives[0].value
                best = value if best is None or value > best else best
        if best is None:
            return None
        bounds.append(best)
    return min(bounds) if bounds else None


def to_seconds(text: str) -> int | None:
    """Parse a raw ServiceNow date-time literal (UTC) into epoch seconds."""
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return int(datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp())
        except ValueError:
            continue
    return None
