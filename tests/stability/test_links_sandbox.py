"""Links against the sandbox, through the real clients: a fresh sync builds all four link
kinds and the two metrics; after time travel the incremental sync brings tonight's links."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from connectors.http import RetryPolicy
from connectors.jira import JiraSettings, sync_jira
from connectors.servicenow import ServiceNowSettings, sync_servicenow
from models.config import load_demo_config
from sandbox import Sandbox
from warehouse.build import build_core, build_metrics
from warehouse.db import bootstrap

pytestmark = pytest.mark.slow

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(sleep=lambda s: None)


def _sync_and_build(con, sb, cfg) -> None:
    run_at = sb.now
    sync_jira(con, JiraSettings.from_env(sb.env), cfg, run_started_at=run_at, policy=POLICY)
    sync_servicenow(
        con, ServiceNowSettings.from_env(sb.env), cfg, run_started_at=run_at, policy=POLICY
    )
    build_core(con, cfg, run_at)
    build_metrics(con, cfg, run_at)


def test_fresh_sync_then_time_travel_brings_the_links():
    cfg = load_demo_config()
    con = duckdb.connect(":memory:")
    con.execute("set timezone = 'UTC'")
    bootstrap(con)
    with Sandbox(seed=7, size=300, mode="cloud", now=NOW) as sb:
        _sync_and_build(con, sb, cfg)
        kinds = dict(
            con.execute("select kind, count(*) from core.item_links group by kind").fetchall()
        )
        assert set(kinds) == {"caused_by", "problem", "parent", "implements"}, kinds
        # the three ways a change names its issues: a field, the text, not at all
        vias = dict(
            con.execute(
                "select via, count(distinct from_item) from core.item_links"
                " where kind = 'implements' group by via"
            ).fetchall()
        )
        assert vias.get("correlation_id", 0) > 0 and vias.get("short_description", 0) > 0
        unnamed = con.execute(
            "select count(*) from core.work_items where source_type = 'change_request'"
            " and item_id not in (select from_item from core.item_links)"
        ).fetchone()[0]
        assert unnamed > 0
        # problems with several incidents
        assert (
            con.execute(
                "select max(n) from (select count(*) as n from core.item_links"
                " where kind = 'problem' group by to_item)"
            ).fetchone()[0]
            >= 2
        )
        # every caused_by names a change done before the incident was opened (sandbox rule)
        assert (
            con.execute(
                "select count(*) from core.item_links l join core.work_items i"
                " on i.item_id = l.from_item join core.work_items c on c.item_id = l.to_item"
                " where l.kind = 'caused_by' and not (c.done_at < i.created_at)"
            ).fetchone()[0]
            == 0
        )
        failed = con.execute(
            "select sum(failed_changes), sum(changes_done)"
            " from metrics.stability where value_stream = 'all'"
        ).fetchone()
        assert 0 < failed[0] < failed[1]
        delivered = con.execute(
            "select items from metrics.delivery where value_stream = 'all'"
        ).fetchone()[0]
        assert delivered > 0
        # nothing of the sandbox points outside the demo's scope
        outside = con.execute(
            "select count(*) from core.link_references"
            " where target_item is null and not target_landed"
        ).fetchone()[0]
        assert outside == 0

        report = sb.advance(days=1.0, change_fraction=0.02)["servicenow"]["links"]
        _sync_and_build(con, sb, cfg)
        modes = {
            r[0]
            for r in con.execute(
                "select mode from raw.sync_runs where status = 'success'"
                " and started_at = (select max(started_at) from raw.sync_runs)"
            ).fetchall()
        }
        assert modes == {"incremental"}
        for number in report["caused_by_backfilled"]:
            assert (
                con.execute(
                    "select count(*) from core.item_links where kind = 'caused_by'"
                    " and from_item = ?",
                    [f"servicenow:{number}"],
                ).fetchone()[0]
                == 1
            )
        assert report["caused_by_backfilled"] and report["changes_created"]
        new = [f"servicenow:{n}" for n in report["changes_created"]]
        assert con.execute(
            "select count(*) from core.work_items where item_id in ?", [new]
        ).fetchone()[0] == len(new)
    con.close()
