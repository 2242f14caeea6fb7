"""The default rules of docs/contract.md §2.1, table-driven, and explicit mappings winning."""

from __future__ import annotations

import pytest

from models.config import parse_yaml
from models.mapping import (
    default_flow_type,
    default_jira_kind,
    default_servicenow_state,
    resolve_jira_status,
    resolve_servicenow_state,
)
from models.vocabulary import FlowType, StatusCategory, StatusKind

W, A, D, X = StatusKind.WAIT, StatusKind.ACTIVE, StatusKind.DONE, StatusKind.DROPPED
NEW, IND, DONE = StatusCategory.NEW, StatusCategory.INDETERMINATE, StatusCategory.DONE


@pytest.mark.parametrize(
    ("category", "name", "kind"),
    [
        ("new", "To Do", W),
        ("indeterminate", "In Progress", A),
        ("done", "Done", D),
        ("indeterminate", "Blocked", W),
        ("indeterminate", "Waiting for Customer", W),
        ("indeterminate", "On Hold", W),
        ("indeterminate", "Pending Approval", W),
        ("indeterminate", "Awaiting Deploy", W),
        ("indeterminate", "Ready for Review", W),
        ("indeterminate", "QA Queue", W),
        ("done", "Won't Do", X),
        ("done", "Wont Fix", X),
        ("done", "Cancelled", X),
        ("done", "Duplicate", X),
        ("new", "Rejected", X),
        ("indeterminate", "Abandoned", X),
        ("done", "Ready for Release", D),  # done category stays done: it lives in the last stage
        (None, "Closed", D),  # not in the catalogue: label rules
        (None, "Something", A),
    ],
)
def test_default_jira_kind(category: str | None, name: str, kind: StatusKind) -> None:
    assert default_jira_kind(category, name) == kind


@pytest.mark.parametrize(
    ("table", "value", "label", "expected"),
    [
        ("incident", "1", "New", (NEW, W)),
        ("incident", "2", "In Progress", (IND, A)),
        ("incident", "3", "On Hold", (IND, W)),
        ("incident", "6", "Resolved", (DONE, D)),
        ("incident", "7", "Closed", (DONE, D)),
        ("incident", "8", "Canceled", (DONE, X)),
        ("problem", "101", "New", (NEW, W)),
        ("problem", "102", "Assess", (IND, A)),
        ("problem", "103", "Root Cause Analysis", (IND, A)),
        ("problem", "104", "Fix in Progress", (IND, A)),
        ("problem", "106", "Resolved", (DONE, D)),
        ("problem", "107", "Closed", (DONE, D)),
        ("change_request", "-5", "New", (NEW, W)),
        ("change_request", "-4", "Assess", (IND, W)),
        ("change_request", "-3", "Authorize", (IND, W)),
        ("change_request", "-2", "Scheduled", (IND, W)),
        ("change_request", "-1", "Implement", (IND, A)),
        ("change_request", "0", "Review", (IND, A)),
        ("change_request", "3", "Closed", (DONE, D)),
        ("change_request", "4", "Canceled", (DONE, X)),
        # old state model / custom states go by label
        ("incident", "4", "Awaiting User Info", (IND, W)),
        ("incident", "5", "Awaiting Evidence", (IND, W)),
        ("incident", "9", "Resolved - Workaround", (DONE, D)),
        ("incident", "10", "Complete", (DONE, D)),
        ("incident", "11", "Rejected", (DONE, X)),
        ("incident", "12", "Diagnosis", (IND, A)),
    ],
)
def test_default_servicenow_state(
    table: str, value: str, label: str, expected: tuple[StatusCategory, StatusKind]
) -> None:
    assert default_servicenow_state(table, value, label) == expected


@pytest.mark.parametrize(
    ("source", "source_type", "labels", "flow_type"),
    [
        ("jira", "Bug", [], FlowType.DEFECT),
        ("jira", "bug", ["tech-debt"], FlowType.DEFECT),  # Bug rule comes first
        ("jira", "Tech Debt", [], FlowType.DEBT),
        ("jira", "Story", ["TechDebt"], FlowType.DEBT),
        ("jira", "Task", ["refactoring"], FlowType.DEBT),
        ("jira", "Story", ["NFR"], FlowType.DEBT),
        ("jira", "Security", [], FlowType.RISK),
        ("jira", "Vulnerability", [], FlowType.RISK),
        ("jira", "Risk", [], FlowType.RISK),
        ("jira", "Story", ["ux"], FlowType.FEATURE),
        ("jira", "Epic", None, FlowType.FEATURE),
        ("servicenow", "incident", [], FlowType.INCIDENT),
        ("servicenow", "problem", [], FlowType.DEFECT),
        ("servicenow", "change_request", [], FlowType.FEATURE),
    ],
)
def test_default_flow_type(
    source: str, source_type: str, labels: list[str] | None, flow_type: FlowType
) -> None:
    assert default_flow_type(source, source_type, labels) == flow_type


