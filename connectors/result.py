"""What a sync reports back: per stream, what was read and what it cost.

Shared by both connectors so the Dagster assets and the CLI can show one kind of progress and
metadata whatever the source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime


class SourceError(RuntimeError):
    """A sync that cannot go on; the message names the source, the setting or record at fault,
    and never a secret."""


class SourceNotConfigured(SourceError):
    """The source's environment variables are absent: the source is skipped, not failed."""


@dataclass
class StreamResult:
    source: str
    stream: str
    mode: str  # full | incremental
    window_start: datetime | None
    window_end: datetime
    records: int = 0
    histories: int = 0
    deleted: int = 0
    quarantined: int = 0
    requests: int = 0
    seconds: float = 0.0

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


@dataclass
class SyncResult:
    source: str
    run_id: str
    streams: list[StreamResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(s.records for s in self.streams)

    @property
    def requests(self) -> int:
        return sum(s.requests for s in self.streams)


#: Progress callback: (source, stream, message, records so far). The CLI prints it live.
Progress = Callable[[str, str, str, int], None]


def no_progress(source: str, stream: str, message: str, records: int) -> None:
    """Default progress sink."""
