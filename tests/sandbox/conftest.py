"""Shared sandboxes: generation is cheap but not free, so each flavour is built once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import jira
import pytest
import requests

from sandbox import Sandbox

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
EMAIL, TOKEN, PAT = "demo@example.com", "sandbox-token", "sandbox-pat"
SNOW_AUTH = ("admin", "sandbox-password")


@pytest.fixture(scope="module")
def cloud() -> Iterator[Sandbox]:
    with Sandbox(seed=7, size=300, mode="cloud", now=NOW) as sb:
        yield sb


@pytest.fixture(scope="module")
def dc() -> Iterator[Sandbox]:
    with Sandbox(seed=7, size=300, mode="datacenter", now=NOW) as sb:
        yield sb


@pytest.fixture
def jira_client(cloud: Sandbox) -> jira.JIRA:
    return jira.JIRA(server=cloud.jira_url, basic_auth=(EMAIL, TOKEN), max_retries=0, timeout=10)


@pytest.fixture
def jira_http(cloud: Sandbox) -> requests.Session:
    session = requests.Session()
    session.auth = (EMAIL, TOKEN)
    return session


@pytest.fixture
def snow_http() -> requests.Session:
    session = requests.Session()
    session.auth = SNOW_AUTH
    return session


@pytest.fixture
def dc_free_cloud() -> Iterator[Sandbox]:
    """A private cloud sandbox for tests that mutate it (time travel)."""
    with Sandbox(seed=5, size=200, mode="cloud", now=NOW) as sb:
        yield sb
