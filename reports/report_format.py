"""How the report writes numbers: one place, so the page and its tests agree.

Days carry one decimal ("3.2 d"), ratios are percentages with one decimal ("18.5%"), counts
are whole numbers with thousands separators. A missing value (NULL, NaN) is an en dash, never
"0" or "nan": a ratio with no denominator is unknown, not zero.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from html import escape
from typing import Any

MISSING = "–"

#: Targets whose value is a ratio in [0, 1]; the rest are measured in days.
RATIO_TARGETS = frozenset(
    {
        "tech_debt_ratio_min",
        "unplanned_ratio_max",
        "flow_efficiency_min",
        "pct_complete_accurate_min",
    }
)

TARGET_LABELS: dict[str, str] = {
    "lead_time_p95_days": "95% of items done within (lead time p95)",
    "tech_debt_ratio_min": "Effort on tech debt (at least)",
    "unplanned_ratio_max": "Unplanned work: defects + incidents (at most)",
    "flow_efficiency_min": "Flow efficiency: process / lead time (at least)",
    "pct_complete_accurate_min": "Rolled %C/A: first time right (at least)",
}


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def days(value: Any) -> str:
    """3.24 -> '3.2 d'."""
    return MISSING if is_missing(value) else f"{float(value):,.1f} d"


def pct(value: Any) -> str:
    """0.185 -> '18.5%'."""
    return MISSING if is_missing(value) else f"{float(value) * 100:.1f}%"


def count(value: Any) -> str:
    """1234 -> '1,234'."""
    return MISSING if is_missing(value) else f"{round(float(value)):,d}"


def number(value: Any, decimals: int = 1) -> str:
    return MISSING if is_missing(value) else f"{float(value):,.{decimals}f}"


def signed(text: str, value: float) -> str:
    return text if value < 0 else "+" + text


def target_value(target: str, value: Any) -> str:
    """A target or actual in the target's unit: days, or a percentage for ratios."""
    return pct(value) if target in RATIO_TARGETS else days(value)


def gap(target: str, value: Any) -> str:
    """The signed gap (positive is better): '+1.5 d', '-4.0 pp'."""
    if is_missing(value):
        return MISSING
    v = float(value)
    text = f"{v * 100:.1f} pp" if target in RATIO_TARGETS else f"{v:,.1f} d"
    return signed(text, v)


def target_label(target: str) -> str:
    return TARGET_LABELS.get(target, target.replace("_", " "))


def instant(value: datetime | None) -> str:
    """'2026-01-31 12:00 UTC' (seconds only when they are not zero)."""
    if value is None:
        return MISSING
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    pattern = "%Y-%m-%d %H:%M:%S UTC" if value.second or value.microsecond else "%Y-%m-%d %H:%M UTC"
    return value.strftime(pattern)


def text(value: Any) -> str:
    """Any value from the data, escaped for HTML text and attributes."""
    return MISSING if is_missing(value) else escape(str(value), quote=True)
