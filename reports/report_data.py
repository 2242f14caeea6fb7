"""What the report reads from the warehouse, one value stream at a time.

Every reader tolerates a table that is not built yet (returns None) and an empty one
(returns []), so the report can say which it is instead of failing: a leader opening the page
after a half-configured first run should see "not built yet", not a stack trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from models.vocabulary import TARGET_ORDER
from reports import report_parts as part
from reports.report_blocked import load_blocked, mark_vsm
from warehouse.catalog import quote_ident, table_columns

DEFAULT_WINDOW_DAYS = 90
DEFAULT_DEBT_TARGET = 0.20

Row = dict[str, Any]


@dataclass(frozen=True)
class Settings:
    """The instant and window the metrics were computed for."""

    as_of: datetime | None
    window_days: int | None
    period: str | None
    source: str  # "build settings" | "derived from the data"

    @property
    def window_start(self) -> datetime | None:
        if self.as_of is None or self.window_days is None:
            return None
        return self.as_of - timedelta(days=self.window_days)


@dataclass
class StreamData:
    """Everything the report shows for one value stream (None = table not built)."""

    name: str
    summary: Row | None = None
    vsm: list[Row] | None = None
    waits: list[Row] | None = None
    rework: list[Row] | None = None
    lead_all: Row | None = None
    lead_times: list[float] | None = None
    flow: list[Row] | None = None
    scorecard: list[Row] | None = None
    stage_order: dict[str, int] = field(default_factory=dict)
    #: docs/contract.md §6 blocked work and hand-offs (`reports.report_blocked.BlockedData`)
    blocked: Any = None
    stability: Any = None  # report_stability.StabilityData

    @property
    def debt_target(self) -> float:
        for row in self.scorecard or []:
            if row.get("target") == "tech_debt_ratio_min" and row.get("target_value") is not None:
                return float(row["target_value"])
        return DEFAULT_DEBT_TARGET


def _as_utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(table_columns(con, schema, table))


def read_settings(con: duckdb.DuckDBPyConnection) -> Settings:
    """`core.build_settings` when the build wrote it; else as_of = the latest done_at.

    The settings table may be one wide row (as_of, window_days, period) or key/value rows.
    """
    values: dict[str, Any] = {}
    cols = table_columns(con, "core", "build_settings")
    if cols:
        rows = part.rows(con, "select * from core.build_settings")
        keycol = next((c for c in ("key", "name", "setting") if c in cols), None)
        if keycol and "value" in cols:
            values = {str(r[keycol]): r["value"] for r in rows}
        elif rows:
            values = rows[-1]
    as_of = _as_utc(values.get("as_of"))
    window = values.get("window_days")
    period = values.get("period")
    if as_of is not None:
        return Settings(
            as_of,
            int(window) if window is not None else DEFAULT_WINDOW_DAYS,
            str(period) if period else None,
            "build settings",
        )

    if table_exists(con, "metrics", "item_flow"):
        as_of = _as_utc(con.execute("select max(done_at) from metrics.item_flow").fetchone()[0])
    if window is None and table_exists(con, "metrics", "value_stream_summary"):
        # throughput_per_week = window items / (window_days / 7), so the window can be recovered.
        row = con.execute(
            "select items_done, throughput_per_week from metrics.value_stream_summary"
            " where value_stream = 'all'"
        ).fetchone()
        if row and row[0] and row[1]:
            window = round(float(row[0]) * 7 / float(row[1]))
    return Settings(
        as_of,
        int(window) if window else DEFAULT_WINDOW_DAYS,
        str(period) if period else None,
        "derived from the data",
    )


def value_streams(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every value stream named in any metrics table: 'all' first, then by name."""
    names: set[str] = set()
    for table in (
        "value_stream_summary",
        "value_stream_map",
        "lead_time",
        "wait_states",
        "rework",
        "flow_distribution",
        "scorecard",
    ):
        if "value_stream" in table_columns(con, "metrics", table):
            sql = f"select distinct value_stream from metrics.{quote_ident(table)}"  # noqa: S608
            names.update(r[0] for r in con.execute(sql).fetchall() if r[0] is not None)
    rest = sorted(names - {"all"}, key=lambda n: (n.casefold(), n))
    return (["all"] if "all" in names else []) + rest


def _stream_rows(
    con: duckdb.DuckDBPyConnection, table: str, stream: str, order: str
) -> list[Row] | None:
    if not table_exists(con, "metrics", table):
        return None
    sql = (
        f"select * from metrics.{quote_ident(table)}"  # noqa: S608 - fixed table names
        f" where value_stream = ? order by {order}"
    )
    return part.rows(con, sql, [stream])


def window_lead_times(
    con: duckdb.DuckDBPyConnection, stream: str, settings: Settings
) -> list[float] | None:
    """Lead times of the items done in (as_of - window_days, as_of]."""
    if not table_exists(con, "metrics", "item_flow"):
        return None
    if settings.as_of is None or settings.window_start is None:
        return []
    sql = (
        "select lead_time_days from metrics.item_flow"
        " where done_at > ? and done_at <= ? and lead_time_days is not null"
        " and (? = 'all' or value_stream = ?) order by lead_time_days"
    )
    rows = con.execute(sql, [settings.window_start, settings.as_of, stream, stream]).fetchall()
    return [float(r[0]) for r in rows]


def load_stream(con: duckdb.DuckDBPyConnection, stream: str, settings: Settings) -> StreamData:
    data = StreamData(name=stream)
    summary = _stream_rows(con, "value_stream_summary", stream, "value_stream")
    data.summary = summary[0] if summary else None
    data.vsm = _stream_rows(con, "value_stream_map", stream, "stage_order nulls last, stage")
    data.stage_order = {
        r["stage"]: r["stage_order"] for r in data.vsm or [] if r.get("stage_order") is not None
    }
    data.waits = _stream_rows(con, "wait_states", stream, "rank nulls last, stage, status")
    data.rework = _stream_rows(con, "rework", stream, "stage")
    if data.rework:
        big = 1 << 30
        data.rework.sort(
            key=lambda r: (
                r.get("stage_order") or data.stage_order.get(r["stage"], big),
                str(r["stage"]),
            )
        )
    lead = _stream_rows(con, "lead_time", stream, "flow_type")
    data.lead_all = next((r for r in lead or [] if r.get("flow_type") == "all"), None)
    data.lead_times = window_lead_times(con, stream, settings)
    data.flow = _stream_rows(con, "flow_distribution", stream, "period_start")
    data.scorecard = _stream_rows(con, "scorecard", stream, "target")
    data.blocked = load_blocked(con, stream, (settings.window_start, settings.as_of))
    mark_vsm(data.vsm, data.blocked)
    if data.scorecard:
        rank = {t: i for i, t in enumerate(TARGET_ORDER)}
        data.scorecard.sort(key=lambda r: (rank.get(r["target"], len(rank)), str(r["target"])))
    return data
