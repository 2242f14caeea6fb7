"""The nightly job and its schedule."""

from __future__ import annotations

import dagster as dg

NIGHTLY_JOB = "nightly_sync"


def nightly_job() -> dg.UnresolvedAssetJobDefinition:
    """Every asset: extract both sources, rebuild core and metrics, write the exports."""
    return dg.define_asset_job(
        NIGHTLY_JOB,
        selection=dg.AssetSelection.all(),
        description="Extract JIRA and ServiceNow, rebuild core and metrics, write the exports.",
        # One process, one step at a time: DuckDB allows one writing process per file.
        executor_def=dg.in_process_executor,
    )


def nightly_schedule(
    job: dg.UnresolvedAssetJobDefinition, cron: str, timezone: str
) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=f"{NIGHTLY_JOB}_schedule",
        job=job,
        cron_schedule=cron,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="The nightly incremental sync (schedule.cron in flow.yaml; default 02:00 UTC).",
    )
