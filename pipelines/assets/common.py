"""Small helpers the asset modules share: progress logging and run-level settings."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import dagster as dg

from connectors.result import StreamResult, SyncResult


class SyncRunConfig(dg.Config):
    """Run config of the raw assets: `full` re-reads everything instead of the changes."""

    full: bool = False


class ProgressLogger:
    """Turns connector progress into a log line per stream every few seconds (live in the CLI)."""

    def __init__(self, context: dg.AssetExecutionContext, every_s: float = 2.0) -> None:
        self._context = context
        self._every_s = every_s
        self._last: dict[str, float] = {}
        self._started: dict[str, float] = {}

    def __call__(self, source: str, stream: str, message: str, records: int) -> None:
        now = time.monotonic()
        key = f"{source}/{stream}"
        started = self._started.setdefault(key, now)
        if now - self._last.get(key, 0.0) < self._every_s:
            return
        self._last[key] = now
        rate = records / (now - started) if now > started else 0.0
        self._context.log.info(f"{key}: {records} records ({rate:.0f}/s) {message}")


def stream_metadata(stream: StreamResult) -> dict[str, dg.MetadataValue | str | int | float]:
    """What a raw materialization shows in the UI: rows, requests, rate and window."""
    return {
        "mode": stream.mode,
        "records": dg.MetadataValue.int(stream.records),
        "histories": dg.MetadataValue.int(stream.histories),
        "deleted": dg.MetadataValue.int(stream.deleted),
        "quarantined": dg.MetadataValue.int(stream.quarantined),
        "requests": dg.MetadataValue.int(stream.requests),
        "seconds": dg.MetadataValue.float(round(stream.seconds, 3)),
        "records_per_second": dg.MetadataValue.float(round(stream.records_per_second, 1)),
        "window_start": stream.window_start.isoformat() if stream.window_start else "beginning",
        "window_end": stream.window_end.isoformat(),
    }


#: Run tag that sets the run's clock (ISO-8601): replaying a past night, or following a
#: simulated source clock (the sandbox's time travel). Absent in production runs.
CLOCK_TAG = "flowmetrics/clock"


def run_started_at(context: dg.AssetExecutionContext) -> datetime:
    """The run's start instant, so every asset of one run agrees on 'now'."""
    tagged = context.run.tags.get(CLOCK_TAG)
    if tagged:
        return datetime.fromisoformat(tagged).astimezone(UTC)
    stats = context.instance.get_run_stats(context.run.run_id)
    if stats and stats.start_time:
        return datetime.fromtimestamp(stats.start_time, tz=UTC)
    return datetime.now(UTC)


def result_warnings(result: SyncResult, context: dg.AssetExecutionContext) -> None:
    for warning in result.warnings:
        context.log.warning(warning)
