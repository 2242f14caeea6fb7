"""The shared words of the product: status kinds, flow types and status categories.

JIRA and ServiceNow each have their own statuses and types. Everything downstream of the raw
layer speaks only this vocabulary, so a value stream map can put a development team's "In
Review" and an operations team's "On Hold" side by side.
"""

from __future__ import annotations

from enum import StrEnum


class StatusKind(StrEnum):
    """What an item is doing while it sits in a status."""

    WAIT = "wait"
    ACTIVE = "active"
    DONE = "done"
    DROPPED = "dropped"


class FlowType(StrEnum):
    """The Flow Framework's four flow items plus operations' unplanned work."""

    FEATURE = "feature"
    DEFECT = "defect"
    DEBT = "debt"
    RISK = "risk"
    INCIDENT = "incident"


class StatusCategory(StrEnum):
    """JIRA's status categories; ServiceNow states are given one by the default rules."""

    NEW = "new"
    INDETERMINATE = "indeterminate"
    DONE = "done"


#: ServiceNow tables the connector knows how to sync.
SERVICENOW_TABLES: tuple[str, ...] = ("incident", "change_request", "problem")

DEFAULT_STAGES: tuple[str, ...] = ("Backlog", "In Progress", "Done")

#: The target keys in contract order (docs/contract.md §3.1): scorecard rows sort by it, and
#: unknown targets after them.
TARGET_ORDER: tuple[str, ...] = (
    "lead_time_p95_days",
    "tech_debt_ratio_min",
    "unplanned_ratio_max",
    "flow_efficiency_min",
    "pct_complete_accurate_min",
)
