"""The report's "Flow over time" block per value stream (docs/contract.md §6): cumulative flow, ageing WIP
against the service-level expectation, trends per period and the Monte Carlo forecast.

Read from metrics.daily_flow, aging_wip, flow_trends, forecast (and lead_time for the 'all'
SLE). Like the rest of the report, a table that is not built yet says so instead of failing, and
every value from the data is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from reports import report_flow_svg as svg
from reports import report_format as fmt
from reports import report_parts as part
from reports.report_data import Row, Settings, table_exists

MAX_PERIODS = 26
#: Items over the SLE listed under the ageing chart (the oldest first); the CSV has them all.
LISTED = 20

CSS = """
.flow-time h3.block { font-size: 15px; margin: 4px 0 6px; color: #0b4f7c; }
.forecast .lines { margin: 4px 0; padding-left: 18px; }
.forecast .lines li { margin: 3px 0; font-size: 14px; }
.forecast .lines strong { font-size: 16px; }
.over-sle { font-size: 12px; margin: 4px 0 0; }
.over-sle b { color: #b3261e; }
@media print {
  .flow-time { break-before: page; page-break-before: always; }
  svg.cfd, svg.aging { max-height: 60mm; }
  svg.trends { max-height: 42mm; }
  .over-sle { font-size: 10px; }
  .forecast .lines li { font-size: 12px; margin: 1px 0; }
}
"""


@dataclass
class FlowOverTime:
    """One stream's rows (None: the table is not built)."""

    daily: list[Row] | None
    aging: list[Row] | None
    sle: float | None
    trends: list[Row] | None
    forecast: list[Row] | None


def _stream(
    con: duckdb.DuckDBPyConnection, table: str, stream: str, order: str, every_stream: bool = False
) -> list[Row] | None:
    if not table_exists(con, "metrics", table):
        return None
    where = "" if every_stream else " where value_stream = ?"
    sql = f"select * from metrics.{table}{where} order by {order}"  # noqa: S608 - fixed names
    return part.rows(con, sql, [] if every_stream else [stream])


def _sle(con: duckdb.DuckDBPyConnection, stream: str) -> float | None:
    if not table_exists(con, "metrics", "lead_time"):
        return None
    row = con.execute(
        "select lead_time_p85_days from metrics.lead_time where value_stream = ?"
        " and flow_type = 'all'",
        [stream],
    ).fetchone()
    return None if row is None or fmt.is_missing(row[0]) else float(row[0])


def load(con: duckdb.DuckDBPyConnection, stream: str) -> FlowOverTime:
    """Everything the block shows for one stream; 'all' ages every open item."""
    return FlowOverTime(
        daily=_stream(con, "daily_flow", stream, "day, stage_order"),
        aging=_stream(
            con, "aging_wip", stream, "age_days desc, item_id", every_stream=stream == "all"
        ),
        sle=_sle(con, stream),
        trends=_stream(con, "flow_trends", stream, "period_start"),
        forecast=_stream(con, "forecast", stream, "horizon_days nulls last"),
    )


def _legend(stages: list[str]) -> str:
    items = "".join(
        f'<span><i style="background:{svg.stage_colour(i, i == len(stages) - 1)}"></i>'
        f"{fmt.text(s)}{' (done since the first day)' if i == len(stages) - 1 else ''}</span>"
        for i, s in enumerate(stages)
    )
    return f'<div class="legend">{items}</div>'


def cfd_block(data: FlowOverTime) -> str:
    parts = ['<div class="card cfd-card"><h3>Cumulative flow (items per stage, each day)</h3>']
    note = part.absent(data.daily, "daily_flow", "No days to draw.")
    if note:
        parts.append(note)
    else:
        stages = sorted(
            {r["stage"]: r["stage_order"] for r in data.daily}.items(),
            key=lambda kv: (kv[1] is None, kv[1], kv[0]),
        )
        names = [s for s, _ in stages]
        days = sorted({r["day"] for r in data.daily})
        at = {(r["day"], r["stage"]): float(r["items"] or 0) for r in data.daily}
        counts = {s: [at.get((d, s), 0.0) for d in days] for s in names}
        # Done accumulates over the whole history: drawn from the window's first day, so the
        # bands of work in progress stay readable.
        done = names[-1]
        first = counts[done][0]
        counts[done] = [max(v - first, 0.0) for v in counts[done]]
        parts.append(svg.cumulative_flow(days, names, counts))
        parts.append(_legend(names))
        parts.append(
            '<p class="note">A widening band is work piling up in that stage; the '
            "flat top of the done band is a stall in delivery.</p>"
        )
    parts.append("</div>")
    return "".join(parts)


def aging_block(data: FlowOverTime, stream: str) -> str:
    parts = ['<div class="card aging-card"><h3>Ageing work in progress</h3>']
    note = part.absent(data.aging, "aging_wip", "Nothing open at as_of.")
    if note:
        parts.append(note)
    else:
        stages = sorted(
            {r["stage"]: r.get("stage_order") for r in data.aging}.items(),
            key=lambda kv: (kv[1] is None, kv[1] or 0, kv[0]),
        )
        parts.append(svg.aging_wip(data.aging, [s for s, _ in stages], data.sle))
        over = [
            r
            for r in data.aging
            if data.sle is not None
            and not fmt.is_missing(r.get("age_days"))
            and float(r["age_days"]) > data.sle
        ]
        if data.sle is None:
            parts.append(
                '<p class="note">No SLE: nothing was done in the window, so there is '
                "no p85 lead time to compare ages with.</p>"
            )
        elif not over:
            parts.append(
                f'<p class="note over-sle">No open item is older than the SLE '
                f"({fmt.days(data.sle)}).</p>"
            )
        else:
            named = " · ".join(
                f"<b>{fmt.text(svg.short_key(str(r['item_id'])))}</b> "
                f"{fmt.days(r.get('age_days'))} in {fmt.text(r.get('stage'))}"
                + (f" ({fmt.text(r.get('value_stream'))})" if stream == "all" else "")
                for r in over[:LISTED]
            )
            more = (
                f" · and {len(over) - LISTED:,d} more in aging_wip.csv"
                if len(over) > LISTED
                else ""
            )
            parts.append(
                f'<p class="over-sle">Over the SLE ({fmt.days(data.sle)}): '
                f"{len(over):,d} of {len(data.aging):,d} open items, oldest first: "
                f"{named}{more}</p>"
            )
    parts.append("</div>")
    return "".join(parts)


def trends_block(data: FlowOverTime, settings: Settings) -> str:
    parts = ['<div class="card trends-card"><h3>Are we getting faster? Trends per period</h3>']
    note = part.absent(data.trends, "flow_trends", "No periods yet.")
    if note:
        parts.append(note)
    else:
        rows = data.trends[-MAX_PERIODS:]
        parts.append(svg.trends(rows, settings.period))
        parts.append(
            '<div class="legend"><span><i style="background:#0072b2"></i>lead time p50</span>'
            '<span><i style="background:#d55e00"></i>lead time p85</span>'
            '<span><i style="background:#009e73"></i>items done</span>'
            '<span><i style="background:#1f2933"></i>flow efficiency: Σ process ÷ Σ lead time'
            "</span></div>"
        )
        parts.append(
            '<p class="note">Per period of the items done in it; a gap in a line is '
            "a period with nothing done (unknown, not zero)."
        )
        if len(data.trends) > MAX_PERIODS:
            parts.append(
                f" Last {MAX_PERIODS} of {len(data.trends)} periods; all of them in "
                "flow_trends.csv."
            )
        parts.append("</p>")
    parts.append("</div>")
    return "".join(parts)


def _pct_list(row: Row, prefix: str) -> tuple[Any, Any, Any]:
    return row.get(f"{prefix}_p50"), row.get(f"{prefix}_p85"), row.get(f"{prefix}_p95")


def forecast_block(data: FlowOverTime) -> str:
    parts = ['<div class="card forecast"><h3>When will it be done? Forecast</h3>']
    note = part.absent(data.forecast, "forecast", "No forecast for this value stream.")
    if note:
        parts.append(note)
    else:
        lines = []
        wip_row = None
        for r in data.forecast:
            if r.get("horizon_days") is None:
                wip_row = r
                continue
            p50, p85, p95 = _pct_list(r, "items")
            lines.append(
                f"<li>In <b>{fmt.count(r['horizon_days'])} days</b>: at least "
                f"<strong>{fmt.count(p85)}</strong> items with 85% confidence "
                f"<small>(50%: {fmt.count(p50)} · 95%: {fmt.count(p95)})</small></li>"
            )
        if wip_row is not None:
            d50, d85, d95 = _pct_list(wip_row, "wip_done_days")
            wip = fmt.count(wip_row.get("wip"))
            if fmt.is_missing(d85):
                lines.append(
                    f"<li>Today's WIP ({wip} items): <strong>no forecast</strong> — "
                    "nothing was done in the history days.</li>"
                )
            else:
                lines.append(
                    f"<li>Today's WIP ({wip} items) done within <strong>{fmt.count(d85)}"
                    f"</strong> days at 85% <small>(50%: {fmt.count(d50)} · 95%: "
                    f"{fmt.count(d95)} days)</small></li>"
                )
        parts.append(f'<ul class="lines">{"".join(lines)}</ul>')
        ref = wip_row or data.forecast[0]
        parts.append(
            f'<p class="note">Monte Carlo: {fmt.count(ref.get("trials"))} trials, each summing '
            f"daily throughput drawn at random from the last {fmt.count(ref.get('history_days'))}"
            f" days before as_of's day ({fmt.count(ref.get('history_items'))} items done in "
            "them). Assumes the next days look like those.</p>"
        )
    parts.append("</div>")
    return "".join(parts)


def section(con: duckdb.DuckDBPyConnection, stream: str, settings: Settings) -> str:
    """The whole block for one value stream (a new page in print)."""
    data = load(con, stream)
    return (
        '<div class="flow-time"><h3 class="block">Flow over time</h3>'
        + '<div class="grid">'
        + cfd_block(data)
        + aging_block(data, stream)
        + "</div>"
        + trends_block(data, settings)
        + forecast_block(data)
        + "</div>"
    )
