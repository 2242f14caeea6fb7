"""The shared retry transport, through a real `requests` session with `responses`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import responses

from connectors.http import RetryBudgetExceeded, RetryPolicy, make_session, parse_retry_after

URL = "https://jira.example.test/rest/api/3/search/jql"


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def session(**policy_args):
    sleeps = Sleeps()
    policy = RetryPolicy(sleep=sleeps, **policy_args)
    sess, adapter = make_session(policy=policy)
    return sess, adapter, sleeps


def test_parse_retry_after_seconds_and_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:42 GMT", now) == 42.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0  # in the past
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


@responses.activate
def test_429_with_seconds_waits_exactly_that_long() -> None:
    responses.get(URL, status=429, headers={"Retry-After": "3", "X-RateLimit-Limit": "100"})
    responses.get(URL, json={"issues": []})
    sess, adapter, sleeps = session()
    response = sess.get(URL)
    assert response.status_code == 200 and response.json() == {"issues": []}
    assert sleeps == [3.0]  # exactly, no jitter, never shortened
    assert adapter.stats.requests == 2 and adapter.stats.retries == 1


@responses.activate
def test_429_with_an_http_date_waits_until_then() -> None:
    when = datetime.now(UTC) + timedelta(seconds=20)
    responses.get(URL, status=429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    responses.get(URL, json={})
    sess, _, sleeps = session()
    assert sess.get(URL).status_code == 200
    assert len(sleeps) == 1 and 17.0 <= sleeps[0] <= 20.0


@responses.activate
def test_500_then_success_backs_off_with_jitter_inside_the_cap() -> None:
    responses.get(URL, status=500)
    responses.get(URL, status=502)
    responses.get(URL, json={"ok": True})
    sess, _, sleeps = session(backoff_base_s=2.0, backoff_cap_s=3.0)
    assert sess.get(URL).json() == {"ok": True}
    assert 1.0 <= sleeps[0] <= 2.0 and 1.5 <= sleeps[1] <= 3.0


@responses.activate
def test_truncated_json_body_is_retried() -> None:
    responses.get(URL, body='{"issues": [{"id": "1"', content_type="application/json")
    responses.get(URL, json={"issues": [{"id": "1"}]})
    sess, _, sleeps = session()
    assert sess.get(URL).json() == {"issues": [{"id": "1"}]}
    assert len(sleeps) == 1


@responses.activate
def test_connection_reset_is_retried() -> None:
    responses.get(URL, body=requests.ConnectionError("Connection reset by peer"))
    responses.get(URL, json={})
    sess, _, sleeps = session()
    assert sess.get(URL).status_code == 200
    assert len(sleeps) == 1


@responses.activate
@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_returned_at_once(status: int) -> None:
    responses.get(URL, status=status, json={"errorMessages": ["no"]})
    sess, adapter, sleeps = session()
    assert sess.get(URL).status_code == status
    assert sleeps == [] and adapter.stats.requests == 1


@responses.activate
def test_total_wait_is_capped_with_a_clear_message() -> None:
    responses.get(URL, status=429, headers={"Retry-After": "600"})
    responses.get(URL, status=429, headers={"Retry-After": "600"})
    sess, _, sleeps = session(max_total_wait_s=900)
    with pytest.raises(RetryBudgetExceeded, match=r"jira\.example\.test.*retry budget of 900s"):
        sess.get(URL)
    assert sleeps == [600.0]


@responses.activate
def test_final_status_is_returned_after_the_last_attempt() -> None:
    for _ in range(3):
        responses.get(URL, status=503)
    sess, adapter, sleeps = session(max_attempts=3, backoff_base_s=0.01)
    assert sess.get(URL).status_code == 503
    assert adapter.stats.requests == 3 and len(sleeps) == 2


def test_unreachable_host_names_the_host() -> None:
    sess, _, sleeps = session(backoff_base_s=0.01)
    with pytest.raises(requests.ConnectionError, match=r"cannot reach 127\.0\.0\.1:9"):
        sess.get("http://127.0.0.1:9/rest/api/2/serverInfo")
    assert len(sleeps) == 2  # three attempts in all


def test_read_timeout_applies_without_the_caller_asking() -> None:
    """A server that accepts and never answers must not hang the nightly run."""
    import socket
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    try:
        sess, _, sleeps = session(read_timeout_s=0.3, max_attempts=2, backoff_base_s=0.01)
        started = time.monotonic()
        with pytest.raises(RetryBudgetExceeded, match="ReadTimeout"):
            sess.get(f"http://127.0.0.1:{port}/api/now/table/incident")  # no timeout given
        assert time.monotonic() - started < 5
        assert len(sleeps) == 1
    finally:
        listener.close()
