r"""The JQL the connector sends: pure functions, tested as exact strings.

Why epoch milliseconds: a JQL date literal is read in the searching account's time zone, to the
minute (docs/api-facts.md §1.7), so a UTC literal silently skips or re-reads hours of
updates. Epoch milliseconds are zone-free.

Why the scope is checked and not only wrapped in parentheses: `AND` binds tighter than `OR`,
so a scope like `X) OR (1=1` wrapped as `(X) OR (1=1) AND updated >= ...` would escape the
incremental bound and read everything. A scope whose parentheses do not balance (outside
quoted strings) is refused; a trailing `ORDER BY` in it is dropped, ours decides the order.

Why a backslash escapes outside quotes too: JQL reads `x\")` as the word `x"` followed by `)`,
so a guard that only knew escapes inside quotes could be walked past (issue #20:
`a = x\") OR (b = "\""` closes the scope's group inside it). The guard reads `\` as escaping
the next character everywhere, as JQL does, and refuses a trailing lone `\`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

ISSUE_ORDER = "ORDER BY updated ASC, id ASC"
CENSUS_ORDER = "ORDER BY id ASC"
_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)


class JqlScopeError(ValueError):
    """The configured scope (`sources.jira.jql`) cannot be combined safely."""


def epoch_ms(at: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime (naive is refused: no guessing)."""
    if at.tzinfo is None:
        raise ValueError("a naive datetime has no instant; pass an aware one")
    return int(round(at.astimezone(UTC).timestamp() * 1000))


def quote(value: str) -> str:
    """A JQL string literal: double quotes, with backslashes and quotes escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def clean_scope(scope: str | None) -> str | None:
    """The user's JQL without a trailing ORDER BY; None when empty.

    Raises:
        JqlScopeError: when parentheses or quotes do not balance, so wrapping it could change
            the meaning of what we append.
    """
    if scope is None or not scope.strip():
        return None
    depth = 0
    quote_char: str | None = None
    escaped = False
    cut: int | None = None
    for pos, ch in enumerate(scope):
        if escaped:  # the character after a backslash is literal, in quotes or not
            escaped = False
            continue
        if ch == "\\":
            escaped = True
            continue
        if quote_char:
            if ch == quote_char:
                quote_char = None
            continue
        if ch in "\"'":
            quote_char = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise JqlScopeError(
                    f"sources.jira.jql has a ')' without its '(' at character {pos + 1}: {scope!r}"
                )
        elif depth == 0 and cut is None and _ORDER_BY.match(scope, pos):
            cut = pos  # the regex's \b already refuses "xorder by" and "_order by"
    if escaped:
        raise JqlScopeError(f"sources.jira.jql ends with a lone '\\' (escaping nothing): {scope!r}")
    if quote_char:
        raise JqlScopeError(f"sources.jira.jql has an unclosed {quote_char} quote: {scope!r}")
    if depth:
        raise JqlScopeError(f"sources.jira.jql has an unclosed '(': {scope!r}")
    body = (scope[:cut] if cut is not None else scope).strip()
    return body or None


def _and(clauses: Sequence[str]) -> str:
    return " AND ".join(clauses)


def project_clause(projects: Sequence[str]) -> str | None:
    """`project in ("A", "B")` with every key quoted, or None for no restriction."""
    if not projects:
        return None
    return "project in (" + ", ".join(quote(p) for p in projects) + ")"


def build_issue_jql(
    scope: str | None,
    start: datetime | None,
    end: datetime,
    projects: Sequence[str] = (),
) -> str:
    """JQL for the issues updated in `[start, end)` within the scope, oldest update first.

    `start` None reads everything updated before `end` (a full sync); the upper bound keeps
    even a full sync bounded, which Cloud requires.
    """
    clauses: list[str] = []
    cleaned = clean_scope(scope)
    if cleaned:
        clauses.append(f"({cleaned})")
    proj = project_clause(projects)
    if proj:
        clauses.append(proj)
    if start is not None:
        clauses.append(f"updated >= {epoch_ms(start)}")
    clauses.append(f"updated < {epoch_ms(end)}")
    return f"{_and(clauses)} {ISSUE_ORDER}"


def build_census_jql(scope: str | None, before: datetime, projects: Sequence[str] = ()) -> str:
    """JQL for every issue id in scope created before `before` (the deletion census).

    Bounded by `created` because Cloud refuses an unbounded search; issues created later
    cannot be in the warehouse yet, so the bound never hides one.
    """
    clauses: list[str] = []
    cleaned = clean_scope(scope)
    if cleaned:
        clauses.append(f"({cleaned})")
    proj = project_clause(projects)
    if proj:
        clauses.append(proj)
    clauses.append(f"created < {epoch_ms(before)}")
    return f"{_and(clauses)} {CENSUS_ORDER}"
