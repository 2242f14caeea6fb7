"""A warehouse file for the command-line tests: bootstrapped, with one metrics table made by
`create_sql`, and FLOW_CONFIG pointing at a flow.yaml that names it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from warehouse.db import bootstrap


def make_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, create_sql: str) -> Path:
    path = tmp_path / "flow.duckdb"
    con = duckdb.connect(str(path))
    bootstrap(con)
    con.execute(create_sql)
    con.close()
    config = tmp_path / "flow.yaml"
    config.write_text(f"warehouse: {path}\n")
    monkeypatch.setenv("FLOW_CONFIG", str(config))
    return path
