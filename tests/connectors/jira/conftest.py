"""Fixtures for the JIRA connector tests: an in-memory warehouse, config, settings, a fake."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest
import responses

from connectors.http import RetryPolicy
from connectors.jira import JiraSettings
from models.config import parse_config
from tests.connectors.jira.jirafake import BASE, NOW, TOKEN, FakeJira
from warehouse.db import bootstrap

__all__ = ["NOW", "TOKEN"]


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect(":memory:")
    c.execute("set timezone = 'UTC'")
    bootstrap(c)
    yield c
    c.close()


@pytest.fixture
def settings() -> JiraSettings:
    return JiraSettings(url=BASE, email="bot@acme.com", api_token=TOKEN)


@pytest.fixture
def dc_settings() -> JiraSettings:
    return JiraSettings(url=BASE, pat=TOKEN)


@pytest.fixture
def cfg():
    return parse_config({"sync": {"overlap_minutes": 10, "lag_minutes": 1, "page_size": 1000}})


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def policy(sleeps: Sleeps) -> RetryPolicy:
    return RetryPolicy(sleep=sleeps, max_total_wait_s=10_000)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


@pytest.fixture
def cloud(rsps: responses.RequestsMock) -> FakeJira:
    return FakeJira(rsps, cloud=True)


@pytest.fixture
def dc(rsps: responses.RequestsMock) -> FakeJira:
    return FakeJira(rsps, cloud=False)
