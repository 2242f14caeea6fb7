"""The report's view of the flow across both tools: stability per period and the delivery line.

Kept out of report.py on purpose (three branches add sections to the page): report.py calls
`load` once per value stream, report.py places `delivery_line` under the value stream map and
`stability_block` after the flow charts. Every text from the data is escaped (change titles are
typed by people); a table not built yet reads as "not built yet", never as zeros.

The delivery line answers "how long from idea to production": the map above ends at Done (the
JIRA issue closed); the line continues to the implementation of the change request that
shipped it, from ServiceNow's own links (metrics.delivery), not from a guess by deploy dates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

from reports import report_format as fmt
from reports import report_parts as part
from reports.report_data import Row, Settings, table_exists
from reports.report_svg import BLOCK, BLOCK_EDGE, INK, MUTED, TARGET, _t

#: Periods shown in the stability table (the CSV has all of them).
MAX_PERIODS = 12
#: Failed changes listed by name under the table (the newest first).
MAX_FAILED = 10
PRODUCTION = "#009e73"


@dataclass
class StabilityData:
    """One value stream's stability rows, delivery row and named failed changes.

    None means the table is not built (an older warehouse); [] / {} means nothing to show.
    """

    periods: list[Row] | None = None
    delivery: Row | None = None
    delivery_built: bool = False
    failed: list[Row] = field(default_factory=list)


_FAILED_SQL = """
select c.source_key as change, c.title, c.done_at,
    list(i.source_key order by i.created_at, i.source_key) as incidents
from core.item_links as l
inner join core.work_items as c on c.item_id = l.to_item
inner join core.work_items as i on i.item_id = l.from_item
where l.kind = 'caused_by' and not c.is_deleted and not i.is_deleted
    and c.done_at is not null and c.done_at > ? and c.done_at <= ?
    and (? = 'all' or c.value_stream = ?)
