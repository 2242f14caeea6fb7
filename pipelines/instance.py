"""The persistent Dagster instance that `flowmetrics sync` records its runs in.

`dagster dev` and `flowmetrics sync` must share one instance so runs, materializations and check
results started from the command show up in the UI: both use `$DAGSTER_HOME`, which defaults to
`./.dagster_home` and is given the repository's instance settings (`dagster.yaml`) on first use.
"""

from __future__ import annotations

import os
from pathlib import Path

INSTANCE_YAML = """\
# Dagster instance settings for flowmetrics (copied into $DAGSTER_HOME by `flowmetrics`).
# Local storage (SQLite under $DAGSTER_HOME), no telemetry, and one concurrency pool for every
# DuckDB writer with limit 1: DuckDB allows a single writing process per file.
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
# Runs started from the UI (or the schedule) are not tagged for `flowmetrics`' own reaper: the
# daemon that `dagster dev` runs watches them instead. One that never starts fails after 3
# minutes; one still going after 24 hours (the next night is due) is canceled; a cancel not
# acknowledged in 3 minutes (a dead process) is marked canceled anyway; and a pool slot still
# held a minute after its run ended is freed.
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  cancel_timeout_seconds: 180
  max_runtime_seconds: 86400
  poll_interval_seconds: 120
  free_slots_after_run_end_seconds: 60
"""

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
