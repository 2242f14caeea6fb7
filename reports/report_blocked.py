"""The report's blocked-work and hand-off parts (docs/contract.md §6): where work waits inside active
statuses and between owners.

Kept apart from `report.py` so the page's other sections do not change: `load_blocked` reads
what it needs (each table optional: a warehouse built before docs/contract.md §6 simply has no such
section), `mark_vsm` adds each block's blocked time to the value stream map rows (the map then
draws it inside the block), and `blocked_section` renders "Blocked by reason" and "Hand-offs by
group" with the reassignment loops named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from reports import report_format as fmt
from reports import report_parts as part
from warehouse.catalog import table_columns

Row = dict[str, Any]

REASON_LABELS = {
    "flagged": "Flagged (impediment)",
    "blocked_by": "Blocked by another issue",
    "on_hold": "On hold",
}
TOP_OWNERS = 10
TOP_LOOPS = 5


@dataclass
class BlockedData:
    """One value stream's docs/contract.md §6 figures (None = table not built)."""

    reasons: list[Row] | None = None
    handoffs: list[Row] | None = None
    loops: list[Row] | None = None
    stages: list[Row] | None = None
    #: window totals from metrics.item_flow: lead, process, blocked, blocked-in-active days
    totals: Row = field(default_factory=dict)

    @property
    def stream_row(self) -> Row | None:
        return next((r for r in self.handoffs or [] if r.get("owner") is None), None)


def _read(con: duckdb.DuckDBPyConnection, table: str, stream: str, order: str) -> list[Row] | None:
    if "value_stream" not in table_columns(con, "metrics", table):
        return None
    sql = f"select * from metrics.{table} where value_stream = ? order by {order}"  # noqa: S608
    return part.rows(con, sql, [stream])


def load_blocked(
    con: duckdb.DuckDBPyConnection, stream: str, window: tuple[Any, Any] | None
) -> BlockedData:
    """The stream's blocked-work tables; `window` = (start, as_of) for the net efficiency."""
    data = BlockedData(
        reasons=_read(con, "blocked_work", stream, "total_blocked_days desc, reason"),
        handoffs=_read(
            con, "handoffs", stream, "owner is not null, handoffs_in desc, total_days desc, owner"
        ),
        loops=_read(con, "handoff_loops", stream, "loops desc, owner, via_owner"),
        stages=_read(con, "blocked_stages", stream, "stage_order, stage"),
    )
    cols = table_columns(con, "metrics", "item_flow")
    if (
        window
        and window[0] is not None
        and {"blocked_active_days", "blocked_time_days"} <= set(cols)
    ):
        found = part.rows(
            con,
            "select sum(lead_time_days) as lead, sum(process_time_days) as process,"
            " sum(blocked_time_days) as blocked, sum(blocked_active_days) as blocked_active"
            " from metrics.item_flow where done_at > ? and done_at <= ?"
            " and (? = 'all' or value_stream = ?)",
            [window[0], window[1], stream, stream],
        )
        data.totals = found[0] if found else {}
    return data


def mark_vsm(vsm: list[Row] | None, data: BlockedData) -> None:
    """Copy each stage's blocked time into the value stream map rows (drawn in the block)."""
    by_stage = {r["stage"]: r for r in data.stages or []}
    for row in vsm or []:
        found = by_stage.get(row.get("stage"))
        if found is not None:
            row["blocked_time_days"] = found.get("blocked_time_days")
            row["blocked_active_days"] = found.get("blocked_active_days")


def net_efficiency(data: BlockedData) -> float | None:
    """(Σ process − Σ blocked in active) / Σ lead over the window's items; None without lead."""
    t = data.totals
    lead = t.get("lead")
    if not lead or t.get("process") is None:
        return None
    return (float(t["process"]) - float(t.get("blocked_active") or 0)) / float(lead)


def _bar(share: Any) -> str:
    if fmt.is_missing(share):
        return ""
    width = min(max(float(share), 0.0), 1.0) * 60
    return f'<span class="bar blocked" style="width:{width:.0f}px"></span>'