CFG = parse_yaml(
    """
stages: [Backlog, Analysis, Development, Review, Done]
fallback_stages: {new: Backlog, indeterminate: Development, done: Done}
statuses:
  jira:
    "ready for review": {stage: Review, kind: wait}
    "10042": {stage: Analysis, kind: active}
  servicenow:
    incident:
      "3": {stage: Development, kind: wait}
      "Awaiting Vendor": {stage: Review, kind: wait}
""",
    "test.yaml",
)


def test_explicit_jira_mapping_by_name_case_insensitive_or_id() -> None:
    by_name = resolve_jira_status(CFG, "10001", "Ready for Review", "indeterminate")
    assert (by_name.stage, by_name.kind, by_name.is_default) == ("Review", W, False)
    by_id = resolve_jira_status(CFG, "10042", "Discovery", "new")
    assert (by_id.stage, by_id.kind, by_id.is_default) == ("Analysis", A, False)


def test_default_jira_status_stage_comes_from_category() -> None:
    new = resolve_jira_status(CFG, "1", "To Do", "new")
    assert (new.stage, new.kind, new.is_default) == ("Backlog", W, True)
    blocked = resolve_jira_status(CFG, "2", "Blocked", "indeterminate")
    assert (blocked.stage, blocked.kind) == ("Development", W)
    done = resolve_jira_status(CFG, "3", "Shipped", "done")
    assert (done.stage, done.kind) == ("Done", D)
    dropped = resolve_jira_status(CFG, "4", "Won't Do", "done")
    assert (dropped.stage, dropped.kind) == ("Done", X)


def test_servicenow_explicit_by_value_or_label_then_defaults() -> None:
    hold = resolve_servicenow_state(CFG, "incident", "3", "On Hold")
    assert (hold.stage, hold.kind, hold.is_default) == ("Development", W, False)
    vendor = resolve_servicenow_state(CFG, "incident", "4", "awaiting vendor")
    assert (vendor.stage, vendor.kind, vendor.is_default) == ("Review", W, False)
    resolved = resolve_servicenow_state(CFG, "incident", "6", "Resolved")
    assert (resolved.stage, resolved.kind, resolved.is_default) == ("Done", D, True)
    new = resolve_servicenow_state(CFG, "incident", "1", "New")
    assert (new.stage, new.kind) == ("Backlog", W)
    cancelled = resolve_servicenow_state(CFG, "change_request", "4", "Canceled")
    assert (cancelled.stage, cancelled.kind) == ("Done", X)


@pytest.mark.parametrize(
    ("category", "name", "kind"),
    [  # statuses of real JIRA captures under the contract §2.1 defaults (docs/metrics.md)
        ("new", "Reopened", W),
        ("new", "Ready for Engineering", W),
        ("indeterminate", "Ready for Merge", W),
        ("indeterminate", "Ready for CI", W),
        ("indeterminate", "Analysis Active", A),
        ("indeterminate", "Dev Done", A),  # contract §2.1: category first; configure it as wait
        ("indeterminate", "Fix Licenses", A),
        ("done", "Licenses Validated", D),
    ],
)
def test_real_jira_statuses(category: str, name: str, kind: StatusKind) -> None:
    assert default_jira_kind(category, name) == kind


def test_old_incident_state_model_and_an_unlabelled_value() -> None:
    # the UCI event log: pre-Helsinki labels, plus a value sys_choice does not describe
    cfg = parse_yaml("stages: [Backlog, Development, Done]\n", "test.yaml")
    for value, label in (
        ("3", "Awaiting Problem"),
        ("4", "Awaiting User Info"),
        ("5", "Awaiting Evidence"),
        ("10", "Awaiting Vendor"),
    ):
        got = resolve_servicenow_state(cfg, "incident", value, label)
        assert (got.kind, got.is_default) == (W, True), label
    invalid = resolve_servicenow_state(cfg, "incident", "-100", None)
    assert (invalid.stage, invalid.kind, invalid.is_default) == ("Development", A, True)
    # values decide for the known model, whatever the instance's label says
    reused = resolve_servicenow_state(cfg, "incident", "8", "Awaiting Vendor")
    assert (reused.kind, reused.is_default) == (X, True)
    mapped = parse_yaml(
        "statuses:\n  servicenow:\n    incident:\n      -100: {stage: Backlog, kind: wait}\n",
        "test.yaml",
    )
    explicit = resolve_servicenow_state(mapped, "incident", "-100", None)
    assert (explicit.stage, explicit.kind, explicit.is_default) == ("Backlog", W, False)
