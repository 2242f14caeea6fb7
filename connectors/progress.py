"""Progress a person can follow: records done, rate and ETA per stream, as a line or a bar.

Connectors report through the plain `result.Progress` callback (source, stream, message,
records so far) and, when they learn how many records a scan holds, through `report_total`
(duck-typed: a callback without a `total` method ignores it). `ProgressMeter` turns those calls
into `StreamProgress` snapshots and, throttled, into output: the Dagster asset logs plain lines
(they reach the terminal of `flowmetrics sync` and the run's event log) and draws a bar on a
terminal (pipelines/assets/common.py). No dagster here: connectors stay free of it.

The rate is records per second since the stream's first report; the ETA is the records left at
that rate, known only when the source gave a total (ServiceNow's X-Total-Count; JIRA Cloud's
search reports none, so its lines show the rate without an ETA).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class StreamProgress:
    """Where one stream stands."""

    source: str
    stream: str
    done: int
    total: int | None
    elapsed_s: float
    message: str = ""

    @property
    def rate(self) -> float:
        """Records per second so far (0 before the first second)."""
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the current rate; None without a total or a rate."""
        if self.total is None or self.rate <= 0:
            return None
        return max(0, self.total - self.done) / self.rate

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def format_line(p: StreamProgress) -> str:
    """'servicenow/incident: 12,000 of 40,000 records (30 %), 1,234/s, ETA 0:23 -- page 12'."""
    done = f"{p.done:,}" + (f" of {p.total:,}" if p.total is not None else "") + " records"
    if p.fraction is not None:
        done += f" ({p.fraction:.0%})"
    parts = [done, f"{p.rate:,.0f}/s"]
    eta = p.eta_s
    parts.append(f"ETA {_duration(eta)}" if eta is not None else f"{_duration(p.elapsed_s)} so far")
    line = f"{p.source}/{p.stream}: " + ", ".join(parts)
    return f"{line} -- {p.message}" if p.message else line


def format_bar(p: StreamProgress, width: int = 24) -> str:
    """A one-line bar for a terminal; without a total, a count and rate only."""
    if p.fraction is None:
        return format_line(p)
    filled = int(round(p.fraction * width))
    eta = p.eta_s
    tail = f"ETA {_duration(eta)}" if eta is not None else ""
    return (
        f"{p.source}/{p.stream} [{'#' * filled}{'.' * (width - filled)}] "
        f"{p.done:,}/{p.total:,} {p.rate:,.0f}/s {tail}"
    ).rstrip()


class ProgressMeter:
    """A `result.Progress` callback that keeps a `StreamProgress` per stream and hands a
    snapshot to `emit` at most every `every_s` seconds per stream (and always the first)."""

    def __init__(
        self,
        emit: Callable[[StreamProgress], None],
        *,
        every_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._emit = emit
        self._every_s = every_s
        self._clock = clock
        self._started: dict[tuple[str, str], float] = {}
        self._last: dict[tuple[str, str], float] = {}
        self._totals: dict[tuple[str, str], int] = {}
        self._latest: dict[tuple[str, str], StreamProgress] = {}

    def __call__(self, source: str, stream: str, message: str, records: int) -> None:
        key = (source, stream)
        now = self._clock()
        started = self._started.setdefault(key, now)
        snap = StreamProgress(
            source, stream, records, self._totals.get(key), now - started, message
        )
        self._latest[key] = snap
        last = self._last.get(key)
        if last is not None and now - last < self._every_s:
            return
        self._last[key] = now
        self._emit(snap)

    def total(self, source: str, stream: str, total: int) -> None:
        """The records the stream's scan holds (an estimate is fine: ETA only)."""
        self._totals[(source, stream)] = total

    def snapshots(self) -> list[StreamProgress]:
        """The latest state of every stream reported so far."""
        return list(self._latest.values())


def report_total(progress: object, source: str, stream: str, total: int | None) -> None:
    """Tell `progress` how many records a scan holds, if it wants to know (`ProgressMeter`)."""
    method = getattr(progress, "total", None)
    if total is not None and callable(method):
        method(source, stream, total)
