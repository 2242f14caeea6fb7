"""The Dagster code location: `dagster dev` from the repository root loads `defs`."""

from __future__ import annotations

import dagster as dg

from models.config import FlowConfig, resolve_config
from pipelines.assets.exports import EXPORT_ASSETS
from pipelines.assets.raw import RAW_ASSETS
from pipelines.assets.warehouse_models import CORE_ASSETS, METRICS_ASSETS
from pipelines.checks import ASSET_CHECKS
from pipelines.jobs import nightly_job, nightly_schedule
from pipelines.resources import RunSetup, build_resources


def build_definitions(
    cfg: FlowConfig | None = None, setup: RunSetup | None = None
) -> dg.Definitions:
    """The code location. `cfg` (already resolved by the caller) gives the schedule; the run
    reads its own config once through the `flow_config` resource (`setup` says which)."""
    setup = setup or RunSetup()
    if cfg is None:
        cfg = resolve_config(setup.config_path, warehouse=setup.warehouse)
    schedule_cfg = cfg.schedule
    job = nightly_job()
    return dg.Definitions(
        assets=[*RAW_ASSETS, *CORE_ASSETS, *METRICS_ASSETS, *EXPORT_ASSETS],
        asset_checks=ASSET_CHECKS,
        jobs=[job],
        schedules=[nightly_schedule(job, schedule_cfg.cron, schedule_cfg.timezone)],
        resources=build_resources(setup),
    )


defs = build_definitions()