def _reasons_card(data: BlockedData) -> str:
    parts = ['<div class="card blocked"><h3>Blocked by reason</h3>']
    net = net_efficiency(data)
    t = data.totals
    if t.get("lead"):
        parts.append(
            '<p class="note">Flow efficiency of the window\'s items (Σ process ÷ Σ lead) '
            f"<b>{fmt.pct((t.get('process') or 0) / t['lead'])}</b>, net of blocked time "
            f"<b>{fmt.pct(net)}</b>: {fmt.days(t.get('blocked_active'))} of touch time was "
            "blocked.</p>"
        )
    note = part.absent(
        data.reasons, "blocked_work", "No blocked time recorded for items done in the window."
    )
    if note:
        parts.append(note)
    else:
        rows = [
            (
                fmt.text(REASON_LABELS.get(r.get("reason"), r.get("reason"))),
                fmt.count(r.get("items")),
                fmt.days(r.get("total_blocked_days")),
                fmt.days(r.get("mean_blocked_days")),
                fmt.days(r.get("p85_blocked_days")),
                _bar(r.get("share_of_lead_time")) + fmt.pct(r.get("share_of_lead_time")),
            )
            for r in data.reasons
        ]
        headers = [
            ("Reason", False),
            ("Items", True),
            ("Total blocked", True),
            ("Mean", True),
            ("p85", True),
            ("Share of lead", True),
        ]
        parts.append(part.table(headers, rows, "blocked"))
        parts.append(
            '<p class="note">An item flagged and blocked by a link at the same time '
            "counts under both reasons; the efficiency above counts it once. In the "
            "value stream map the red strip at the foot of each block is the share of "
            "the stage's time its items were blocked.</p>"
        )
    parts.append("</div>")
    return "".join(parts)


def _handoffs_card(data: BlockedData) -> str:
    parts = ['<div class="card handoffs"><h3>Hand-offs by group</h3>']
    note = part.absent(data.handoffs, "handoffs", "No owner recorded for items done in the window.")
    if note:
        parts.append(note)
    else:
        stream = data.stream_row or {}
        parts.append(
            '<p class="note">'
            f"{fmt.number(stream.get('reassignments_per_item'), 2)} reassignments per item; "
            f"<b>{fmt.pct(stream.get('first_owner_resolution_rate'))}</b> done by their first "
            f"owner ({fmt.count(stream.get('items'))} items with an owner).</p>"
        )
        owners = [r for r in data.handoffs if r.get("owner") is not None][:TOP_OWNERS]
        rows = [
            (
                fmt.text(r.get("owner")),
                fmt.count(r.get("items")),
                fmt.days(r.get("total_days")),
                fmt.days(r.get("mean_days")),
                fmt.count(r.get("handoffs_in")),
                fmt.count(r.get("loops")),
            )
            for r in owners
        ]
        headers = [
            ("Group", False),
            ("Items", True),
            ("Time held", True),
            ("Mean", True),
            ("Hand-offs in", True),
            ("Came back", True),
        ]
        parts.append(part.table(headers, rows, "handoffs"))
        if data.loops:
            named = "".join(
                f"<li>{fmt.text(r.get('owner'))} → {fmt.text(r.get('via_owner'))} → "
                f"{fmt.text(r.get('owner'))}: {_times(r.get('loops'))}, "
                f"{fmt.count(r.get('items'))} item{'' if r.get('items') == 1 else 's'}</li>"
                for r in data.loops[:TOP_LOOPS]
            )
            parts.append(
                f'<p class="note">Reassignment loops (work sent back where it came '
                f'from):</p><ul class="loops">{named}</ul>'
            )
        elif data.loops is not None:
            parts.append('<p class="note">No reassignment loops.</p>')
    parts.append("</div>")
    return "".join(parts)


def _times(n: Any) -> str:
    return "once" if n == 1 else f"{fmt.count(n)} times"


def blocked_section(data: BlockedData | None) -> str:
    """The two cards side by side; nothing at all for a warehouse without docs/contract.md §6 tables."""
    if data is None or (data.reasons is None and data.handoffs is None):
        return ""
    return (
        '<div class="grid blocked-handoffs">'
        + _reasons_card(data)
        + _handoffs_card(data)
        + "</div>"
    )


CSS = """
.bar.blocked { background: #b3261e; }
ul.loops { margin: 2px 0 0 18px; padding: 0; }
"""
