"""`flowmetrics sql`: one read-only query over the warehouse, in a locked-down DuckDB.

Why more than `read_only=True`: a read-only connection still lets a query write files
(`COPY (…) TO '/any/path'`, `EXPORT DATABASE` dumps every raw payload), read any file the user
can (`read_text('/etc/passwd')`), download and load extensions (`INSTALL httpfs`), change
settings (`SET`), attach other databases, and run several statements from one string.
So the connection is opened with DuckDB's external access and extension autoloading/installing
off and its configuration locked, and the text must parse (with DuckDB's own parser, not a
split on ';') to exactly one SELECT-like statement (SELECT, WITH, FROM-first, VALUES, DESCRIBE,
SHOW, SUMMARIZE, PIVOT with an IN list) or EXPLAIN.

Spilling still works: the temp directory is set before the configuration is locked, to a
private folder made for the one query under the system temp dir (`TMPDIR`) and removed after.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from warehouse.db import connect

#: What a query may be: DuckDB parses DESCRIBE/SHOW/SUMMARIZE/VALUES/FROM-first as SELECT.
ALLOWED = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})

#: Why each refused kind is refused, in words a user can act on.
_REFUSED = {
    duckdb.StatementType.COPY: "COPY writes or reads files; use `--csv` and redirect stdout",
    duckdb.StatementType.COPY_DATABASE: "COPY FROM DATABASE writes another database",
    duckdb.StatementType.EXPORT: "EXPORT DATABASE writes files; use `flowmetrics export`",
    duckdb.StatementType.LOAD: "INSTALL and LOAD of extensions are not available here",
    duckdb.StatementType.EXTENSION: "extension statements are not available here",
    duckdb.StatementType.SET: "SET, RESET and USE change the session; settings are fixed here",
    duckdb.StatementType.VARIABLE_SET: "SET VARIABLE changes the session",
    duckdb.StatementType.ATTACH: "ATTACH opens other databases; only the warehouse is readable",
    duckdb.StatementType.DETACH: "DETACH changes which databases are open",
    duckdb.StatementType.PRAGMA: "PRAGMA changes or reads settings; use a SELECT",
    duckdb.StatementType.CALL: "CALL runs procedures (CHECKPOINT, pragma functions); use a SELECT",
}

#: How a kind is named to the user when DuckDB's name would puzzle (INSTALL parses as LOAD).
_LABELS = {
    duckdb.StatementType.LOAD: "INSTALL/LOAD",
    duckdb.StatementType.SET: "SET/RESET/USE",
    duckdb.StatementType.EXPORT: "EXPORT DATABASE",
    duckdb.StatementType.VARIABLE_SET: "SET VARIABLE",
}

#: Set before `lock_configuration`; DuckDB refuses them all at connect time otherwise.
SANDBOX_CONFIG = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
}


class QueryRefused(ValueError):
    """The text is not exactly one statement `flowmetrics sql` runs; the message says why."""


def check_query(text: str) -> str:
    """The one statement in `text`, or `QueryRefused` naming what is wrong.

    Raises:
        QueryRefused: no statement, several, or a kind other than SELECT/EXPLAIN.
        duckdb.ParserException: the text does not parse (the caller shows DuckDB's message).
    """
    statements = duckdb.extract_statements(text)
    if not statements:
        raise QueryRefused("no SQL statement given: pass one SELECT")
    if len(statements) > 1:
        raise QueryRefused(
            f"one statement at a time: found {len(statements)} (DuckDB's parser splits at "
            "each top-level ';'); run them one by one"
        )
    (statement,) = statements
    if statement.type not in ALLOWED:
        kind = _LABELS.get(statement.type, statement.type.name)
        why = _REFUSED.get(statement.type, "flowmetrics sql is read-only: one SELECT or EXPLAIN")
        raise QueryRefused(f"{kind} statements are refused: {why}")
    return statement.query


@contextmanager
def sandboxed(path: str | os.PathLike[str]) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the warehouse with the sandbox settings, then locked."""
    scratch = Path(tempfile.mkdtemp(prefix="flowmetrics-sql-"))
    try:
        config = {**SANDBOX_CONFIG, "temp_directory": str(scratch / "spill")}
        con = connect(path, read_only=True, config=config)
        try:
            con.execute("set lock_configuration = true")
            yield con
        finally:
            con.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
