"""Runs the nightly job in-process through Dagster, on the persistent instance.

`flowmetrics sync` and `flowmetrics demo` use this, so a run started from a terminal is the very
same job the schedule runs, and it shows up in the Dagster UI with its materializations and
check results.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from datetime import datetime

import dagster as dg

from flowmetrics.exits import RunFailed
from flowmetrics.reaper import HOST_TAG, PID_TAG, reap_dead_runs, run_tags
from models.config import FlowConfig
from models.vocabulary import SERVICENOW_TABLES
from pipelines.assets.common import CLOCK_TAG
from pipelines.instance import ensure_dagster_home
from pipelines.jobs import NIGHTLY_JOB
from pipelines.resources import RunSetup

log = logging.getLogger(__name__)

__all__ = ["HOST_TAG", "PID_TAG", "RunOutcome", "reap_dead_runs", "run_nightly"]


@dataclass
class RunOutcome:
    success: bool
    run_id: str
    failures: list[str] = field(default_factory=list)
    materialized: list[str] = field(default_factory=list)
    checks_failed: list[str] = field(default_factory=list)


def run_nightly(
    *,
    full: bool = False,
    source: str | None = None,
    clock: datetime | None = None,
    setup: RunSetup | None = None,
    cfg: FlowConfig | None = None,
) -> RunOutcome:
    """Execute `nightly_sync` (or its subset without the other source) and summarise it.

    `clock` replaces the run's start instant (the sync windows' end and the default as_of):
    for tests and benchmarks whose sandbox runs on a simulated clock. `setup` is what the
    caller hands the run instead of the environment; `cfg`, when the caller already resolved
    it, gives the schedule (the run itself reads its config once).
    """
    ensure_dagster_home()
    # Not at the top: importing pipelines.definitions builds the module-level `defs` that
    # `dagster dev` loads, reading the environment; this process builds its own below.
    from pipelines.definitions import build_definitions

    defs = build_definitions(cfg, setup)
    job = defs.resolve_job_def(NIGHTLY_JOB)
    raw_keys = {
        "jira": [dg.AssetKey(["raw", "jira_issues"])],
        "servicenow": [dg.AssetKey(["raw", f"servicenow_{t}"]) for t in SERVICENOW_TABLES],
    }
    run_config: dict = {
        # INFO keeps the live progress readable; DEBUG events still reach the instance's log.
        "loggers": {"console": {"config": {"log_level": "INFO"}}},
        "ops": {
            "raw__jira_issues": {"config": {"full": full}},
            "servicenow_records": {"config": {"full": full}},
        },
    }
    selection = None
    if source is not None:
        other = "servicenow" if source == "jira" else "jira"
        keys = [
            k for k in defs.resolve_asset_graph().get_all_asset_keys() if k not in raw_keys[other]
        ]
        selection = keys
        if other == "jira":
            run_config["ops"].pop("raw__jira_issues")
        else:
            run_config["ops"].pop("servicenow_records")
    tags = {"flowmetrics/started_by": "cli", "flowmetrics/full": str(full).lower()}
    if clock is not None:
        tags[CLOCK_TAG] = clock.isoformat()
    tags |= run_tags()  # the process's identity, for `reap_dead_runs` (flowmetrics.reaper)
    with dg.DagsterInstance.get() as instance:
        reap_dead_runs(instance)
        result = job.execute_in_process(
            run_config=run_config,
            instance=instance,
            raise_on_error=False,
            asset_selection=selection,
            tags=tags,
        )
        outcome = RunOutcome(success=result.success, run_id=result.run_id)
        for event in result.all_events:
            if event.event_type_value == "STEP_FAILURE":
                data = event.event_specific_data
                error = getattr(data, "error", None)
                message = _failure_message(error)
                outcome.failures.append(f"{event.step_key}: {message}")
            elif event.event_type_value == "ASSET_MATERIALIZATION":
                outcome.materialized.append(event.asset_key.to_user_string())
            elif event.event_type_value == "ASSET_CHECK_EVALUATION":
                evaluation = event.event_specific_data
                if not evaluation.passed:
                    outcome.checks_failed.append(
                        f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
                        f" ({evaluation.severity.value})"
                    )
    return outcome


def run_reported(
    *,
    full: bool,
    source: str | None,
    setup: RunSetup | None = None,
    cfg: FlowConfig | None = None,
) -> RunOutcome:
    """`run_nightly`, told to a person: checks not passed on stderr, a failure as `RunFailed`."""
    outcome = run_nightly(full=full, source=source, setup=setup, cfg=cfg)
    for check in outcome.checks_failed:
        print(f"check not passed: {check}", file=sys.stderr)
    if not outcome.success:
        detail = "; ".join(outcome.failures) or "see the Dagster UI for the run's events"
        raise RunFailed(f"run {outcome.run_id}: {detail}")
    print(f"run {outcome.run_id} succeeded: {len(outcome.materialized)} assets materialized")
    return outcome


def _failure_message(error) -> str:
    """The innermost user-facing message of a Dagster step failure."""
    if error is None:
        return "failed"
    message = error.message.strip()
    cause = error.cause
    while cause is not None:
        if cause.message:
            message = cause.message.strip()
        cause = cause.cause
    first = message.splitlines()[0] if message else "failed"
    for prefix in ("dagster._core.definitions.events.Failure: ", "Failure: "):
        first = first.removeprefix(prefix)
    return first
