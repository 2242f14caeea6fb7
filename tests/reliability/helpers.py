"""Shared helpers of the reliability suite: a config, a direct sync+build, warehouse snapshots.

Imported as `tests.reliability.helpers` (pytest runs with --import-mode=importlib).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from connectors.http import RetryPolicy
from connectors.jira import JiraSettings, sync_jira
from connectors.servicenow import ServiceNowSettings, sync_servicenow
from models.config import FlowConfig, parse_yaml, resolved_as_of
from warehouse.build import build_core, build_metrics
from warehouse.db import bootstrap, connect

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

CONFIG = """
as_of: null
window_days: 120
period: week
sources:
  servicenow: {tables: [incident, change_request, problem]}
sync: {census_days: 0}
stages: [Backlog, Analysis, Development, Review, Test, Triage, Restore, Done]
fallback_stages: {new: Backlog, indeterminate: Development, done: Done}
statuses:
  jira:
    "Open": {stage: Backlog, kind: wait}
    "In Progress": {stage: Development, kind: active}
    "Ready for Review": {stage: Review, kind: wait}
    "In Review": {stage: Review, kind: active}
    "Testing": {stage: Test, kind: active}
    "Done": {stage: Done, kind: done}
    "Won't Do": {stage: Done, kind: dropped}
  servicenow:
    incident:
      "1": {stage: Triage, kind: wait}
      "2": {stage: Restore, kind: active}
      "3": {stage: Restore, kind: wait}
value_streams:
  - {name: Payments, jira: {projects: [PAY]}, servicenow: {assignment_groups: [Payments Ops]}}
  - {name: Web, jira: {projects: [WEB]}, servicenow: {assignment_groups: [Web Ops]}}
targets:
  lead_time_p95_days: 30
  unplanned_ratio_max: 0.5
