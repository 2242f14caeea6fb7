"""The persistent Dagster instance that `flowmetrics sync` records its runs in.

`dagster dev` and `flowmetrics sync` must share one instance so runs, materializations and check
results started from the command show up in the UI: both use `$DAGSTER_HOME`, which defaults to
`./.dagster_home` and is given the instance settings (`pipelines/dagster.yaml`, the one copy:
the repository root's `dagster.yaml` links to it) on first use.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

#: The instance settings written into a new $DAGSTER_HOME (packaged with `pipelines`).
INSTANCE_YAML = resources.files("pipelines").joinpath("dagster.yaml").read_text(encoding="utf-8")

#: The pool every DuckDB-writing asset uses.
WAREHOUSE_POOL = "duckdb_warehouse"


def ensure_dagster_home(default: str | os.PathLike[str] = ".dagster_home") -> Path:
    """Resolve `$DAGSTER_HOME` (setting it when absent) and give it a dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or default).resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    settings = home / "dagster.yaml"
    if not settings.exists():
        settings.write_text(INSTANCE_YAML, encoding="utf-8")
    return home
