"""docs/contract.md §6 "Flow over time" in Dagster: the four tables are assets with their grain, deps,
previews and checks (the forecast included, though a Python step computes its rows)."""

from __future__ import annotations

import dagster as dg

from pipelines.assets.warehouse_models import preview_metadata
from tests.warehouse.wh_timeline import (
    JIRA_STATUSES,
    add_issue,
    add_jira_statuses,
    build,
    config,
    new_warehouse,
)

TABLES = ("daily_flow", "aging_wip", "flow_trends", "forecast")


def graph():
    from pipelines.definitions import build_definitions

    return build_definitions().resolve_asset_graph()


def test_assets_with_grain_and_deps() -> None:
    g = graph()

    def parents(table: str) -> set[str]:
        return {p.to_user_string() for p in g.get(dg.AssetKey(["metrics", table])).parent_keys}

    for table in TABLES:
        node = g.get(dg.AssetKey(["metrics", table]))
        assert node.description.startswith("One row per"), table
        assert "core/build_params" in parents(table)
    assert {"core/status_intervals", "core/work_items"} <= parents("daily_flow")
    assert {"metrics/lead_time", "metrics/item_flow", "core/status_intervals"} <= parents(
        "aging_wip"
    )
    assert {"metrics/flow_distribution", "metrics/item_flow"} <= parents("flow_trends")
    # The forecast's deps come from its input SELECT (forecast.sql) like every other table's.
    assert {"metrics/item_flow", "metrics/value_stream_summary"} <= parents("forecast")
    exports = {
        p.to_user_string() for p in g.get(dg.AssetKey(["exports", "leadership_pack"])).parent_keys
    }
    assert {f"metrics/{t}" for t in TABLES} <= exports


def test_checks_hang_on_the_new_tables() -> None:
    by_name = {c.name: c.asset_key.to_user_string() for c in graph().asset_check_keys}
    assert by_name["daily_flow_matches_wip"] == "metrics/daily_flow"
    assert by_name["forecast_percentiles_ordered"] == "metrics/forecast"
    assert by_name["flow_trends_percentiles_ordered"] == "metrics/flow_trends"
    assert by_name["flow_over_time_ratios_in_range"] in {"metrics/flow_trends", "metrics/aging_wip"}


def test_previews_show_the_tables() -> None:
    con = new_warehouse()
    add_jira_statuses(con, JIRA_STATUSES)
    add_issue(con, "PAY-1", 0, [(1, "1", "3"), (3, "3", "10")])
    add_issue(con, "PAY-2", 1, [(2, "1", "3")])
    build(con, config("window_days: 10\nforecast: {trials: 100}"), 5.5)
    for table in TABLES:
        md = preview_metadata(con, "metrics", table)["preview"].value
        assert md.startswith("|"), table
    assert "PAY-2" in preview_metadata(con, "metrics", "aging_wip")["preview"].value
    con.close()
