"""A ServiceNow scan's size (X-Total-Count of its first page) reaches the progress meter, so
the terminal and the Dagster log can show an ETA (connectors/progress.py)."""

from __future__ import annotations

from connectors.progress import ProgressMeter, StreamProgress
from connectors.servicenow import land, sync_servicenow
from tests.connectors.servicenow.snow_fake import NOW, incident


def test_servicenow_reports_the_scans_total_for_an_eta(con, cfg, settings, fake, policy):
    fake.tables["incident"] = [incident(i, "2024-03-01 10:00:00") for i in range(1200)]
    shown: list[StreamProgress] = []
    meter = ProgressMeter(shown.append, every_s=0.0)
    sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy, progress=meter)
    pages = [s for s in shown if s.stream == "incident" and s.message.startswith("page")]
    assert [(s.done, s.total) for s in pages] == [(500, 1200), (1000, 1200), (1200, 1200)]


def test_a_sync_runs_under_the_sync_memory_limit_and_restores_the_connections(
    con, cfg, settings, fake, policy, monkeypatch
):
    """connectors/run.bounded_memory: DuckDB caches what it writes up to its limit, so a sync
    runs under FLOW_SYNC_MEMORY_LIMIT (default 64 MiB for ServiceNow) and the build's limit
    comes back after."""
    fake.tables["incident"] = [incident(i, "2024-03-01 10:00:00") for i in range(10)]
    con.execute("set memory_limit = '1000MiB'")  # (a round MiB figure reads back exactly)
    before = con.execute("select current_setting('memory_limit')").fetchone()[0]
    monkeypatch.setenv("FLOW_SYNC_MEMORY_LIMIT", "96MB")
    during = _limits_while_landing(monkeypatch)
    sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    after = con.execute("select current_setting('memory_limit')").fetchone()[0]
    # DuckDB reports sizes in MiB: 96MB = 96e6 / 2**20 = 91.55 -> "91.5 MiB"
    assert set(during) == {"91.5 MiB"} and after == before
    assert during  # records and sys_audit rows landed under it


def test_a_servicenow_sync_runs_under_64_mib_unless_told_otherwise(
    con, cfg, settings, fake, policy, monkeypatch
):
    """ServiceNow's own default (connectors/servicenow/sync.py): half the scaffold's 128 MiB,
    measured lower in memory and no higher in CPU at 100k and 1M incidents."""
    fake.tables["incident"] = [incident(i, "2024-03-01 10:00:00") for i in range(10)]
    monkeypatch.delenv("FLOW_SYNC_MEMORY_LIMIT", raising=False)
    during = _limits_while_landing(monkeypatch)
    sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert during and set(during) == {"64.0 MiB"}


def test_the_sync_memory_limit_does_not_grow_with_the_warehouse(con, monkeypatch):
    """Flat memory (issue #15): with no primary-key index on the big raw tables (schema v2)
    nothing DuckDB must hold grows with them, so neither does the sync's limit: 128 MiB at an
    empty warehouse and at 10,000 more raw rows, unless FLOW_SYNC_MEMORY_LIMIT sets it."""
    from connectors.run import sync_memory_limit

    monkeypatch.delenv("FLOW_SYNC_MEMORY_LIMIT", raising=False)
    assert sync_memory_limit() == "128MiB"
    con.execute(
        "insert into raw.servicenow_records (sys_id, table_name, number, updated_at, payload,"
        " synced_at) select 's' || range, 'incident', 'INC' || range, now(), '{}', now()"
        " from range(10000)"
    )
    assert sync_memory_limit() == "128MiB"
    monkeypatch.setenv("FLOW_SYNC_MEMORY_LIMIT", "1GB")
    assert sync_memory_limit() == "1GB"
    assert sync_memory_limit("64MiB") == "1GB"  # the setting wins over a connector's default
    monkeypatch.delenv("FLOW_SYNC_MEMORY_LIMIT")
    assert sync_memory_limit("64MiB") == "64MiB"


def _limits_while_landing(monkeypatch) -> list[str]:
    """DuckDB's memory limit as each batch lands, read inside the run on its connection."""
    during: list[str] = []
    real_upsert = land.upsert_latest

    def upsert(con_, *args, **kwargs):
        during.append(con_.execute("select current_setting('memory_limit')").fetchall()[0][0])
        return real_upsert(con_, *args, **kwargs)

    monkeypatch.setattr(land, "upsert_latest", upsert)
    return during
