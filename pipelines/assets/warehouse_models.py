"""Core and metrics assets: one asset per warehouse table, built from its packaged SQL file.

Dependencies are read from the SQL itself (every `core.x` / `metrics.x` / `raw.x` it mentions),
so the asset graph in the UI is exactly the data flow, and adding a model is adding a file.
Each asset rebuilds its table in one transaction: a reader never sees half a table.
"""

from datetime import datetime

import dagster as dg

from connectors.backfill import incomplete
from models.config import resolved_as_of
from models.vocabulary import SERVICENOW_TABLES
from pipelines.assets.common import run_started_at
from pipelines.instance import WAREHOUSE_POOL
from pipelines.resources import FlowConfigResource, WarehouseResource
from warehouse import registry
from warehouse.build import CORE_TABLES, METRICS_TABLES, build_one
from warehouse.params import write_build_params

_SERVICENOW_ASSETS = [["raw", f"servicenow_{t}"] for t in SERVICENOW_TABLES]

#: raw tables -> the raw assets that fill them.
RAW_TABLE_ASSETS: dict[str, list[list[str]]] = {
    "jira_issues": [["raw", "jira_issues"]],
    "jira_status_changes": [["raw", "jira_issues"]],
    "jira_statuses": [["raw", "jira_issues"]],
    "servicenow_records": _SERVICENOW_ASSETS,
    "servicenow_state_changes": _SERVICENOW_ASSETS,
    "servicenow_choices": _SERVICENOW_ASSETS,
    "servicenow_groups": _SERVICENOW_ASSETS,
    "jira_field_changes": [["raw", "jira_issues"]],
    "jira_fields": [["raw", "jira_issues"]],
    "servicenow_field_changes": _SERVICENOW_ASSETS,
}

#: Tables written by the `core/build_params` asset (config + status catalogue).
PARAM_TABLES = frozenset(
    {
        "build_settings",
        "stages",
        "value_streams",
        "status_map",
        "value_stream_rules",
        "flow_type_rules",
        "targets",
        "forecast_settings",
        "handoff_settings",
        "link_settings",
    }
)


def referenced(schema: str, table: str) -> set[tuple[str, str]]:
    """(schema, table) pairs a model's SQL reads, itself excluded (from `warehouse.registry`)."""
    return set(registry.model(schema, table).reads)


def _deps(schema: str, table: str) -> list[dg.AssetKey]:
    keys: set[tuple[str, ...]] = set()
    for ref_schema, ref_table in referenced(schema, table):
        if ref_schema == "raw":
            keys.update(tuple(k) for k in RAW_TABLE_ASSETS.get(ref_table, []))
        elif ref_schema == "core" and ref_table in PARAM_TABLES:
            keys.add(("core", "build_params"))
        else:
            keys.add((ref_schema, ref_table))
    keys.add(("core", "build_params"))
    return [dg.AssetKey(list(k)) for k in sorted(keys)]


