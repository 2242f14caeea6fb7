"""Simulated time and the timestamp formats the two APIs use.

All instants inside the sandbox are integer epoch milliseconds (JIRA) or seconds
(ServiceNow) in UTC; rendering into zone-offset strings happens only at the edge, per request,
so the store stays compact and the clock can move without rewriting anything.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

#: Time zone of the JIRA API user (non-UTC, with DST: the classic JQL-literal trap).
API_USER_TZ = "America/Los_Angeles"

DAY_MS = 86_400_000


def default_now() -> datetime:
    """Current UTC time truncated to the second (the default simulated clock)."""
    return datetime.now(UTC).replace(microsecond=0)


def to_ms(dt: datetime) -> int:
    """Aware datetime -> epoch milliseconds."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime: the sandbox clock needs an aware datetime")
    return int(dt.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    """Epoch milliseconds -> aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, UTC)


@lru_cache(maxsize=32)
def zone(name: str) -> ZoneInfo:
    """Cached ZoneInfo lookup (rendering calls this per timestamp)."""
    return ZoneInfo(name)


def jira_ts(ms: int, tz: str = API_USER_TZ) -> str:
    """Render like JIRA: ``2024-06-28T06:29:06.215-0700`` in the given zone."""
    dt = datetime.fromtimestamp(ms / 1000, zone(tz))
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}" + dt.strftime("%z")


def jql_literal_to_ms(text: str, tz: str = API_USER_TZ) -> int:
    """Read a JQL date literal the way JIRA does: in the searching user's zone, to the minute.

    Accepts ``yyyy-MM-dd HH:mm``, ``yyyy/MM/dd HH:mm``, ``yyyy-MM-dd`` and ``yyyy/MM/dd``.
    Seconds are not part of the JQL grammar, so anything finer is rejected by the caller.
    """
    text = text.strip().replace("/", "-")
    fmt = "%Y-%m-%d %H:%M" if " " in text else "%Y-%m-%d"
    naive = datetime.strptime(text, fmt)  # noqa: DTZ007 - zone attached on the next line
    return to_ms(naive.replace(tzinfo=zone(tz)))


def snow_ts(sec: int) -> str:
    """ServiceNow raw date-time: UTC ``YYYY-MM-DD HH:MM:SS``.

    The day's text comes from a small cache: this runs once per row and timestamp column
    compared or rendered (a counted sys_audit page at 1M incidents compares ~11M of them)."""
    day, rest = divmod(sec, 86_400)
    text = _DAYS.get(day)
    if text is None:
        text = _DAYS[day] = datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d ")
    hour, rest = divmod(rest, 3600)
    return f"{text}{hour:02d}:{rest // 60:02d}:{rest % 60:02d}"


_DAYS: dict[int, str] = {}


def snow_duration(seconds: int) -> str:
    """ServiceNow duration: an offset from the epoch, ``1970-01-01 08:00:00``."""
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=max(0, seconds))).strftime(
        "%Y-%m-%d %H:%M:%S"
    )
