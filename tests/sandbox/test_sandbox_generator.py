"""Generator shape and scale: the traps exist, and 20k items stay cheap."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime

import pytest

from sandbox import Sandbox

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def test_organisation_has_the_variety_connectors_need() -> None:
    sb = Sandbox(seed=3, size=600, now=NOW)
    issues = sb.truth.jira_issues()
    types = Counter(t["issuetype"] for t in issues)
    assert {"Epic", "Story", "Bug", "Task", "Tech Debt", "Vulnerability"} <= set(types)
    statuses = Counter(t["status"] for t in issues)
    assert (
        statuses["Done"] and statuses["Backlog"] and (statuses["Won't Do"] or statuses["Cancelled"])
    )
    assert any(h["from_name"] == "Done" for t in issues for h in t["status_history"])
    incidents = sb.truth.servicenow_records("incident")
    states = Counter(t["state"] for t in incidents)
    assert states["7"] and states["8"] and (states["1"] + states["2"] + states["3"])
    assert any(t["reassignment_count"] > 1 for t in incidents)
    assert sb.truth.servicenow_records("change_request") and sb.truth.servicenow_records("problem")


@pytest.mark.slow
def test_twenty_thousand_items_generate_in_seconds() -> None:
    start = time.perf_counter()
    sb = Sandbox(seed=1, size=20_000, now=NOW)
    assert time.perf_counter() - start < 30
    assert len(sb.jira.issues) == 20_000
