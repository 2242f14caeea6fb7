"""Pieces every report section shares: rows read as dicts, the "empty" and "not built" notes,
the HTML table.

Why a module of its own: the sections live in modules apart (report.py, report_blocked.py,
report_flow.py, report_stability.py) so branches adding sections do not conflict, and
report_data imports report_blocked; a leaf that imports no other report module lets all of
them share these without an import cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

Row = dict[str, Any]


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[Row]:
    """The result of `sql` as one dict per row, keyed by column name."""
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def empty(message: str) -> str:
    return f'<p class="empty">{message}</p>'


def missing_table(table: str) -> str:
    """The note for a section whose metrics table has not been built yet."""
    return empty(f"Not built yet: the table metrics.{table} does not exist.")


def absent(data: Sequence[Any] | None, table: str, message: str) -> str | None:
    """The note a card shows instead of its body: `table` not built (None) or no rows
    (`message`); None when there is something to show."""
    if data is None:
        return missing_table(table)
    if not data:
        return empty(message)
    return None


def table(headers: Sequence[tuple[str, bool]], rows: Sequence[Sequence[str]], cls: str) -> str:
    """`headers` are (label, is_numeric); cells must already be escaped/formatted."""
    head = "".join(f"<th{' class=num' if num else ''}>{h}</th>" for h, num in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=num' if num else ''}>{cell}</td>"
            for cell, (_, num) in zip(row, headers, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
