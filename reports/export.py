"""CSV exports of the `metrics` schema, and the one-page report, for leadership.

One CSV per table in schema `metrics`, named `<table>.csv`. The files are opened by people in
Excel or Google Sheets, so the conventions favour them over a machine round trip (see
`docs/report.md`): ISO-8601 UTC timestamps with an explicit offset, lists joined with "; ",
NULL as an empty cell, and text that a spreadsheet would run as a formula prefixed with an
apostrophe (OWASP "CSV injection"). Titles and status names are typed by users, so a title
such as `=HYPERLINK(...)` must not become a live link in a manager's spreadsheet.

Every file is written to a temporary name in the target folder and renamed over the old one,
so a reader (a BI tool polling the folder, a person double-clicking) never sees half a file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from models.vocabulary import TARGET_ORDER
from reports.report import render_report
from warehouse import registry
from warehouse.build import METRICS_TABLES  # the contract's tables, in build order
from warehouse.catalog import quote_ident, table_columns

#: The natural key of each table, in sort order, from its SQL file's `-- sort:` line
#: (`warehouse.registry`). `value_stream` and `flow_type` sort the organisation-wide row ('all')
#: first; a table without a sort line falls back to all of its columns.
NATURAL_KEYS: dict[str, tuple[str, ...]] = {m.table: m.sort_keys for m in registry.models()}

#: `core` tables whose SQL header asks for a CSV (`-- export: true`), e.g. blocked stretches.
EXPORTED_CORE_TABLES: tuple[str, ...] = tuple(
    m.table for m in registry.models() if m.schema == "core" and m.exported
)

#: Leading characters that make Excel, LibreOffice or Sheets evaluate a cell (OWASP).
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")

LIST_SEPARATOR = "; "
REPORT_NAME = "report.html"


def metrics_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Tables and views in schema `metrics`: the contract's tables first, then any others."""
    names = [
        row[0]
        for row in con.execute(
            "select table_name from information_schema.tables"
            " where table_schema = 'metrics' and table_catalog = current_database()"
        ).fetchall()
    ]
    known = [t for t in METRICS_TABLES if t in names]
    return known + sorted(t for t in names if t not in METRICS_TABLES)


def _order_by(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str]) -> str:
    """A deterministic ORDER BY: natural key first, every other column as the tie-break."""
    keys = [c for c in NATURAL_KEYS.get(table, ()) if c in columns]
    has_vsm = "stage_order" in table_columns(con, "metrics", "value_stream_map")
    terms: list[str] = []
    for col in keys:
        q = quote_ident(col)
        if col in ("value_stream", "flow_type"):
            terms.append(f"({q} <> 'all') nulls last")
        elif col == "target":
            cases = " ".join(f"when '{t}' then {i}" for i, t in enumerate(TARGET_ORDER))
            terms.append(f"(case {q} {cases} else {len(TARGET_ORDER)} end)")
        elif col == "stage" and "stage_order" not in columns and has_vsm:
            # rework has no stage_order: borrow it from the map so stages read in flow order.
            terms.append(
                "(select min(m.stage_order) from metrics.value_stream_map m"
                " where m.stage = t.stage) nulls last"
            )
        terms.append(f"{q} nulls last")
    terms += [f"{quote_ident(c)} nulls last" for c in columns if c not in keys]
    return ", ".join(terms)


def fetch_table(
    con: duckdb.DuckDBPyConnection, table: str, schema: str = "metrics"
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """All rows of `<schema>.<table>` in natural-key order, with the column names."""
    columns = table_columns(con, schema, table)
    if not columns:
        raise LookupError(f"{schema}.{table} does not exist")
    select = ", ".join(f"t.{quote_ident(c)}" for c in columns)
    sql = (
        f"select {select} from {quote_ident(schema)}.{quote_ident(table)} t"  # noqa: S608 - catalog names, quoted
        f" order by {_order_by(con, table, columns)}"
    )
    return columns, con.execute(sql).fetchall()


def iso_utc(value: datetime) -> str:
    """ISO-8601 in UTC with the offset; a naive timestamp is taken to be UTC already."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def neutralise(text: str) -> str:
    """Prefix an apostrophe to text a spreadsheet would run as a formula (OWASP)."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _plain(value: Any) -> str:
    """One value as text, before formula neutralisation (used inside lists too)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return LIST_SEPARATOR.join(_plain(v) for v in value if v is not None)
    if isinstance(value, dict):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def csv_cell(value: Any) -> str:
    """One cell: numbers, booleans and timestamps as they are; text made spreadsheet-safe."""
    if value is None or isinstance(value, bool | int | float | Decimal | datetime | date | time):
        return _plain(value)
    return neutralise(_plain(value))


@contextmanager
def atomic_writer(path: Path, *, newline: str | None = None) -> Iterator[io.TextIOWrapper]:
    """Write to a temporary file next to `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_csv(
    con: duckdb.DuckDBPyConnection, table: str, path: Path, schema: str = "metrics"
) -> Path:
    """Export `<schema>.<table>` to `path` (atomically)."""
    columns, rows = fetch_table(con, table, schema)
    with atomic_writer(path, newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([csv_cell(v) for v in row] for row in rows)
    return path


@contextmanager
def read_snapshot(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor reading in one transaction, so every file describes the same build.

    The cursor has its own transaction context: a build committing meanwhile (the nightly
    asset) is not seen half-way, and the caller's connection is left as it was.
    """
    cur = con.cursor()
    try:
        cur.execute("begin transaction")
        yield cur
    finally:
        try:
            cur.execute("rollback")
        finally:
            cur.close()


def _write_csvs(con: duckdb.DuckDBPyConnection, out: Path) -> dict[str, Path]:
    paths = {t: write_csv(con, t, out / f"{t}.csv") for t in metrics_tables(con)}
    for table in EXPORTED_CORE_TABLES:
        if table not in paths and table_columns(con, "core", table):
            paths[table] = write_csv(con, table, out / f"{table}.csv", "core")
    return paths


def write_csvs(con: duckdb.DuckDBPyConnection, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """One CSV per table in schema `metrics` (and per exported core table); name -> path."""
    with read_snapshot(con) as cur:
        return _write_csvs(cur, Path(out_dir))


def _write_report(con: duckdb.DuckDBPyConnection, path: Path, title: str) -> Path:
    page = render_report(con, title=title)
    with atomic_writer(path) as fh:
        fh.write(page)
    return path


def write_report(
    con: duckdb.DuckDBPyConnection, path: str | os.PathLike[str], title: str = "Flow metrics"
) -> Path:
    """Render the HTML report to `path` (atomically)."""
    with read_snapshot(con) as cur:
        return _write_report(cur, Path(path), title)


def export_all(
    con: duckdb.DuckDBPyConnection,
    out_dir: str | os.PathLike[str],
    title: str = "Flow metrics",
) -> dict[str, Path]:
    """CSVs and `report.html` from one consistent read; returns name -> path.

    Keys are the table names, plus "report" for the HTML page.
    """
    out = Path(out_dir)
    with read_snapshot(con) as cur:
        paths = _write_csvs(cur, out)
        paths["report"] = _write_report(cur, out / REPORT_NAME, title)
    return paths


__all__ = [
    "METRICS_TABLES",
    "csv_cell",
    "export_all",
    "fetch_table",
    "metrics_tables",
    "neutralise",
    "write_csvs",
    "write_report",
]
