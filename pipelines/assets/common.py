"""Small helpers the asset modules share: progress logging and run-level settings."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import TextIO

import dagster as dg

from connectors.progress import ProgressMeter, StreamProgress, format_bar, format_line
from connectors.result import StreamResult, SyncResult


class SyncRunConfig(dg.Config):
    """Run config of the raw assets: `full` re-reads everything instead of the changes."""

    full: bool = False


class ProgressLogger(ProgressMeter):
    """Connector progress as a person can follow it (connectors/progress.py): a plain line per
    stream every `every_s` seconds in the run's log (the terminal of `flowmetrics sync` shows
    it, and so does the Dagster UI), and, when stderr is a terminal, a bar redrawn in place."""

    def __init__(
        self, context: dg.AssetExecutionContext, every_s: float = 10.0, stream: TextIO | None = None
    ) -> None:
        super().__init__(self._line, every_s=every_s)
        self._context = context
        self._tty = stream if stream is not None else sys.stderr
        self._bar = bool(getattr(self._tty, "isatty", lambda: False)())
        self._drawn = 0.0

    def _line(self, snap: StreamProgress) -> None:
        self._clear()
        self._context.log.info(format_line(snap))

    def __call__(self, source: str, stream: str, message: str, records: int) -> None:
        super().__call__(source, stream, message, records)
        now = time.monotonic()
        if self._bar and now - self._drawn >= 0.2:
            self._drawn = now
            snaps = self.snapshots()
            if snaps:
                self._tty.write("\r\033[K" + format_bar(snaps[-1])[:160])
                self._tty.flush()

    def _clear(self) -> None:
        if self._bar and self._drawn:
            self._tty.write("\r\033[K")
            self._tty.flush()

    def finish(self) -> None:
        """The sync ended: take the bar off the terminal and log where each stream ended."""
        self._clear()
        self._drawn = 0.0
        for snap in self.snapshots():
            self._context.log.info(format_line(snap))

    def metadata(self) -> dict[str, dg.MetadataValue]:
        """The last progress of each stream, for the materialization."""
        return {
            f"progress {p.source}/{p.stream}": dg.MetadataValue.text(format_line(p))
            for p in self.snapshots()
        }


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