"""

#: Columns that record *when* or *by which run* something was written, not what was read.
BOOKKEEPING = frozenset(
    {
        "synced_at",
        "run_id",
        "seen_at",
        "last_success_at",
        "last_full_at",
        "last_census_at",
        "applied_at",
        "built_at",
        "counted_by",
    }
)
#: Tables that are a log of runs (they differ by design between a clean and a faulted run).
RUN_LOGS = frozenset({"raw.sync_runs", "raw.schema_version", "raw.source_counts"})


def config(extra: str = "", *, page_size: int = 1000) -> FlowConfig:
    text = CONFIG.replace("census_days: 0}", f"census_days: 0, page_size: {page_size}}}")
    return parse_yaml(text + extra, "<reliability>")


def fast_policy(sleeps: list[float] | None = None) -> RetryPolicy:
    """The production policy, except that waits are recorded instead of slept."""
    record = sleeps.append if sleeps is not None else (lambda s: None)
    return RetryPolicy(sleep=record, max_total_wait_s=10_000)


def sync_and_build(
    db: Path,
    env: Mapping[str, str],
    cfg: FlowConfig,
    started: datetime,
    *,
    full: bool = False,
    policy: RetryPolicy | None = None,
) -> dict[str, Any]:
    """What the nightly job does, without Dagster: sync both sources, rebuild core + metrics."""
    con = connect(db)
    try:
        bootstrap(con)
        jira = sync_jira(
            con,
            JiraSettings.from_env(env),
            cfg,
            full=full,
            run_started_at=started,
            policy=policy or fast_policy(),
        )
        snow = sync_servicenow(
            con,
            ServiceNowSettings.from_env(env),
            cfg,
            full=full,
            run_started_at=started,
            policy=policy or fast_policy(),
        )
        as_of = resolved_as_of(cfg, started)
        build_core(con, cfg, as_of)
        build_metrics(con, cfg, as_of)
    finally:
        con.close()
    return {"jira": jira, "servicenow": snow}


def _norm(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, list):
        return tuple(_norm(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _norm(v)) for k, v in value.items()))
    return value


def _sort_key(row: tuple) -> tuple[str, str]:
    """Rounded floats first (stable across last-bit differences), then the exact row (so the
    order never depends on the order DuckDB returned the rows in)."""
    return repr(tuple(round(v, 6) if isinstance(v, float) else v for v in row)), repr(row)


def same_rows(a: list[tuple] | None, b: list[tuple] | None) -> bool:
    """Two snapshots of one table hold the same rows (floats within 1e-9)."""
    if a is None or b is None:
        return a is b
    return _close(tuple(a), tuple(b))


def _close(a: Any, b: Any) -> bool:
    """Equal, floats within 1e-9 relative (DuckDB sums in parallel: last-bit differences)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def snapshot(
    db: Path | str, schemas: tuple[str, ...] = ("raw", "core", "metrics")
) -> dict[str, list[tuple]]:
    """Every table as sorted rows, bookkeeping columns and run logs left out."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_schema in (select unnest(?::varchar[])) order by 1, 2",
            [list(schemas)],
        ).fetchall()
        out: dict[str, list[tuple]] = {}
        for schema, table in tables:
            name = f"{schema}.{table}"
            if name in RUN_LOGS:
                continue
            cols = [
                r[0] for r in con.execute(f"describe {name}").fetchall() if r[0] not in BOOKKEEPING
            ]
            select = ", ".join(f'"{c}"' for c in cols)
            rows = con.execute(f"select {select} from {name}").fetchall()
            out[name] = sorted((tuple(_norm(v) for v in r) for r in rows), key=_sort_key)
        return out
    finally:
        con.close()


def assert_same_warehouse(got: dict[str, list[tuple]], want: dict[str, list[tuple]]) -> None:
    """Table by table, row by row; the message names the table and the first differing rows."""
    assert sorted(got) == sorted(want), "different table sets"
    for name in sorted(want):
        if not _close(tuple(got[name]), tuple(want[name])):
            extra = [r for r in got[name] if r not in want[name]][:3]
            missing = [r for r in want[name] if r not in got[name]][:3]
            raise AssertionError(
                f"{name}: {len(got[name])} rows vs {len(want[name])} clean; "
                f"unexpected {extra}; missing {missing}"
            )


def job_env(tmp: Path, sb_env: Mapping[str, str], config_text: str = CONFIG) -> dict[str, str]:
    """Environment for a nightly job in `tmp`: config, warehouse, exports, Dagster home."""
    cfg = tmp / "flow.yaml"
    cfg.write_text(config_text)
    env = {
        "FLOW_CONFIG": str(cfg),
        "FLOW_WAREHOUSE": str(tmp / "flow.duckdb"),
        "FLOW_EXPORT_DIR": str(tmp / "exports"),
        "DAGSTER_HOME": str(tmp / "dagster_home"),
        **sb_env,
    }
    (tmp / "dagster_home").mkdir(exist_ok=True)
    return env


def run_job_subprocess(
    env: Mapping[str, str],
    clock: datetime,
    *,
    full: bool = False,
    extra_env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """The nightly job in a child process (so it can be SIGKILLed like a real one)."""
    code = (
        "import sys; from datetime import datetime;"
        "from tests.reliability.crashhook import install_from_env; install_from_env();"
        "from flowmetrics.runner import run_nightly;"
        f"o = run_nightly(full={full!r}, clock=datetime.fromisoformat({clock.isoformat()!r}));"
        "print('failures', o.failures); sys.exit(0 if o.success else 1)"
    )
    child_env = {**os.environ, **env, **(extra_env or {})}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextmanager
def environ(env: Mapping[str, str]) -> Iterator[None]:
    """Set variables for an in-process run (module-scoped fixtures cannot use monkeypatch)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_job(env: Mapping[str, str], clock: datetime, *, full: bool = False):
    """The nightly job in this process (Dagster's own execution, persistent instance)."""
    from flowmetrics.runner import run_nightly

    with environ(env):
        return run_nightly(full=full, clock=clock)