@dg.asset(
    key=["core", "build_params"],
    group_name="core",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    deps=[dg.AssetKey(k) for ks in RAW_TABLE_ASSETS.values() for k in ks],
    description=(
        "The build's parameters: core.build_settings (one row: as_of, window, period), "
        "core.stages (one row per stage), core.status_map (one row per raw status: stage, kind, "
        "whether a default chose it), the value-stream and flow-type rules, core.targets and "
        "core.forecast_settings (one row: the Monte Carlo's history, horizons, trials, seed)."
    ),
)
def build_params(
    context: dg.AssetExecutionContext,
    flow_config: FlowConfigResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    cfg = flow_config.load()
    as_of: datetime = resolved_as_of(cfg, run_started_at(context))
    with warehouse.connect(cfg) as con:
        refuse_incomplete_backfill(con)
        write_build_params(con, cfg, as_of)
        statuses, defaults = con.execute(
            "select count(*), count(*) filter (where is_default) from core.status_map"
        ).fetchone()
    context.log.info(f"building as of {as_of.isoformat()}")
    return dg.MaterializeResult(
        metadata={
            "as_of": as_of.isoformat(),
            "window_days": cfg.window_days,
            "period": cfg.period,
            "statuses": dg.MetadataValue.int(statuses),
            "defaulted_statuses": dg.MetadataValue.int(defaults),
        }
    )


def refuse_incomplete_backfill(con) -> None:
    """`core` and `metrics` are built from a complete raw layer only: while a backfill is under
    way (raw.backfill_state, connectors/backfill.py) this first core step fails, so every core
    and metrics table stays as it was after the last complete sync (docs/reliability.md)."""
    under_way = incomplete(con)
    if under_way:
        what = "; ".join(
            f"{b.source}: {b.chunks} chunks, {b.rows_landed} rows landed so far" for b in under_way
        )
        raise dg.Failure(
            description=(
                f"a backfill is not complete yet ({what}); core and metrics stay as they were "
                "until it is: run `flowmetrics sync` again to resume it"
            )
        )


def _model_asset(schema: str, table: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=[schema, table],
        group_name=schema,
        kinds={"duckdb", "sql"},
        pool=WAREHOUSE_POOL,
        deps=_deps(schema, table),
        description=registry.model(schema, table).description,
    )
    def _build(
        context: dg.AssetExecutionContext,
        flow_config: FlowConfigResource,
        warehouse: WarehouseResource,
    ) -> dg.MaterializeResult:
        cfg = flow_config.load()
        with warehouse.connect(cfg) as con:
            rows = build_one(con, schema, table)
            metadata: dict[str, object] = {"rows": dg.MetadataValue.int(rows)}
            metadata.update(preview_metadata(con, schema, table))
        return dg.MaterializeResult(metadata=metadata)

    return _build


def preview_metadata(con, schema: str, table: str) -> dict[str, dg.MetadataValue]:
    """Markdown previews for the tables leaders look at first."""
    previews = {
        ("metrics", "value_stream_map"): (
            "select value_stream, stage_order, stage, items_visited,"
            " round(lead_time_days, 2) as lead_time_days,"
            " round(process_time_days, 2) as process_time_days,"
            " round(pct_complete_accurate, 3) as pct_complete_accurate"
            " from metrics.value_stream_map order by value_stream, stage_order limit 60"
        ),
        ("metrics", "scorecard"): (
            "select value_stream, target, target_value, round(actual_value, 3) as actual_value,"
            " met, round(gap, 3) as gap from metrics.scorecard order by value_stream, target"
        ),
        ("metrics", "value_stream_summary"): (
            "select * from metrics.value_stream_summary order by value_stream"
        ),
        # The CFD's last day (as_of's): where the WIP sits now, stage by stage.
        ("metrics", "daily_flow"): (
            "select value_stream, day, stage_order, stage, items, entered from metrics.daily_flow"
            " where day = (select max(day) from metrics.daily_flow)"
            " order by value_stream <> 'all', value_stream, stage_order limit 60"
        ),
        # The oldest open items first: what is ageing now.
        ("metrics", "aging_wip"): (
            "select item_id, value_stream, stage, status, round(age_days, 1) as age_days,"
            " round(stage_age_days, 1) as stage_age_days, round(sle_days, 1) as sle_days,"
            " over_sle from metrics.aging_wip order by age_days desc, item_id limit 25"
        ),
        ("metrics", "flow_trends"): (
            "select period_start, items_done, round(lead_time_p50_days, 2) as lead_p50,"
            " round(lead_time_p85_days, 2) as lead_p85,"
            " round(flow_efficiency, 3) as flow_efficiency, wip_at_end,"
            " round(mean_wip_age_days, 1) as mean_wip_age_days"
            " from metrics.flow_trends where value_stream = 'all'"
            " order by period_start desc limit 12"
        ),
        ("metrics", "forecast"): (
            "select value_stream, horizon_days, items_p50, items_p85, items_p95, wip,"
            " wip_done_days_p50, wip_done_days_p85, wip_done_days_p95 from metrics.forecast"
            " order by value_stream <> 'all', value_stream, horizon_days nulls last"
        ),
        # links found per kind and field, and those pointing outside the warehouse (the
        # links_outside_scope check warns when many do)
        ("core", "item_links"): (
            "select kind, via, count(*) filter (where target_item is not null) as links,"
            " count(*) filter (where target_item is null and not target_landed)"
            " as outside_warehouse from core.link_references group by all order by all"
        ),
        ("metrics", "stability"): (
            "select value_stream, strftime(period_start, '%Y-%m-%d') as period, changes_done,"
            " failed_changes,"
            " round(change_failure_rate, 3) as change_failure_rate, incidents_restored,"
            " round(time_to_restore_p50_days, 2) as restore_p50_days,"
            " array_to_string(failed_change_keys, ', ') as failed_changes_named"
            " from metrics.stability where value_stream = 'all' and changes_done > 0"
            " order by period_start desc limit 12"
        ),
        ("metrics", "delivery"): (
            "select value_stream, items, round(idea_to_production_p50_days, 1) as idea_p50,"
            " round(idea_to_production_p85_days, 1) as idea_p85,"
            " round(done_to_production_p50_days, 1) as done_to_prod_p50,"
            " round(done_to_production_p85_days, 1) as done_to_prod_p85"
            " from metrics.delivery order by value_stream"
        ),
    }
    sql = previews.get((schema, table))
    if sql is None:
        return {}
    frame = con.execute(sql).df()
    return {
        "preview": dg.MetadataValue.md(
            frame.to_markdown(index=False) if not frame.empty else "_empty_"
        )
    }


CORE_ASSETS = [build_params] + [_model_asset("core", t) for t in CORE_TABLES]
METRICS_ASSETS = [_model_asset("metrics", t) for t in METRICS_TABLES]
