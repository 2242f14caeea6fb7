"""Raw layer assets: extract each source and land its payloads unchanged in DuckDB.

One asset per source stream. A source whose environment variables are absent is skipped with
one clear log line (and a `skipped` note in the metadata), so the rest of the graph still runs.
"""

from collections.abc import Callable

import dagster as dg

from connectors.http import RetryPolicy
from connectors.result import SourceError, SyncResult
from models.vocabulary import SERVICENOW_TABLES
from pipelines.assets.common import (
    ProgressLogger,
    SyncRunConfig,
    result_warnings,
    run_started_at,
    stream_metadata,
)
from pipelines.instance import WAREHOUSE_POOL
from pipelines.resources import (
    FlowConfigResource,
    JiraResource,
    ServiceNowResource,
    WarehouseResource,
)

JIRA_SKIPPED = (
    "JIRA skipped: set JIRA_URL and JIRA_EMAIL + JIRA_API_TOKEN (Cloud) or JIRA_PAT (Data Center)"
)
SERVICENOW_SKIPPED = (
    "ServiceNow skipped: set SERVICENOW_URL, SERVICENOW_USER and SERVICENOW_PASSWORD"
)


def _sync(
    context: dg.AssetExecutionContext,
    config: SyncRunConfig,
    flow_config: FlowConfigResource,
    warehouse: WarehouseResource,
    name: str,
    sync: Callable[..., SyncResult],
    settings: object,
) -> tuple[SyncResult, dict[str, dg.MetadataValue]]:
    """Run one connector into the warehouse; a source failure becomes a clear step failure.
    Returns the result and the streams' last progress lines (for the materializations)."""
    cfg = flow_config.load()
    progress = ProgressLogger(context)
    with warehouse.connect(cfg) as con:
        try:
            result = sync(
                con,
                settings,
                cfg,
                full=config.full,
                run_started_at=run_started_at(context),
                progress=progress,
                # the run's wait budget and deadline (sync.max_wait_minutes, deadline_minutes)
                policy=RetryPolicy.for_run(cfg.sync.max_wait_minutes, cfg.sync.deadline_minutes),
            )
        except SourceError as exc:
            raise dg.Failure(description=f"{name} sync failed: {exc}") from None
        finally:
            progress.finish()
    result_warnings(result, context)
    return result, progress.metadata()


@dg.asset(
    key=["raw", "jira_issues"],
    group_name="raw",
    kinds={"jira", "duckdb"},
    pool=WAREHOUSE_POOL,
    description=(
        "One row per JIRA issue (latest version, keyed by issue id) in raw.jira_issues, with "
        "its complete status history in raw.jira_status_changes (one row per status change) "
        "and the status catalogue in raw.jira_statuses. Incremental by `updated`."
    ),
)
def jira_issues(
    context: dg.AssetExecutionContext,
    config: SyncRunConfig,
    flow_config: FlowConfigResource,
    warehouse: WarehouseResource,
    jira: JiraResource,
) -> dg.MaterializeResult:
    from connectors.jira import sync_jira

    settings = jira.settings()
    if settings is None:
        context.log.info(JIRA_SKIPPED)
        return dg.MaterializeResult(metadata={"skipped": JIRA_SKIPPED})
    result, progress = _sync(context, config, flow_config, warehouse, "JIRA", sync_jira, settings)
    (stream,) = result.streams
    return dg.MaterializeResult(
        metadata={**stream_metadata(stream), "run": result.run_id, **progress}
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["raw", f"servicenow_{table}"],
            group_name="raw",
            kinds={"servicenow", "duckdb"},
            description=(
                f"One row per ServiceNow {table} record (latest version, keyed by sys_id) in "
                f"raw.servicenow_records, with its complete state history in "
                f"raw.servicenow_state_changes (one row per state change, from sys_audit). "
                f"Incremental by sys_updated_on."
            ),
        )
        for table in SERVICENOW_TABLES
    ],
    pool=WAREHOUSE_POOL,
    name="servicenow_records",
)
def servicenow_records(
    context: dg.AssetExecutionContext,
    config: SyncRunConfig,
    flow_config: FlowConfigResource,
    warehouse: WarehouseResource,
    servicenow: ServiceNowResource,
):
    from connectors.servicenow import sync_servicenow

    settings = servicenow.settings()
    if settings is None:
        context.log.info(SERVICENOW_SKIPPED)
        for table in SERVICENOW_TABLES:
            yield dg.MaterializeResult(
                asset_key=["raw", f"servicenow_{table}"], metadata={"skipped": SERVICENOW_SKIPPED}
            )
        return
    result, progress = _sync(
        context, config, flow_config, warehouse, "ServiceNow", sync_servicenow, settings
    )
    by_table = {s.stream: s for s in result.streams}
    for table in SERVICENOW_TABLES:
        stream = by_table.get(table)
        metadata = (
            {
                **stream_metadata(stream),
                "run": result.run_id,
                **{k: v for k, v in progress.items() if k.endswith(f"/{table}")},
            }
            if stream
            else {"skipped": f"{table} is not listed in sources.servicenow.tables"}
        )
        yield dg.MaterializeResult(asset_key=["raw", f"servicenow_{table}"], metadata=metadata)


RAW_ASSETS = [jira_issues, servicenow_records]
