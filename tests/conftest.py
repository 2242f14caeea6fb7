"""Shared pytest setup: keep every test offline and away from the user's environment."""

from __future__ import annotations

import pytest

_SOURCE_VARS = (
    "JIRA_URL",
    "JIRA_EMAIL",
    "JIRA_API_TOKEN",
    "JIRA_PAT",
    "SERVICENOW_URL",
    "SERVICENOW_USER",
    "SERVICENOW_PASSWORD",
    "FLOW_CONFIG",
    "FLOW_WAREHOUSE",
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's real credentials must never reach a test (the network is loopback only)."""
    for name in _SOURCE_VARS:
        monkeypatch.delenv(name, raising=False)
