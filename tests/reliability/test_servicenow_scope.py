"""docs/contract.md §4: `is_deleted` also means "left the configured scope", flagged by the first sync
after it. A ServiceNow record leaves `sources.servicenow.query` by an update (it is resolved,
reassigned, ...), so it is in tonight's window -- only the scoped query no longer returns it.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb

from connectors.servicenow import ServiceNowSettings, sync_servicenow
from sandbox import Sandbox
from tests.connectors.servicenow.snow_fake import make_cfg
from tests.reliability.helpers import NOW, fast_policy
from warehouse.db import bootstrap

TABLES = ["incident", "change_request", "problem"]


def _sync(con, sb, cfg, *, full=False):
    return sync_servicenow(
        con,
        ServiceNowSettings.from_env(sb.env),
        cfg,
        full=full,
        run_started_at=sb.now + timedelta(minutes=2),
        policy=fast_policy(),
    )


def _live(con) -> set[str]:
    return {
        r[0]
        for r in con.execute(
            "select sys_id from raw.servicenow_records where not is_deleted"
        ).fetchall()
    }


def test_a_record_leaving_the_scope_is_flagged_by_the_next_sync(tmp_path) -> None:
    nightly = duckdb.connect(str(tmp_path / "nightly.duckdb"))
    bootstrap(nightly)
    cfg = make_cfg(TABLES, query="active=true")
    with Sandbox(seed=9, size=200, mode="cloud", now=NOW) as sb:
        _sync(nightly, sb, cfg, full=True)
        stored = _live(nightly)
        sb.advance(days=1, change_fraction=0.1)  # open incidents resolved, closed, ...
        result = _sync(nightly, sb, cfg)
        full = duckdb.connect(str(tmp_path / "full.duckdb"))
        bootstrap(full)
        _sync(full, sb, cfg, full=True)
    left = stored - _live(full) - {d["documentkey"] for d in sb.truth.servicenow_deleted()}
    assert left, "no record left the scope: the test proves nothing"
    assert _live(nightly) == _live(full)  # what a full re-sync of the scope holds
    assert sum(s.deleted for s in result.streams) >= len(left)
    nightly.close()
    full.close()


def test_left_scope_scan_reads_ids_only_and_spares_quarantined_records(tmp_path) -> None:
    """Through the real pysnow client (`responses`): the scope-free scan asks only `sys_id`
    and `sys_updated_on` of tonight's window; a record quarantined tonight is still in scope,
    so its stored copy is not flagged; a full sync never runs the scan."""
    import responses

    from connectors.http import RetryPolicy
    from tests.connectors.servicenow import snow_fake as sf

    con = duckdb.connect(str(tmp_path / "flow.duckdb"))
    bootstrap(con)
    settings = ServiceNowSettings.from_env(
        {"SERVICENOW_URL": sf.BASE, "SERVICENOW_USER": sf.USER, "SERVICENOW_PASSWORD": sf.PASSWORD}
    )
    cfg = make_cfg(["incident"], query="active=true")
    policy = RetryPolicy(sleep=lambda s: None)
    fake = sf.FakeInstance()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps)
        fake.tables["incident"] = [sf.incident(n, "2024-03-01 10:00:00") for n in (1, 2, 3)]
        sync_servicenow(con, settings, cfg, run_started_at=sf.NOW, policy=policy)
        assert all("^active=true" in r.query for r in fake.table_requests("incident"))
        fake.requests.clear()
        fake.tables["incident"] = [
            sf.incident(1, "2024-03-11 09:00:00", state="6", active="false"),  # resolved
            sf.incident(2, "2024-03-11 09:30:00"),  # still open
            {**sf.incident(3, "2024-03-11 10:00:00"), "number": ""},  # malformed
        ]
        result = sync_servicenow(
            con, settings, cfg, run_started_at=sf.NOW + timedelta(days=1), policy=policy
        )
    flags = dict(con.execute("select number, is_deleted from raw.servicenow_records").fetchall())
    assert flags == {"INC0000001": True, "INC0000002": False, "INC0000003": False}
    assert result.streams[0].deleted == 1 and result.streams[0].quarantined == 1
    unscoped = [r for r in fake.table_requests("incident") if "active=true" not in r.query]
    assert len(unscoped) == 1
    assert unscoped[0].params["sysparm_fields"] == "sys_id,sys_updated_on"
    con.close()
