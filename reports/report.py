"""The one-page HTML report for leadership: a value stream map and its diagnosis per stream.

The page is self-contained (inline CSS, inline SVG, no scripts, no network) so it can be mailed,
archived next to the CSVs and printed on A4 landscape. One section per value stream, 'all'
first; tabs would not print. Every value from the data is HTML-escaped: stage, status and
value-stream names are typed by users.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from reports import report_flow, report_stability
from reports import report_format as fmt
from reports import report_parts as part
from reports import report_svg as svg
from reports.report_blocked import CSS as BLOCKED_CSS
from reports.report_blocked import blocked_section
from reports.report_data import (
    Row,
    Settings,
    StreamData,
    load_stream,
    read_settings,
    value_streams,
)
from reports.report_style import CSS

TOP_WAITS = 8
MAX_PERIODS = 26


def _kpi(label: str, value: str, cls: str = "kpi") -> str:
    return f'<div class="{cls}"><span class="label">{label}</span><span class="value">{value}</span></div>'


def _stream_title(name: str) -> str:
    return "All value streams" if name == "all" else f"Value stream: {fmt.text(name)}"


def _anchor(index: int) -> str:
    return f"vs-{index}"


def _window_text(settings: Settings) -> str:
    if settings.as_of is None:
        return "no completed items yet"
    start = settings.window_start
    return (
        f"items done in the {settings.window_days} days "
        f"{fmt.instant(start)} → {fmt.instant(settings.as_of)}"
    )


def _header(title: str, settings: Settings) -> str:
    period = f" · period: {fmt.text(settings.period)}" if settings.period else ""
    return (
        f'<header class="report"><h1>{fmt.text(title)}</h1><div class="meta">'
        f"<div>As of <strong class=as-of>{fmt.instant(settings.as_of)}</strong>"
        f" ({fmt.text(settings.source)})</div>"
        f"<div>Window: <strong class=window>{settings.window_days} days</strong>"
        f" — {_window_text(settings)}{period}</div></div></header>"
    )


def _overview(streams: Sequence[StreamData]) -> str:
    rows = []
    for i, s in enumerate(streams):
        sm = s.summary or {}
        card = s.scorecard or []
        met = sum(1 for r in card if r.get("met") is True)
        rows.append(
            (
                f'<a href="#{_anchor(i)}">{fmt.text(s.name)}</a>',
                fmt.count(sm.get("items_done")),
                fmt.count(sm.get("wip")),
                fmt.number(sm.get("throughput_per_week")),
                fmt.days(sm.get("lead_time_p50_days")),
                fmt.days(sm.get("lead_time_p95_days")),
                fmt.pct(sm.get("activity_ratio")),
                fmt.pct(sm.get("rolled_pct_complete_accurate")),
                fmt.pct(sm.get("tech_debt_ratio")),
                fmt.pct(sm.get("unplanned_ratio")),
                f"{met} / {len(card)}" if card else fmt.MISSING,
            )
        )
    headers = [
        ("Value stream", False),
        ("Items done", True),
        ("WIP", True),
        ("Per week", True),
        ("Lead p50", True),
        ("Lead p95", True),
        ("Activity ratio", True),
        ("Rolled %C/A", True),
        ("Debt effort", True),
        ("Unplanned", True),
        ("Targets met", True),
    ]
    return (
        '<section class="overview card"><h3>At a glance</h3>'
        + part.table(headers, rows, "overview")
        + "</section>"
    )


def _vsm_block(s: StreamData, settings: Settings) -> str:
    parts = ['<div class="card vsm-card"><h3>Value stream map</h3>']
    note = part.absent(s.vsm, "value_stream_map", "No stages to draw: no items done in the window.")
    if note:
        parts.append(note)
    else:
        done = (s.summary or {}).get("items_done")
        if done == 0:
            parts.append(part.empty("No items done in the window: the blocks are empty."))
        parts.append(svg.value_stream_map(s.vsm, s.name))
    parts.append(report_stability.delivery_line(s.stability, s.summary))
    sm = s.summary or {}
    parts.append('<div class="kpis totals">')
    parts.append(_kpi("Total lead time", fmt.days(sm.get("total_lead_time_days")), "kpi total"))
    parts.append(
        _kpi("Total process time", fmt.days(sm.get("total_process_time_days")), "kpi total")
    )
    parts.append(_kpi("Activity ratio", fmt.pct(sm.get("activity_ratio")), "kpi total"))
    parts.append(_kpi("Rolled %C/A", fmt.pct(sm.get("rolled_pct_complete_accurate")), "kpi total"))
    if s.summary is None:
        parts.append("</div>" + part.empty("No summary row for this value stream."))
    else:
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


def _kpi_strip(s: StreamData) -> str:
    sm = s.summary or {}
    return (
        '<div class="kpis">'
        + _kpi("Items done (window)", fmt.count(sm.get("items_done")))
        + _kpi("WIP now", fmt.count(sm.get("wip")))
        + _kpi("Throughput / week", fmt.number(sm.get("throughput_per_week")))
        + _kpi("Lead time p50", fmt.days(sm.get("lead_time_p50_days")))
        + _kpi("Lead time p95", fmt.days(sm.get("lead_time_p95_days")))
        + _kpi("Tech-debt effort", fmt.pct(sm.get("tech_debt_ratio")))
        + _kpi("Unplanned", fmt.pct(sm.get("unplanned_ratio")))
        + "</div>"
    )


def _waits_block(s: StreamData) -> str:
    parts = ['<div class="card waits"><h3>Where work waits</h3>']
    note = part.absent(
        s.waits, "wait_states", "No waiting time recorded for items done in the window."
    )
    if note:
        parts.append(note)
    else:
        top = s.waits[:TOP_WAITS]
        rows = []
        for r in top:
            share = r.get("share_of_lead_time")
            bar = (
                f'<span class="bar" style="width:{min(max(float(share), 0.0), 1.0) * 60:.0f}px">'
                "</span>"
                if not fmt.is_missing(share)
                else ""
            )
            rows.append(
                (
                    fmt.count(r.get("rank")),
                    fmt.text(r.get("stage")),
                    fmt.text(r.get("status")),
                    fmt.count(r.get("items")),
                    fmt.days(r.get("total_wait_days")),
                    fmt.days(r.get("mean_wait_days")),
                    fmt.days(r.get("p85_wait_days")),
                    bar + fmt.pct(share),
                )
            )
        headers = [
            ("#", True),
            ("Stage", False),
            ("Status", False),
            ("Items", True),
            ("Total wait", True),
            ("Mean", True),
            ("p85", True),
            ("Share of lead", True),
        ]
        parts.append(part.table(headers, rows, "waits"))
        if len(s.waits) > TOP_WAITS:
            parts.append(
                f'<p class="note">Top {TOP_WAITS} of {len(s.waits)} wait states;'
                " all of them in wait_states.csv.</p>"
            )
    parts.append("</div>")
    return "".join(parts)


def _rework_block(s: StreamData) -> str:
    parts = ['<div class="card rework"><h3>Rework by stage</h3>']
    note = part.absent(s.rework, "rework", "No stage was left by an item done in the window.")
    if note:
        parts.append(note)
    else:
        rows = [
            (
                fmt.text(r.get("stage")),
                fmt.count(r.get("items_passed")),
                fmt.count(r.get("items_sent_back")),
                fmt.count(r.get("items_returned_from")),
                fmt.pct(r.get("pct_complete_accurate")),
                fmt.count(r.get("reopened_items")),
            )
            for r in s.rework
        ]
        headers = [
            ("Stage", False),
            ("Passed", True),
            ("Sent back", True),
            ("Returned from", True),
            ("%C/A", True),
            ("Reopened", True),
        ]
        parts.append(part.table(headers, rows, "rework"))
    parts.append("</div>")
    return "".join(parts)


def _lead_block(s: StreamData, settings: Settings) -> str:
    parts = ['<div class="card lead"><h3>Lead-time distribution</h3>']
    la = s.lead_all or {}
    pcts = [
        ("p50", la.get("lead_time_p50_days")),
        ("p85", la.get("lead_time_p85_days")),
        ("p95", la.get("lead_time_p95_days")),
    ]
    note = part.absent(
        s.lead_times, "item_flow", f"No items done in the window ({_window_text(settings)})."
    )
    if note:
        parts.append(note)
    else:
        parts.append(svg.histogram(s.lead_times, pcts))
    parts.append(
        '<p class="note percentiles">'
        + " · ".join(f"{name} <strong>{fmt.days(v)}</strong>" for name, v in pcts)
        + f" · mean {fmt.days(la.get('lead_time_mean_days'))}"
        + f" · {fmt.count(la.get('items'))} items"
        + (
            f" · within target {fmt.pct(la.get('share_within_target'))}"
            if not fmt.is_missing(la.get("share_within_target"))
            else ""
        )
        + "</p>"
    )
    parts.append("</div>")
    return "".join(parts)


def _flow_block(s: StreamData, settings: Settings) -> str:
    parts = ['<div class="card flowdist"><h3>Flow distribution per period</h3>']
    note = part.absent(s.flow, "flow_distribution", "No periods yet.")
    if note:
        parts.append(note)
    else:
        rows = s.flow[-MAX_PERIODS:]
        parts.append(svg.flow_distribution(rows, s.debt_target, settings.period))
        legend = "".join(
            f'<span><i style="background:{colour}"></i>{name}</span>'
            for name, _, colour in svg.FLOW_TYPES
        )
        legend += '<span><i class="line"></i>debt share of effort (right axis)</span>'
        legend += f'<span><i class="dash"></i>debt line: target {fmt.pct(s.debt_target)}</span>'
        parts.append(f'<div class="legend">{legend}</div>')
        if len(s.flow) > MAX_PERIODS:
            parts.append(
                f'<p class="note">Last {MAX_PERIODS} of {len(s.flow)} periods;'
                " all of them in flow_distribution.csv.</p>"
            )
    parts.append("</div>")
    return "".join(parts)


def _met_mark(row: Row) -> str:
    if row.get("met") is True:
        return '<span class="met">✓ met</span>'
    if fmt.is_missing(row.get("actual_value")):
        return '<span class="unknown">✗ no data</span>'
    return '<span class="missed">✗ missed</span>'


def _scorecard_block(s: StreamData) -> str:
    parts = ['<div class="card scorecard"><h3>Scorecard against the target condition</h3>']
    note = part.absent(s.scorecard, "scorecard", "No targets configured (targets: in flow.yaml).")
    if note:
        parts.append(note)
    else:
        rows = []
        for r in s.scorecard:
            target = str(r.get("target"))
            rows.append(
                (
                    fmt.text(fmt.target_label(target)) + f" <small>({fmt.text(target)})</small>",
                    fmt.target_value(target, r.get("target_value")),
                    fmt.target_value(target, r.get("actual_value")),
                    fmt.gap(target, r.get("gap")),
                    _met_mark(r),
                )
            )
        headers = [
            ("Target", False),
            ("Target value", True),
            ("Actual", True),
            ("Gap (+ is better)", True),
            ("", False),
        ]
        parts.append(part.table(headers, rows, "scorecard"))
    parts.append("</div>")
    return "".join(parts)


def _stream_section(index: int, s: StreamData, settings: Settings, extra: str = "") -> str:
    return (
        f'<section class="stream" id="{_anchor(index)}">'
        f"<h2>{_stream_title(s.name)}</h2>"
        + _kpi_strip(s)
        + _vsm_block(s, settings)
        + '<div class="grid waits-rework">'
        + _waits_block(s)
        + _rework_block(s)
        + "</div>"
        + blocked_section(s.blocked)
        + '<div class="grid">'
        + _lead_block(s, settings)
        + _flow_block(s, settings)
        + "</div>"
        + report_stability.stability_block(s.stability)
        + _scorecard_block(s)
        + extra
        + "</section>"
    )


HOW_TO_READ = """
<footer class="howto"><h3>How to read this</h3><dl>
<dt>Window</dt><dd>Summary figures cover the items finished in the window shown at the top;
cancelled items never count. Per-period charts cover the whole history.</dd>
<dt>Value stream map</dt><dd>Each block is a stage, in process order. Under it: the mean time an
item spends in the stage (lead), the part of it somebody worked on it (process) and %C/A, the share
of items the next stages accepted without sending them back. The triangle before a block is the
waiting part of that stage (lead − process); the ladder below shows waiting (up) against working
(down). The totals add the blocks up; the activity ratio is process ÷ lead, and the rolled %C/A
multiplies the blocks' %C/A: the share of items that went through first time right.</dd>
<dt>Where work waits</dt><dd>Waiting statuses ranked by total waiting time, with their share of
all lead time: the first rows are where shortening queues pays most.</dd>
<dt>Rework</dt><dd>"Sent back" counts items returned into a stage later (rework the stage let
through); "returned from" counts items sent back from it (rework found there).</dd>
<dt>Lead-time distribution</dt><dd>Creation to done, per item finished in the window; the dashed
lines are the 50th, 85th and 95th percentiles ("85% of items finish within …").</dd>
<dt>Flow distribution</dt><dd>Items finished per period by flow type; the line is the share of
effort (process time) spent on debt, against the dashed debt target.</dd>
<dt>Scorecard</dt><dd>Each configured target against the window's actual; the gap is signed so
that positive is better. "no data" means the actual could not be computed and counts as missed.</dd>
<dt>Numbers</dt><dd>Days with one decimal, ratios as percentages, – where a value is unknown
(for example a ratio over nothing). Full data: the CSV files next to this page.</dd>
</dl></footer>
"""


def render_report(con: duckdb.DuckDBPyConnection, title: str = "Flow metrics") -> str:
    """One self-contained HTML page built from the `metrics` tables (and core.build_settings)."""
    settings = read_settings(con)
    streams = [load_stream(con, name, settings) for name in value_streams(con)]
    for stream in streams:  # the cross-tool panel lives in its own module (report_stability)
        stream.stability = report_stability.load(con, stream.name, settings)
    body: list[str] = [_header(title, settings)]
    if not streams:
        body.append(
            part.empty("No metrics yet: the metrics tables are missing or empty. Run a sync first.")
        )
    else:
        toc = "".join(
            f'<a href="#{_anchor(i)}">{fmt.text(s.name)}</a>' for i, s in enumerate(streams)
        )
        body.append(f'<nav class="toc">{toc}</nav>')
        body.append(_overview(streams))
        body.extend(
            _stream_section(i, s, settings, report_flow.section(con, s.name, settings))
            for i, s in enumerate(streams)
        )
    body.append(HOW_TO_READ)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{fmt.text(title)}</title><style>{CSS}{report_flow.CSS}{BLOCKED_CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


__all__ = ["render_report"]
