"""Inline SVG for the report's "Flow over time" pictures: cumulative flow, ageing WIP, trends.

Same rules as `report_svg`: one `<svg>` with a `viewBox` per chart (it scales to the page and to
A4), no scripts or fonts, every data text escaped with `fmt.text`, Okabe-Ito colours.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from datetime import date, datetime

from reports import report_format as fmt
from reports.report_data import Row
from reports.report_svg import GRID, INK, MUTED, TARGET, _num, _period_label, _t, nice_step

#: Stage colours in stage order (Okabe-Ito, then two greys' neighbours); the last stage (done)
#: is always drawn grey so the work in progress stands out.
STAGE_COLOURS = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#cc79a7",
    "#56b4e9",
    "#d55e00",
    "#f0e442",
    "#7f3c8d",
    "#11a579",
    "#3969ac",
)
DONE_COLOUR = "#bcc3ca"
OVER = "#b3261e"
UNDER = "#0072b2"

#: The most dots the ageing chart draws (the oldest ones); the rest are in aging_wip.csv.
MAX_DOTS = 600
#: Items over the SLE named on the chart itself (the oldest ones); the list below has more.
LABELLED = 8


def stage_colour(index: int, last: bool) -> str:
    return DONE_COLOUR if last else STAGE_COLOURS[index % len(STAGE_COLOURS)]


def _axis_y(
    out: list[str], left: float, right: float, y, top_value: float, step: float, unit: str = ""
) -> None:
    v = 0.0
    while v <= top_value + 1e-9:
        out.append(
            f'<line x1="{left}" x2="{right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="{GRID}"/>'
        )
        label = f"{v:,.0f}{unit}" if step >= 1 else f"{v:,.1f}{unit}"
        out.append(_t(left - 6, y(v) + 4, label, size=10, anchor="end", fill=MUTED))
        v += step


def _day_label(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.strftime("%d %b")
    return str(value)


def cumulative_flow(
    days: Sequence[object], stages: Sequence[str], counts: dict[str, list[float]]
) -> str:
    """Stacked bands by stage over the days: the last stage at the bottom, the first on top.

    `counts[stage][i]` is the band's height on `days[i]` (the caller decides what the done band
    shows: done since the window's first day).
    """
    width, height = 560.0, 270.0
    left, right, top, bottom = 44.0, 12.0, 14.0, 34.0
    pw, ph = width - left - right, height - top - bottom
    n = len(days)
    order = list(reversed(stages))  # done at the bottom, the backlog on top
    totals = [sum(counts[s][i] for s in stages) for i in range(n)]
    ymax = max([*totals, 1.0])
    step = max(1.0, nice_step(ymax, 4))
    ytop = math.ceil(ymax / step) * step

    def x(i: int) -> float:
        return left + (i / (n - 1) * pw if n > 1 else pw / 2)

    def y(v: float) -> float:
        return top + ph - v / ytop * ph

    out = [
        f'<svg class="cfd" viewBox="0 0 {width:.0f} {height:.0f}" role="img"'
        ' aria-label="Cumulative flow diagram">'
    ]
    _axis_y(out, left, width - right, y, ytop, step)
    base = [0.0] * n
    for stage in order:
        idx = stages.index(stage)
        colour = stage_colour(idx, idx == len(stages) - 1)
        upper = [base[i] + counts[stage][i] for i in range(n)]
        if n == 1:  # one day: a bar rather than an invisible band
            pts = [
                (x(0) - 6, y(base[0])),
                (x(0) - 6, y(upper[0])),
                (x(0) + 6, y(upper[0])),
                (x(0) + 6, y(base[0])),
            ]
        else:
            pts = [(x(i), y(upper[i])) for i in range(n)]
            pts += [(x(i), y(base[i])) for i in reversed(range(n))]
        poly = " ".join(f"{px:.1f},{py:.1f}" for px, py in pts)
        out.append(
            f'<polygon class="band" points="{poly}" fill="{colour}" fill-opacity="0.9"'
            f' stroke="#fff" stroke-width="0.6"><title>{fmt.text(stage)}</title>'
            "</polygon>"
        )
        base = upper
    every = max(1, math.ceil(n / 7))
    for i in range(0, n, every):
        out.append(
            _t(x(i), height - bottom + 14, fmt.text(_day_label(days[i])), size=10, fill=MUTED)
        )
    out.append(_t(left + pw / 2, height - 4, "day (UTC)", size=11, fill=MUTED))
    out.append("</svg>")
    return "".join(out)


def _jitter(item_id: str) -> float:
    """A stable horizontal offset in [-1, 1] per item, so dots of one stage do not pile up."""
    return (zlib.crc32(item_id.encode("utf-8")) % 2001) / 1000.0 - 1.0


def short_key(item_id: str) -> str:
    """'jira:PAY-12' -> 'PAY-12' (the source prefix is clear from the key's shape)."""
    return item_id.split(":", 1)[-1]


def aging_wip(items: Sequence[Row], stages: Sequence[str], sle: float | None) -> str:
    """One dot per open item, by stage (x) and age (y); the SLE as a dashed line; the oldest
    items over it labelled with their key."""
    width, height = 560.0, 290.0
    left, right, top, bottom = 52.0, 12.0, 16.0, 40.0
    pw, ph = width - left - right, height - top - bottom
    cols = [s for s in stages if any(r.get("stage") == s for r in items)] or list(stages[:1])
    slot = pw / len(cols)
    shown = sorted(items, key=lambda r: -_num(r.get("age_days")))[:MAX_DOTS]
    ages = [_num(r.get("age_days")) for r in shown]
    ymax = max([*ages, sle or 0.0, 1.0]) * 1.08
    step = nice_step(ymax, 5)
    ytop = math.ceil(ymax / step) * step

    def y(v: float) -> float:
        return top + ph - min(max(v, 0.0), ytop) / ytop * ph

    out = [
        f'<svg class="aging" viewBox="0 0 {width:.0f} {height:.0f}" role="img"'
        ' aria-label="Ageing work in progress">'
    ]
    _axis_y(out, left, width - right, y, ytop, step)
    for i, stage in enumerate(cols):
        cx = left + (i + 0.5) * slot
        if i:
            out.append(
                f'<line x1="{left + i * slot:.1f}" x2="{left + i * slot:.1f}"'
                f' y1="{top}" y2="{top + ph}" stroke="{GRID}" stroke-dasharray="2 3"/>'
            )
        label = fmt.text(
            stage if len(stage) <= slot / 6.5 else stage[: max(3, int(slot / 6.5) - 1)] + "…"
        )
        out.append(_t(cx, height - bottom + 14, label, size=11, weight="bold"))
    placed: list[tuple[float, float, float, float]] = []
    for r in shown:
        stage = r.get("stage")
        if stage not in cols:
            continue
        age = _num(r.get("age_days"))
        over = sle is not None and age > sle
        cx = left + (cols.index(stage) + 0.5) * slot + _jitter(str(r.get("item_id"))) * slot * 0.3
        cy = y(age)
        colour = OVER if over else UNDER
        key = fmt.text(short_key(str(r.get("item_id"))))
        out.append(
            f'<circle class="{"over" if over else "dot"}" cx="{cx:.1f}" cy="{cy:.1f}"'
            f' r="3.5" fill="{colour}" fill-opacity="0.75" stroke="#fff"'
            f' stroke-width="0.6"><title>{key}: {fmt.days(age)},'
            f" {fmt.text(r.get('status'))}</title></circle>"
        )
        if over and len(placed) < LABELLED:
            label = _placed_label(cx, cy, short_key(str(r.get("item_id"))), placed, width - right)
            if label:
                out.append(label)
    if sle is not None:
        sy = y(sle)
        out.append(
            f'<line class="sle" x1="{left}" x2="{width - right}" y1="{sy:.1f}"'
            f' y2="{sy:.1f}" stroke="{TARGET}" stroke-dasharray="6 4" stroke-width="2"/>'
        )
        out.append(
            f'<text x="{width - right - 4:.1f}" y="{sy - 5:.1f}" font-size="11"'
            f' text-anchor="end" font-weight="bold" fill="{TARGET}" stroke="#fff"'
            f' stroke-width="3" paint-order="stroke">SLE {fmt.days(sle)}'
            " (p85 lead time)</text>"
        )
    out.append(
        f'<text x="12" y="{top + ph / 2:.1f}" font-size="11" text-anchor="middle"'
        f' fill="{MUTED}" transform="rotate(-90 12 {top + ph / 2:.1f})">age (days)</text>'
    )
    out.append("</svg>")
    return "".join(out)


def _placed_label(
    cx: float, cy: float, key: str, placed: list[tuple[float, float, float, float]], limit: float
) -> str:
    """The key beside its dot (right, else left), or "" when it would overlap a placed one."""
    w = len(key) * 5.9 + 2
    for x0 in (cx + 5, cx - 5 - w):
        box = (x0, cy - 8, x0 + w, cy + 3)
        if box[2] > limit or box[0] < 0:
            continue
        if any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
            continue
        placed.append(box)
        return (
            f'<text x="{x0:.1f}" y="{cy + 3:.1f}" font-size="10" fill="{OVER}"'
            ' stroke="#fff" stroke-width="3" paint-order="stroke"'
            f' class="over-label">{fmt.text(key)}</text>'
        )
    return ""


def _panel(
    out: list[str],
    x0: float,
    width: float,
    height: float,
    title: str,
    periods: Sequence[object],
    period: str | None,
    series: Sequence[tuple[str, str, Sequence[float | None], bool]],
    ratio: bool = False,
) -> None:
    """One small multiple: lines (or bars when the flag says so) over the periods."""
    left, right, top, bottom = 40.0, 8.0, 26.0, 30.0
    pw, ph = width - left - right, height - top - bottom
    n = len(periods)
    values = [v for _, _, vals, _ in series for v in vals if v is not None]
    if ratio:
        ytop, step = 1.0, 0.25
    else:
        ymax = max([*values, 1.0])
        step = nice_step(ymax, 4)
        ytop = math.ceil(ymax / step) * step

    def x(i: int) -> float:
        return x0 + left + (i + 0.5) * pw / n

    def y(v: float) -> float:
        return top + ph - min(max(v, 0.0), ytop) / ytop * ph

    out.append(_t(x0 + left, 14, title, size=12, anchor="start", weight="bold"))
    v = 0.0
    while v <= ytop + 1e-9:
        out.append(
            f'<line x1="{x0 + left}" x2="{x0 + width - right}" y1="{y(v):.1f}"'
            f' y2="{y(v):.1f}" stroke="{GRID}"/>'
        )
        label = f"{v * 100:.0f}%" if ratio else (f"{v:,.0f}" if step >= 1 else f"{v:,.1f}")
        out.append(_t(x0 + left - 5, y(v) + 4, label, size=10, anchor="end", fill=MUTED))
        v += step
    every = max(1, math.ceil(n / 5))
    for i in range(0, n, every):
        out.append(
            _t(
                x(i),
                height - bottom + 14,
                fmt.text(_period_label(periods[i], period)),
                size=10,
                fill=MUTED,
            )
        )
    for name, colour, vals, bars in series:
        if bars:
            bw = pw / n * 0.7
            for i, val in enumerate(vals):
                if val:
                    out.append(
                        f'<rect x="{x(i) - bw / 2:.1f}" y="{y(val):.1f}" width="{bw:.1f}"'
                        f' height="{y(0) - y(val):.1f}" fill="{colour}">'
                        f"<title>{fmt.text(name)}: {fmt.number(val, 0)}</title></rect>"
                    )
            continue
        segment: list[str] = []
        for i, val in enumerate([*vals, None]):
            if val is None:  # unknown (nothing done): the line breaks, it does not drop to 0
                if len(segment) > 1:
                    out.append(
                        f'<polyline points="{" ".join(segment)}" fill="none"'
                        f' stroke="{colour}" stroke-width="2"/>'
                    )
                for p in segment:
                    px, py = p.split(",")
                    out.append(f'<circle cx="{px}" cy="{py}" r="2.5" fill="{colour}"/>')
                segment = []
            else:
                segment.append(f"{x(i):.1f},{y(val):.1f}")


def trends(rows: Sequence[Row], period: str | None) -> str:
    """Three small multiples per period: lead time p50 / p85, throughput, flow efficiency."""
    width, height, gap = 1120.0, 190.0, 16.0
    panel = (width - 2 * gap) / 3
    periods = [r.get("period_start") for r in rows]

    def col(name: str) -> list[float | None]:
        return [None if fmt.is_missing(r.get(name)) else float(r[name]) for r in rows]

    out = [
        f'<svg class="trends" viewBox="0 0 {width:.0f} {height:.0f}" role="img"'
        ' aria-label="Trends per period">'
    ]
    _panel(
        out,
        0,
        panel,
        height,
        "Lead time (days): p50 and p85",
        periods,
        period,
        [
            ("p85", "#d55e00", col("lead_time_p85_days"), False),
            ("p50", "#0072b2", col("lead_time_p50_days"), False),
        ],
    )
    _panel(
        out,
        panel + gap,
        panel,
        height,
        "Throughput (items done)",
        periods,
        period,
        [("items done", "#009e73", col("items_done"), True)],
    )
    _panel(
        out,
        2 * (panel + gap),
        panel,
        height,
        "Flow efficiency (process / lead)",
        periods,
        period,
        [("flow efficiency", INK, col("flow_efficiency"), False)],
        ratio=True,
    )
    out.append("</svg>")
    return "".join(out)
