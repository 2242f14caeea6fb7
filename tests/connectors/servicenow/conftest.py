"""Fixtures for the ServiceNow connector tests: a warehouse, config, settings, a fake instance."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import responses

from connectors.http import RetryPolicy
from connectors.servicenow import ServiceNowSettings
from models.config import FlowConfig
from tests.connectors.servicenow.snow_fake import BASE, PASSWORD, USER, FakeInstance, make_cfg
from warehouse.db import bootstrap, connect


@pytest.fixture
def con() -> Iterator[Any]:
    c = connect(":memory:")
    bootstrap(c)
    yield c
    c.close()


@pytest.fixture
def settings() -> ServiceNowSettings:
    s = ServiceNowSettings.from_env(
        {"SERVICENOW_URL": BASE, "SERVICENOW_USER": USER, "SERVICENOW_PASSWORD": PASSWORD}
    )
    assert s is not None
    return s


@pytest.fixture
def cfg() -> FlowConfig:
    return make_cfg()


class SleepRecorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def policy(sleeps: SleepRecorder) -> RetryPolicy:
    return RetryPolicy(sleep=sleeps, max_attempts=4, max_connect_attempts=1)


@pytest.fixture
def fake() -> Iterator[FakeInstance]:
    instance = FakeInstance()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        instance.install(rsps)
        yield instance
