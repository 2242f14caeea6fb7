"""Status, flow-type and value-stream rules of docs/contract.md §2, as pure functions.

One mapping is used everywhere: `warehouse` asks `resolve_status` once per distinct
(source, scope, status) found in the raw layer, writes the answers to `core.status_map`, and
every core/metrics table joins on it. So history and current status can never disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from models.config import FlowConfig, StatusMapping
from models.vocabulary import FlowType, StatusCategory, StatusKind

_WAIT_WORDS = re.compile(r"block|wait|hold|pending|awaiting|ready for|queue", re.IGNORECASE)
_DROPPED_WORDS = re.compile(r"cancel|won't|wont|duplicate|reject|abandon", re.IGNORECASE)
_DONE_WORDS = re.compile(r"resolved|closed|complete", re.IGNORECASE)
_DEBT_WORDS = re.compile(r"tech.?debt|debt|refactor|nfr", re.IGNORECASE)
_RISK_TYPES = frozenset({"security", "vulnerability", "risk"})

#: Contract §2.1 defaults for the known ServiceNow state models: value -> (category, kind).
SERVICENOW_STATE_DEFAULTS: dict[str, dict[str, tuple[StatusCategory, StatusKind]]] = {
    "incident": {
        "1": (StatusCategory.NEW, StatusKind.WAIT),
        "2": (StatusCategory.INDETERMINATE, StatusKind.ACTIVE),
        "3": (StatusCategory.INDETERMINATE, StatusKind.WAIT),
        "6": (StatusCategory.DONE, StatusKind.DONE),
        "7": (StatusCategory.DONE, StatusKind.DONE),
        "8": (StatusCategory.DONE, StatusKind.DROPPED),
    },
    "problem": {
        "101": (StatusCategory.NEW, StatusKind.WAIT),
        "102": (StatusCategory.INDETERMINATE, StatusKind.ACTIVE),
        "103": (StatusCategory.INDETERMINATE, StatusKind.ACTIVE),
        "104": (StatusCategory.INDETERMINATE, StatusKind.ACTIVE),
        "106": (StatusCategory.DONE, StatusKind.DONE),
        "107": (StatusCategory.DONE, StatusKind.DONE),
    },
    "change_request": {
        "-5": (StatusCategory.NEW, StatusKind.WAIT),
        "-4": (StatusCategory.INDETERMINATE, StatusKind.WAIT),
        "-3": (StatusCategory.INDETERMINATE, StatusKind.WAIT),
        "-2": (StatusCategory.INDETERMINATE, StatusKind.WAIT),
        "-1": (StatusCategory.INDETERMINATE, StatusKind.ACTIVE),
        "0": (StatusCategory.INDETERMINATE, StatusKind.ACTIVE),
        "3": (StatusCategory.DONE, StatusKind.DONE),
        "4": (StatusCategory.DONE, StatusKind.DROPPED),
    },
}

_CATEGORY_KIND = {
    StatusCategory.NEW: StatusKind.WAIT,
    StatusCategory.INDETERMINATE: StatusKind.ACTIVE,
    StatusCategory.DONE: StatusKind.DONE,
}


@dataclass(frozen=True, slots=True)
class ResolvedStatus:
    """Where a raw status sits in the shared vocabulary, and whether a default chose it."""

    stage: str
    kind: StatusKind
    is_default: bool
    category: StatusCategory | None = None


def default_jira_kind(category: StatusCategory | str | None, name: str) -> StatusKind:
    """Contract §2.1: kind from JIRA's status category, then refined by the status name.

    Dropped words win everywhere ("Cancelled" is never waiting). Wait words apply only to
    statuses that are not finished: a done-category status stays done, because done statuses
    live in the last stage, which may hold nothing else (an owner's decision, see README).
    A status with no known category (missing from the catalogue) goes by its name alone, like
    an unknown ServiceNow state.
    """
    if _DROPPED_WORDS.search(name or ""):
        return StatusKind.DROPPED
    if category is None or category not in _CATEGORY_KIND:
        return label_rules(name)[1]
    category = StatusCategory(category)
    if category != StatusCategory.DONE and _WAIT_WORDS.search(name or ""):
        return StatusKind.WAIT
    return _CATEGORY_KIND[category]


def label_rules(label: str) -> tuple[StatusCategory, StatusKind]:
    """Contract §2.1's rules for a state nobody described: the JIRA name rules plus done words."""
    label = label or ""
    if _DROPPED_WORDS.search(label):
        return StatusCategory.DONE, StatusKind.DROPPED
    if _DONE_WORDS.search(label):
        return StatusCategory.DONE, StatusKind.DONE
    if _WAIT_WORDS.search(label):
        return StatusCategory.INDETERMINATE, StatusKind.WAIT
    return StatusCategory.INDETERMINATE, StatusKind.ACTIVE


def default_servicenow_state(
    table: str, value: str, label: str
) -> tuple[StatusCategory, StatusKind]:
    """Contract §2.1: the value decides for the known state models; the label for anything else."""
    known = SERVICENOW_STATE_DEFAULTS.get(table, {}).get(str(value))
    if known is not None:
        return known
    return label_rules(label)


def _explicit(mappings: dict[str, StatusMapping], *keys: str | None) -> StatusMapping | None:
    lowered = {k.casefold(): v for k, v in mappings.items()}
    for key in keys:
        if key is None or key == "":
            continue
        found = mappings.get(key) or lowered.get(key.casefold())
        if found is not None:
            return found
    return None


def _stage_for(cfg: FlowConfig, category: StatusCategory, kind: StatusKind) -> str:
    if kind == StatusKind.DONE:
        return cfg.done_stage
    stage = cfg.fallback_stage(category.value)
    if stage == cfg.done_stage and kind != StatusKind.DROPPED:
        # A waiting/active status with a done category cannot live in the done stage.
        return cfg.fallback_stage("indeterminate")
    return stage


def resolve_jira_status(
    cfg: FlowConfig, status_id: str | None, name: str, category: str | None
) -> ResolvedStatus:
    """Map one JIRA status: explicit config by name or id first, then contract §2.1 defaults."""
    explicit = _explicit(cfg.statuses.jira, name, status_id)
    cat = StatusCategory(category) if category in _CATEGORY_KIND else None
    if explicit is not None:
        return ResolvedStatus(explicit.stage, explicit.kind, False, cat)
    kind = default_jira_kind(cat, name)
    effective = cat or label_rules(name)[0]
    return ResolvedStatus(_stage_for(cfg, effective, kind), kind, True, cat)


def resolve_servicenow_state(
    cfg: FlowConfig, table: str, value: str, label: str | None
) -> ResolvedStatus:
    """Map one ServiceNow state of `table`: explicit config by value or label, then defaults."""
    mappings: dict[str, StatusMapping] = getattr(cfg.statuses.servicenow, table, {}) or {}
    explicit = _explicit(mappings, str(value), label)
    category, kind = default_servicenow_state(table, str(value), label or "")
    if explicit is not None:
        return ResolvedStatus(explicit.stage, explicit.kind, False, category)
    return ResolvedStatus(_stage_for(cfg, category, kind), kind, True, category)


def default_flow_type(source: str, source_type: str | None, labels: list[str] | None) -> FlowType:
    """The flow-type defaults of docs/contract.md §2.1, applied after the configured rules."""
    source_type = source_type or ""
    if source == "servicenow":
        return {"incident": FlowType.INCIDENT, "problem": FlowType.DEFECT}.get(
            source_type, FlowType.FEATURE
        )
    if source_type.casefold() == "bug":
        return FlowType.DEFECT
    if _DEBT_WORDS.search(source_type) or any(_DEBT_WORDS.search(lbl) for lbl in labels or []):
        return FlowType.DEBT
    if source_type.casefold() in _RISK_TYPES:
        return FlowType.RISK
    return FlowType.FEATURE


#: The same default rules as SQL regular expressions, so the warehouse applies exactly these.
DEBT_REGEX = _DEBT_WORDS.pattern
RISK_TYPES = tuple(sorted(_RISK_TYPES))
