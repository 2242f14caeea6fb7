"""Inline SVG charts for the report, drawn from Python (no scripts, no fonts, no network).

Each function returns one `<svg>` element with a `viewBox`, so it scales to the width of the
page on screen and on A4. Every text from the data goes through `fmt.text` (HTML-escaped).
Colours are the Okabe-Ito palette: distinguishable by colour-blind readers and in grey print.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime

from reports import report_format as fmt
from reports.report_data import Row

INK = "#1f2933"
MUTED = "#616e7c"
GRID = "#d9dee3"
BLOCK = "#e8f1f8"
BLOCK_EDGE = "#0b4f7c"
WAIT = "#e69f00"
TARGET = "#b3261e"

FLOW_TYPES: tuple[tuple[str, str, str], ...] = (
    ("feature", "feature_items", "#0072b2"),
    ("defect", "defect_items", "#d55e00"),
    ("debt", "debt_items", "#e69f00"),
    ("risk", "risk_items", "#cc79a7"),
    ("incident", "incident_items", "#56b4e9"),
)


def _num(value: object) -> float:
    return 0.0 if fmt.is_missing(value) else float(value)  # type: ignore[arg-type]


def _t(
    x: float,
    y: float,
    body: str,
    *,
    size: int = 12,
    anchor: str = "middle",
    weight: str = "normal",
    fill: str = INK,
    cls: str = "",
) -> str:
    """A text element; `body` must already be escaped."""
    c = f' class="{cls}"' if cls else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"'
        f' font-weight="{weight}" fill="{fill}"{c}>{body}</text>'
    )


def _shorten(name: str, max_chars: int) -> str:
    return name if len(name) <= max_chars else name[: max(1, max_chars - 1)] + "…"


def fit_label(name: str, box_width: float) -> tuple[list[str], int]:
    """One line in the largest font that fits, else two lines at 11px, else truncated."""
    for size in (13, 12, 11):
        if len(name) <= int((box_width - 8) / (size * 0.62)):
            return [name], size
    per_line = max(4, int((box_width - 8) / (11 * 0.62)))
    words = name.split()
    first = ""
    while words and len(f"{first} {words[0]}".strip()) <= per_line:
        first = f"{first} {words.pop(0)}".strip()
    if not first:  # one long word: break it
        return [_shorten(name, per_line)], 11
    rest = " ".join(words)
    return ([first, _shorten(rest, per_line)] if rest else [first]), 11


def _label(cx: float, y: float, name: str, box_width: float) -> str:
    lines, size = fit_label(name, box_width)
    if len(lines) == 1:
        return _t(cx, y, fmt.text(lines[0]), size=size, weight="bold", cls="stage-name")
    spans = "".join(
        f'<tspan x="{cx:.1f}" dy="{0 if i == 0 else size + 1}">{fmt.text(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    return _t(cx, y - 7, spans, size=size, weight="bold", cls="stage-name")


def nice_step(span: float, target_steps: int) -> float:
    """A 1-2-5 step that cuts `span` into about `target_steps` pieces."""
    if span <= 0:
        return 1.0
    raw = span / target_steps
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def value_stream_map(stages: Sequence[Row], name: str) -> str:
    """Process blocks in stage order, wait triangles between them, a timeline ladder below."""
    n = len(stages)
    width, margin = 1120.0, 8.0
    slot = (width - 2 * margin) / n
    tri_w = min(slot * 0.30, 70.0)
    block_w = slot - tri_w - 6
    block_y, block_h = 12.0, 58.0
    box_y = block_y + block_h + 14
    # docs/contract.md §6: with blocked time (reports.report_blocked.mark_vsm) each block gets a marked
    # share along its foot and the data box a fourth line.
    blocked = any("blocked_time_days" in r for r in stages)
    box_h = 90.0 if blocked else 70.0
    ladder_hi, ladder_lo = box_y + box_h + 26, box_y + box_h + 52
    height = ladder_lo + 26
    out = [
        f'<svg class="vsm" viewBox="0 0 {width:.0f} {height:.0f}" role="img"'
        f' aria-label="Value stream map: {fmt.text(name)}">',
    ]
    for i, row in enumerate(stages):
        x0 = margin + i * slot
        stage = str(row.get("stage"))
        lead, proc = row.get("lead_time_days"), row.get("process_time_days")
        wait = max(_num(lead) - _num(proc), 0.0)
        # The wait triangle (inventory in the classic notation) before the block.
        cx, ty = x0 + tri_w / 2, block_y + 12
        out.append(
            f'<polygon class="wait" points="{cx:.1f},{ty:.1f} {cx - 15:.1f},{ty + 30:.1f}'
            f' {cx + 15:.1f},{ty + 30:.1f}" fill="{WAIT}" stroke="{INK}" stroke-width="1"/>'
        )
        out.append(_t(cx, ty + 24, "W", size=11, weight="bold"))
        out.append(
            _t(
                cx,
                ty + 46,
                fmt.days(wait) if not fmt.is_missing(lead) else fmt.MISSING,
                size=11,
                fill=MUTED,
            )
        )
        # The process block.
        bx = x0 + tri_w
        out.append(
            f'<g class="stage"><title>{fmt.text(stage)}</title>'
            f'<rect x="{bx:.1f}" y="{block_y:.1f}" width="{block_w:.1f}" height="{block_h:.1f}"'
            f' rx="3" fill="{BLOCK}" stroke="{BLOCK_EDGE}" stroke-width="1.5"/>'
            + _label(bx + block_w / 2, block_y + 24, stage, block_w)
            + _t(
                bx + block_w / 2,
                block_y + 47,
                f"{fmt.count(row.get('items_visited'))} items",
                size=11,
                fill=MUTED,
            )
            + "</g>"
        )
        if blocked:
            out.append(
                _blocked_share(
                    bx, block_y + block_h - 7, block_w - 2, lead, row.get("blocked_time_days")
                )
            )
        # The data box under the block.
        lines: tuple[tuple[str, str], ...] = (
            ("Lead", fmt.days(lead)),
            ("Process", fmt.days(proc)),
            ("%C/A", fmt.pct(row.get("pct_complete_accurate"))),
        )
        if blocked:
            lines += (("Blocked", fmt.days(row.get("blocked_time_days"))),)
        out.append(
            f'<rect x="{bx:.1f}" y="{box_y:.1f}" width="{block_w:.1f}" height="{box_h:.0f}"'
            f' fill="#fff" stroke="{GRID}"/>'
        )
        for j, (label, value) in enumerate(lines):
            y = box_y + 20 + j * 20
            out.append(_t(bx + 6, y, label, size=11, anchor="start", fill=MUTED))
            out.append(_t(bx + block_w - 6, y, value, size=12, anchor="end", weight="bold"))
        # The timeline ladder: waiting up top (under the triangle), working below (the block).
        out.append(
            f'<polyline points="{x0:.1f},{ladder_hi:.1f} {bx:.1f},{ladder_hi:.1f}'
            f" {bx:.1f},{ladder_lo:.1f} {bx + block_w:.1f},{ladder_lo:.1f}"
            f' {x0 + slot:.1f},{ladder_lo:.1f} {x0 + slot:.1f},{ladder_hi:.1f}"'
            f' fill="none" stroke="{INK}" stroke-width="1.5"/>'
        )
        out.append(_t(bx + block_w / 2, ladder_lo + 16, fmt.days(proc), size=11))
    out.append(_t(margin, ladder_hi - 6, "wait", size=10, anchor="start", fill=MUTED))
    out.append(_t(margin, ladder_lo + 16, "process", size=10, anchor="start", fill=MUTED))
    out.append("</svg>")
    return "".join(out)


BLOCKED = "#b3261e"


def _blocked_share(x: float, y: float, width: float, lead: object, blocked: object) -> str:
    """A strip along a block's foot: its full width is the stage's lead time, the red part the
    blocked time inside it (hatched-free so it prints; the data box gives the number)."""
    share = 0.0
    if not fmt.is_missing(lead) and not fmt.is_missing(blocked) and _num(lead) > 0:
        share = min(max(_num(blocked) / _num(lead), 0.0), 1.0)
    return (
        f'<g class="blocked-share"><title>blocked {fmt.days(blocked)} of {fmt.days(lead)}'
        f'</title><rect x="{x + 1:.1f}" y="{y:.1f}" width="{width:.1f}" height="4"'
        f' fill="#fff" stroke="{BLOCKED}" stroke-width="0.8"/>'
        f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{width * share:.1f}" height="4"'
        f' fill="{BLOCKED}"/></g>'
    )


def _count_scale(ymax: float) -> tuple[int, int]:
    """A count axis up to `ymax`: a whole step of about a quarter, and the top it rounds to."""
    ystep = max(1, int(nice_step(ymax, 4)))
    return ystep, math.ceil(ymax / ystep) * ystep


def _count_grid(
    out: list[str], left: float, right: float, y: Callable[[float], float], ytop: int, ystep: int
) -> None:
    """Horizontal grid lines from 0 to `ytop`, each labelled with its count on the left."""
    for c in range(0, ytop + 1, ystep):
        out.append(
            f'<line x1="{left}" x2="{right}" y1="{y(c):.1f}" y2="{y(c):.1f}" stroke="{GRID}"/>'
        )
        out.append(_t(left - 6, y(c) + 4, str(c), size=10, anchor="end", fill=MUTED))


def histogram(values: Sequence[float], percentiles: Sequence[tuple[str, object]]) -> str:
    """Lead-time histogram with vertical percentile lines ('p50 3.2 d')."""
    width, height = 560.0, 260.0
    left, right, top, bottom = 44.0, 14.0, 46.0, 36.0
    pvals = [float(v) for _, v in percentiles if not fmt.is_missing(v)]
    hi = max(max(values), *pvals) if pvals else max(values)
    overflow_at = None
    if pvals and hi > 2.5 * max(pvals) and max(pvals) > 0:
        overflow_at = max(pvals) * 1.5  # a long tail would squash the body of the distribution
        hi = overflow_at
    step = nice_step(max(hi, 1.0), 16)
    nbins = max(1, math.ceil(hi / step) + (1 if hi % step == 0 else 0))
    if overflow_at is not None:
        nbins = math.ceil(overflow_at / step)
    counts = [0] * nbins
    for v in values:
        counts[min(int(max(v, 0.0) // step), nbins - 1)] += 1
    span = nbins * step
    ymax = max(counts) or 1
    ystep, ytop = _count_scale(ymax)
    pw, ph = width - left - right, height - top - bottom

    def x(v: float) -> float:
        return left + min(max(v, 0.0), span) / span * pw

    def y(c: float) -> float:
        return top + ph - c / ytop * ph

    out = [
        f'<svg class="hist" viewBox="0 0 {width:.0f} {height:.0f}" role="img"'
        ' aria-label="Lead-time distribution">'
    ]
    _count_grid(out, left, width - right, y, ytop, ystep)
    bw = pw / nbins
    for i, c in enumerate(counts):
        if c:
            out.append(
                f'<rect class="bin" x="{left + i * bw + 1:.1f}" y="{y(c):.1f}"'
                f' width="{max(bw - 2, 1):.1f}" height="{y(0) - y(c):.1f}" fill="#0072b2">'
                f"<title>{fmt.number(i * step)}–{fmt.number((i + 1) * step)} d: {c}</title></rect>"
            )
    label_every = max(1, math.ceil(nbins / 8))
    for i in range(0, nbins + 1, label_every):
        label = fmt.number(i * step, 0 if step >= 1 else 1)
        if overflow_at is not None and i == nbins:
            label += "+"
        out.append(_t(left + i * bw, height - bottom + 14, label, size=10, fill=MUTED))
    out.append(_t(left + pw / 2, height - 4, "lead time (days)", size=11, fill=MUTED))
    for k, (name, value) in enumerate(percentiles):
        if fmt.is_missing(value):
            continue
        px = x(float(value))
        out.append(
            f'<line class="pct-line" x1="{px:.1f}" x2="{px:.1f}" y1="{top - 4 - 12 * (2 - k):.1f}"'
            f' y2="{y(0):.1f}" stroke="{INK}" stroke-dasharray="4 3" stroke-width="1.5"/>'
        )
        anchor = "end" if px > left + pw * 0.75 else "start"
        dx = -4 if anchor == "end" else 4
        out.append(
            _t(
                px + dx,
                top - 8 - 12 * (2 - k),
                f"{name} {fmt.days(value)}",
                size=11,
                anchor=anchor,
                weight="bold",
            )
        )
    out.append("</svg>")
    return "".join(out)


def _period_label(value: object, period: str | None) -> str:
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(UTC)  # periods are UTC; the session time zone must not shift them
    if isinstance(value, datetime | date):
        if period == "month":
            return value.strftime("%b %Y")
        return value.strftime("%d %b")
    return str(value)


def flow_distribution(rows: Sequence[Row], debt_target: float, period: str | None) -> str:
    """Stacked bars of items done by flow type, the effort-based debt ratio and its target."""
    width, height = 560.0, 260.0
    left, right, top, bottom = 40.0, 46.0, 18.0, 40.0
    pw, ph = width - left - right, height - top - bottom
    totals = [sum(_num(r.get(col)) for _, col, _ in FLOW_TYPES) for r in rows]
    ymax = max([*totals, 1.0])
    ystep, ytop = _count_scale(ymax)
    n = len(rows)
    bw = pw / n

    def y(c: float) -> float:
        return top + ph - c / ytop * ph

    def yr(r: float) -> float:
        return top + ph - min(max(r, 0.0), 1.0) * ph

    out = [
        f'<svg class="flow" viewBox="0 0 {width:.0f} {height:.0f}" role="img"'
        ' aria-label="Flow distribution per period">'
    ]
    _count_grid(out, left, width - right, y, ytop, ystep)
    for r in (0.0, 0.5, 1.0):
        out.append(
            _t(width - right + 6, yr(r) + 4, f"{r * 100:.0f}%", size=10, anchor="start", fill=MUTED)
        )
    label_every = max(1, math.ceil(n / 8))
    segments: list[list[str]] = [[]]
    for i, row in enumerate(rows):
        x0 = left + i * bw
        base = 0.0
        for ftype, col, colour in FLOW_TYPES:
            v = _num(row.get(col))
            if v > 0:
                out.append(
                    f'<rect x="{x0 + bw * 0.15:.1f}" y="{y(base + v):.1f}" width="{bw * 0.7:.1f}"'
                    f' height="{y(base) - y(base + v):.1f}" fill="{colour}" stroke="#fff"'
                    f' stroke-width="0.5"><title>{ftype}: {fmt.count(v)}</title></rect>'
                )
            base += v
        if i % label_every == 0:
            out.append(
                _t(
                    x0 + bw / 2,
                    height - bottom + 14,
                    fmt.text(_period_label(row.get("period_start"), period)),
                    size=10,
                    fill=MUTED,
                )
            )
        ratio = row.get("debt_ratio_effort")
        if fmt.is_missing(ratio):
            segments.append([])  # a period with no effort breaks the line: unknown, not 0%
        else:
            segments[-1].append(f"{x0 + bw / 2:.1f},{yr(float(ratio)):.1f}")
    ty = yr(debt_target)
    out.append(
        f'<line class="debt-target" x1="{left}" x2="{width - right}" y1="{ty:.1f}" y2="{ty:.1f}"'
        f' stroke="{TARGET}" stroke-dasharray="6 4" stroke-width="2"/>'
    )
    for seg in segments:
        if len(seg) > 1:
            out.append(
                f'<polyline class="debt-line" points="{" ".join(seg)}" fill="none"'
                f' stroke="{INK}" stroke-width="2"/>'
            )
    for p in (p for seg in segments for p in seg):
        px, py = p.split(",")
        out.append(
            f'<circle cx="{px}" cy="{py}" r="3" fill="#fff" stroke="{INK}" stroke-width="1.5"/>'
        )
    out.append(
        f'<text x="{left + 4:.1f}" y="{ty - 5:.1f}" font-size="11" font-weight="bold"'
        f' fill="{TARGET}" stroke="#fff" stroke-width="3" paint-order="stroke">'
        f"debt target {fmt.pct(debt_target)}</text>"
    )
    out.append(_t(left + pw / 2, height - 6, "period start", size=11, fill=MUTED))
    out.append("</svg>")
    return "".join(out)
