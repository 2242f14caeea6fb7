"""The Dagster code location: `dagster dev` from the repository root loads `defs`."""

from __future__ import annotations

import dagster as dg

from pipelines.assets.exports import EXPORT_ASSETS
from pipelines.assets.raw import RAW_ASSETS
from pipelines.assets.warehouse_models import CORE_ASSETS, METRICS_ASSETS
from pipelines.checks import ASSET_CHECKS
from pipelines.jobs import nightly_job, nightly_schedule
from pipelines.resources import build_resources, read_config


def build_definitions() -> dg.Definitions:
    schedule_cfg = read_config(None).schedule
    job = nightly_job()
    return dg.Definitions(
        assets=[*RAW_ASSETS, *CORE_ASSETS, *METRICS_ASSETS, *EXPORT_ASSETS],
        asset_checks=ASSET_CHECKS,
        jobs=[job],
        schedules=[nightly_schedule(job, schedule_cfg.cron, schedule_cfg.timezone)],
        resources=build_resources(),
    )


defs = build_definitions()
