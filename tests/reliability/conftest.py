"""Fixtures the reliability tests share: a fresh warehouse file and a retry policy that never
sleeps (one copy here instead of one per test module)."""

from __future__ import annotations

import duckdb
import pytest

from connectors.http import RetryPolicy
from tests.reliability.helpers import fast_policy
from warehouse.db import bootstrap


@pytest.fixture
def con(tmp_path):
    """An empty, bootstrapped warehouse file with the session in UTC."""
    c = duckdb.connect(str(tmp_path / "flow.duckdb"))
    c.execute("set timezone = 'UTC'")
    bootstrap(c)
    yield c
    c.close()


@pytest.fixture
def policy() -> RetryPolicy:
    """The production policy with its waits skipped."""
    return fast_policy()
