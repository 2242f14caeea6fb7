"""Retries, rate limits and failures: owned by connectors.http, explained by the connector."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

import connectors.http as http
from connectors.http import RetryPolicy
from connectors.jira import JiraSettings, sync_jira
from connectors.result import SourceError
from tests.connectors.jira.jirafake import NOW, TOKEN, chain, make_issue


def seed(fake, n=2):
    for k in range(1, n + 1):
        fake.add(make_issue(str(k), f"PAY-{k}", status="3"), chain(k, ["1", "3"]))


def nothing_landed(con):
    return (
        con.execute("select count(*) from raw.jira_issues").fetchone() == (0,)
        and con.execute("select count(*) from raw.jira_status_changes").fetchone() == (0,)
        and con.execute("select count(*) from raw.sync_state").fetchone() == (0,)
    )


def test_429_retry_after_seconds_is_honoured_exactly(con, settings, cfg, cloud, policy, sleeps):
    seed(cloud)
    cloud.fault("search/jql", 429, {"Retry-After": "7", "X-RateLimit-Remaining": "0"})
    result = sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert sleeps == [7.0]
    assert result.records == 2 and cloud.count("search/jql") == 2
    # serverInfo, status, field catalogue, search twice (the retried attempt is counted), bulk
    assert result.requests == 6


def test_429_retry_after_http_date_is_honoured_exactly(
    con, settings, cfg, cloud, policy, sleeps, monkeypatch
):
    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)

    monkeypatch.setattr(http, "datetime", Frozen)
    seed(cloud)
    cloud.fault("bulkfetch", 429, {"Retry-After": "Fri, 01 Mar 2024 12:02:00 GMT"})
    sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert sleeps == [120.0]
    assert cloud.count("bulkfetch") == 2


def test_500_then_success(con, settings, cfg, cloud, policy, sleeps):
    seed(cloud)
    cloud.fault("search/jql", 500)
    result = sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert result.records == 2 and len(sleeps) == 1 and 0.5 <= sleeps[0] <= 1.0


def test_503_at_construction_is_retried_through_our_adapter(
    con, settings, cfg, cloud, policy, sleeps
):
    seed(cloud)
    cloud.fault("serverInfo", 503, {"Retry-After": "2"})
    sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert sleeps == [2.0] and cloud.count("serverInfo") == 2


def test_401_is_one_clear_error_without_the_token(
    con, settings, cfg, cloud, policy, sleeps, caplog
):
    seed(cloud)
    cloud.fault("serverInfo", 401, body={"errorMessages": ["Unauthorized"]})
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SourceError) as info:
        sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    message = str(info.value)
    assert message.startswith(
        "JIRA rejected the credentials for bot@acme.com at https://acme.atlassian.net (HTTP 401)"
    )
    assert TOKEN not in message and TOKEN not in caplog.text
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert sleeps == [] and cloud.count("serverInfo") == 1
    assert nothing_landed(con)
    run = con.execute("select status, error, requests from raw.sync_runs").fetchone()
    assert run[0] == "failed" and "HTTP 401" in run[1] and TOKEN not in run[1] and run[2] == 1


@pytest.mark.parametrize("status", [400, 403, 404])
def test_client_errors_are_not_retried(con, settings, cfg, cloud, policy, sleeps, status):
    seed(cloud)
    cloud.fault("search/jql", status, body={"errorMessages": ["nope"]})
    with pytest.raises(SourceError, match=f"HTTP {status}"):
        sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert sleeps == [] and cloud.count("search/jql") == 1
    assert nothing_landed(con)


def test_200_with_seraph_login_failure_is_an_auth_error(con, settings, cfg, cloud, policy):
    cloud.fault("serverInfo", 200, {"X-Seraph-LoginReason": "AUTHENTICATED_FAILED"})
    with pytest.raises(SourceError, match=r"rejected the credentials for bot@acme.com"):
        sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert nothing_landed(con)


def test_pat_auth_error_names_the_variable(con, dc_settings, cfg, dc, policy):
    dc.fault("serverInfo", 401)
    with pytest.raises(SourceError, match="JIRA_PAT") as info:
        sync_jira(con, dc_settings, cfg, run_started_at=NOW, policy=policy)
    assert TOKEN not in str(info.value)


def test_unreachable_host_names_host_and_setting(con, cfg, sleeps):
    settings = JiraSettings(url="http://127.0.0.1:9", email="a@b.c", api_token=TOKEN)
    policy = RetryPolicy(sleep=sleeps, connect_timeout_s=2, read_timeout_s=2)
    with pytest.raises(SourceError) as info:
        sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    message = str(info.value)
    assert "127.0.0.1:9" in message and "JIRA_URL" in message and TOKEN not in message
    assert nothing_landed(con)