group by all
order by c.done_at desc, c.source_key
limit ?
"""


def load(con: duckdb.DuckDBPyConnection, stream: str, settings: Settings) -> StabilityData:
    """What the stability card and the delivery line show for one value stream."""
    data = StabilityData()
    if table_exists(con, "metrics", "stability"):
        data.periods = part.rows(
            con,
            "select * from metrics.stability where value_stream = ? order by period_start",
            [stream],
        )
    if table_exists(con, "metrics", "delivery"):
        data.delivery_built = True
        found = part.rows(con, "select * from metrics.delivery where value_stream = ?", [stream])
        data.delivery = found[0] if found else None
    if (
        table_exists(con, "core", "item_links")
        and settings.as_of is not None
        and settings.window_start is not None
    ):
        data.failed = part.rows(
            con, _FAILED_SQL, [settings.window_start, settings.as_of, stream, stream, MAX_FAILED]
        )
    return data


# -- the delivery line under the value stream map -------------------------------------------


def delivery_line(stab: StabilityData | None, summary: Row | None) -> str:
    """Idea -> Done (the map's total lead time) -> Production (the change that shipped it)."""
    if stab is None or not stab.delivery_built:
        return ""
    d = stab.delivery or {}
    items = d.get("items") or 0
    if not items:
        return (
            '<p class="note delivery">Delivery to production: no JIRA item had its first'
            " implementing change request done in the window (a change names its issue in"
            " correlation_id or its short description).</p>"
        )
    lead = (summary or {}).get("total_lead_time_days")
    to_prod = d.get("done_to_production_mean_days")
    a = 0.0 if fmt.is_missing(lead) else max(float(lead), 0.0)
    b = 0.0 if fmt.is_missing(to_prod) else max(float(to_prod), 0.0)
    width, x0, x1 = 1120.0, 8.0, 1000.0
    scale = (x1 - x0) / (a + b) if a + b > 0 else 0.0
    xa = x0 + a * scale
    # a delivery tail shorter than a few pixels is still drawn, so the Production end shows
    xb = max(x0 + (a + b) * scale, xa + 24)
    y = 30.0
    out = [
        f'<svg class="delivery" viewBox="0 0 {width:.0f} 78" role="img"'
        ' aria-label="Delivery line: from request to production">',
        f'<rect x="{x0:.1f}" y="{y - 9:.1f}" width="{max(xa - x0, 1):.1f}" height="18"'
        f' fill="{BLOCK}" stroke="{BLOCK_EDGE}" stroke-width="1.2"/>',
        _t(
            x0 + 6,
            y + 4,
            f"request → done (the map): {fmt.days(lead)}",
            size=11,
            anchor="start",
            fill=INK,
        ),
        f'<line x1="{xa:.1f}" y1="{y:.1f}" x2="{xb:.1f}" y2="{y:.1f}" stroke="{PRODUCTION}"'
        ' stroke-width="5" stroke-dasharray="10 4"/>',
        f'<circle cx="{xb:.1f}" cy="{y:.1f}" r="7" fill="{PRODUCTION}"/>',
        _t(xb + 12, y - 2, "Production", size=12, anchor="start", weight="bold", fill=INK),
        _t(
            xb + 12, y + 13, f"+{fmt.days(to_prod)} after done", size=11, anchor="start", fill=MUTED
        ),
        _t(
            x0,
            y + 34,
            f"Idea to production (JIRA created → change implemented), {fmt.count(items)} items"
            f" shipped in the window: p50 <tspan font-weight='bold'>"
            f"{fmt.days(d.get('idea_to_production_p50_days'))}</tspan> · p85 "
            f"<tspan font-weight='bold'>{fmt.days(d.get('idea_to_production_p85_days'))}"
            f"</tspan> · done to production p50 "
            f"{fmt.days(d.get('done_to_production_p50_days'))} · p85 "
            f"{fmt.days(d.get('done_to_production_p85_days'))}"
            f" ({fmt.count(d.get('done_to_production_items'))} items done before their change)",
            size=11,
            anchor="start",
            fill=MUTED,
        ),
        "</svg>",
    ]
    return '<div class="delivery-line">' + "".join(out) + "</div>"


# -- the stability card ------------------------------------------------------------------------


def _rate_cell(rate: Any) -> str:
    if fmt.is_missing(rate):
        return fmt.MISSING
    width = min(max(float(rate), 0.0), 1.0) * 60
    return f'<span class="bar" style="width:{width:.0f}px;background:{TARGET}"></span>' + fmt.pct(
        rate
    )


def _period(value: Any) -> str:
    """A period start or an instant as its UTC date (the session's time zone must not leak)."""
    if isinstance(value, datetime):
        value = (value.astimezone(UTC) if value.tzinfo else value).date().isoformat()
    return fmt.text(value)


def stability_block(stab: StabilityData | None) -> str:
    """Change failure rate and time to restore per period; the window's failed changes named."""
    parts = ['<div class="card stability"><h3>Stability: changes and incidents</h3>']
    if stab is None or stab.periods is None:
        parts.append(part.missing_table("stability") + "</div>")
        return "".join(parts)
    shown = [
        r
        for r in stab.periods
        if r.get("changes_done") or r.get("incidents_opened") or r.get("incidents_restored")
    ][-MAX_PERIODS:]
    if not shown:
        parts.append(
            '<p class="empty">No change requests or incidents yet (sync ServiceNow'
            " change_request and incident).</p></div>"
        )
        return "".join(parts)
    done = sum(int(r.get("changes_done") or 0) for r in shown)
    failed = sum(int(r.get("failed_changes") or 0) for r in shown)
    parts.append(
        '<div class="kpis">'
        f'<div class="kpi"><span class="label">Changes done (periods shown)</span>'
        f'<span class="value">{fmt.count(done)}</span></div>'
        f'<div class="kpi"><span class="label">Change failure rate</span>'
        f'<span class="value">{fmt.pct(failed / done if done else None)}</span></div>'
        "</div>"
    )
    headers = (
        "Period",
        "Changes done",
        "Failed",
        "Failure rate",
        "Incidents opened",
        "Restored",
        "Restore p50",
        "Restore p85",
        "Failed changes",
    )
    numeric = (False, True, True, True, True, True, True, True, False)
    head = "".join(
        f"<th{' class=num' if n else ''}>{h}</th>" for h, n in zip(headers, numeric, strict=True)
    )
    body = []
    for r in shown:
        names = ", ".join(fmt.text(k) for k in (r.get("failed_change_keys") or []))
        cells = (
            _period(r.get("period_start")),
            fmt.count(r.get("changes_done")),
            fmt.count(r.get("failed_changes")),
            _rate_cell(r.get("change_failure_rate")),
            fmt.count(r.get("incidents_opened")),
            fmt.count(r.get("incidents_restored")),
            fmt.days(r.get("time_to_restore_p50_days")),
            fmt.days(r.get("time_to_restore_p85_days")),
            names,
        )
        body.append(
            "<tr>"
            + "".join(
                f"<td{' class=num' if n else ''}>{c}</td>"
                for c, n in zip(cells, numeric, strict=True)
            )
            + "</tr>"
        )
    parts.append(
        f'<table class="stability"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )
    if (
        len(
            [
                r
                for r in stab.periods
                if r.get("changes_done") or r.get("incidents_opened") or r.get("incidents_restored")
            ]
        )
        > MAX_PERIODS
    ):
        parts.append(
            f'<p class="note">Last {MAX_PERIODS} periods with activity; all of them'
            " in stability.csv.</p>"
        )
    if stab.failed:
        items = "".join(
            f"<li><strong>{fmt.text(f['change'])}</strong> {fmt.text(f.get('title') or '')}"
            f" <small>(done {_period(f.get('done_at'))}; caused "
            f"{', '.join(fmt.text(i) for i in f.get('incidents') or [])})</small></li>"
            for f in stab.failed
        )
        parts.append(f'<h3>Failed changes in the window</h3><ul class="failed">{items}</ul>')
    parts.append(
        '<p class="note">A change failed when an incident names it in <em>caused_by</em>'
        " (ServiceNow's own link, never the latest deployment before the incident); it counts in"
        " the period the change was done. Time to restore: incident opened → resolved.</p>"
    )
    parts.append("</div>")
    return "".join(parts)


#: One line per value stream for `flowmetrics demo`: the flow across both tools in the window.
DEMO_SUMMARY_SQL = """
select d.value_stream,
       coalesce(sum(s.changes_done) filter (
           where s.period_start > b.window_start - interval 7 days), 0)::bigint as changes_done,
       round(sum(s.failed_changes) filter (where s.period_start > b.window_start - interval 7 days)
           / nullif(sum(s.changes_done) filter (
               where s.period_start > b.window_start - interval 7 days), 0), 2) as failure_rate,
       d.items as shipped_items,
       round(d.idea_to_production_p50_days, 1) as idea_to_prod_p50_d,
       round(d.done_to_production_p50_days, 1) as done_to_prod_p50_d
from metrics.delivery as d
cross join core.build_settings as b
left join metrics.stability as s on s.value_stream = d.value_stream
group by d.value_stream, d.items, d.idea_to_production_p50_days, d.done_to_production_p50_days
order by d.value_stream = 'all' desc, d.value_stream
"""
