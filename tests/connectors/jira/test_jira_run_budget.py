"""A JIRA that answers `Retry-After: 899` fails the run within its wait budget, naming JIRA
(issue #20). Before, the budget was per request: each request could wait 899 s, so a night of
hundreds of requests could last days while holding the DuckDB lock."""

from __future__ import annotations

import pytest

from connectors.http import RetryPolicy
from connectors.jira import sync_jira
from connectors.result import SourceError
from tests.connectors.jira.jirafake import NOW, chain, make_issue


def test_retry_after_899_on_every_kind_of_request_fails_the_run_within_budget(
    con, settings, cfg, cloud, sleeps
):
    for k in (1, 2):
        cloud.add(make_issue(str(k), f"PAY-{k}", status="3"), chain(k, ["1", "3"]))
    # Every request meets one 429 asking 899 s before it is answered: serverInfo, the status
    # catalogue, the search. Per request that was fine; per run 3 x 899 = 2697 s > 1800 s.
    for part in ("serverInfo", "/status", "search/jql"):
        cloud.fault(part, 429, {"Retry-After": "899"})
    policy = RetryPolicy(sleep=sleeps, max_total_wait_s=1800)  # sync.max_wait_minutes: 30
    with pytest.raises(SourceError) as caught:
        sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    message = str(caught.value)
    assert message.startswith(
        "JIRA at https://acme.atlassian.net kept failing: waiting 899.0s more for "
        "acme.atlassian.net would exceed the run's retry budget of 1800s (1798s waited already;"
    ), message
    assert message.endswith("see sync.max_wait_minutes")
    assert sleeps == [899.0, 899.0] and sum(sleeps) <= 1800
    run = con.execute("select status, error from raw.sync_runs").fetchone()
    assert run == ("failed", message)
    assert con.execute("select count(*) from raw.jira_issues").fetchone() == (0,)
    assert con.execute("select count(*) from raw.sync_state").fetchone() == (0,)


def test_the_budget_comes_from_the_config(cfg):
    from models.config import parse_config

    sync = parse_config({"sync": {"max_wait_minutes": 2.5, "deadline_minutes": 90}}).sync
    policy = RetryPolicy.for_run(sync.max_wait_minutes, sync.deadline_minutes)
    assert (policy.max_total_wait_s, policy.run_deadline_s) == (150.0, 5400.0)
    assert (cfg.sync.max_wait_minutes, cfg.sync.deadline_minutes) == (30.0, 360.0)
