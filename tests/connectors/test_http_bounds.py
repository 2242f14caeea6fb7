"""The transport's run-level bounds (issue #20): a wait budget and a deadline per run (one
adapter), a minimum delay for a `Retry-After` of 0/negative/nan, a byte cap per response and a
total-time limit per response. Through a real `requests` session, with `responses` or a
loopback socket server for what `responses` cannot do (a dripping or endless body)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
import responses

from connectors.http import (
    ResponseTooLarge,
    RetryBudgetExceeded,
    RetryPolicy,
    make_session,
    parse_retry_after,
)

BASE = "https://jira.example.test"


class FakeTime:
    """A clock that only the recorded sleeps move."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def _session(t: FakeTime, **policy_args):
    policy = RetryPolicy(sleep=t.sleep, clock=t.clock, **policy_args)
    return make_session(policy=policy)


@pytest.mark.parametrize("header", ["0", "-5", "nan", "0.0001"])
@responses.activate
def test_retry_after_zero_negative_or_nan_waits_the_minimum(header: str) -> None:
    assert parse_retry_after(header) in (0.0, 0.0001)
    responses.get(f"{BASE}/x", status=429, headers={"Retry-After": header})
    responses.get(f"{BASE}/x", json={})
    t = FakeTime()
    sess, _ = _session(t)
    assert sess.get(f"{BASE}/x").status_code == 200
    assert t.sleeps == [1.0]  # min_delay_s, never back-to-back


@responses.activate
def test_the_wait_budget_is_per_run_not_per_request() -> None:
    # Each request meets one 429 asking 899 s, then succeeds: per request that is within any
    # per-request cap, but the run's waits add up: 899 + 899 = 1798 <= 1800; the third would
    # make 2697 > 1800, so the run fails before waiting it.
    for name in ("a", "b", "c"):
        responses.get(f"{BASE}/{name}", status=429, headers={"Retry-After": "899"})
        responses.get(f"{BASE}/{name}", json={"name": name})
    t = FakeTime()
    sess, _ = _session(t, max_total_wait_s=1800)
    assert sess.get(f"{BASE}/a").json() == {"name": "a"}
    assert sess.get(f"{BASE}/b").json() == {"name": "b"}
    with pytest.raises(RetryBudgetExceeded) as caught:
        sess.get(f"{BASE}/c")
    assert str(caught.value) == (
        "waiting 899.0s more for jira.example.test would exceed the run's retry budget of "
        "1800s (1798s waited already; last: HTTP 429 from jira.example.test; GET /c); see "
        "sync.max_wait_minutes"
    )
    assert t.sleeps == [899.0, 899.0] and sum(t.sleeps) <= 1800


@responses.activate
def test_the_run_deadline_stops_waits_and_requests() -> None:
    # Deadline 1000 s. /a waits 600 (clock 600); /b asks 600 more: 1200 > 1000, refused.
    responses.get(f"{BASE}/a", status=503, headers={"Retry-After": "600"})
    responses.get(f"{BASE}/a", json={})
    responses.get(f"{BASE}/b", status=503, headers={"Retry-After": "600"})
    t = FakeTime()
    sess, _ = _session(t, run_deadline_s=1000, max_total_wait_s=10_000)
    sess.get(f"{BASE}/a")
    with pytest.raises(
        RetryBudgetExceeded,
        match=r"^the run's deadline of 1000s would pass "
        r"\(600s elapsed, 600\.0s more to wait\) before GET /b at "
        r"jira\.example\.test; last: HTTP 503",
    ):
        sess.get(f"{BASE}/b")
    t.now = 1001.0  # time spent elsewhere (landing, mapping) counts too
    with pytest.raises(
        RetryBudgetExceeded, match=r"deadline of 1000s would pass \(1001s elapsed\)"
    ):
        sess.get(f"{BASE}/a")


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (
            {"Content-Length": "2000"},
            r"^jira\.example\.test announced 2000 bytes for GET /big, over the cap of 1000 bytes "
            r"per response$",
        ),
        (
            {},
            r"^jira\.example\.test sent more than the cap of 1000 bytes per response for "
            r"GET /big$",
        ),
    ],
)
@responses.activate
def test_a_response_over_the_byte_cap_fails_without_retrying(headers, message) -> None:
    responses.get(
        f"{BASE}/big",
        body=b"x" * 2000,
        content_type="application/json",
        headers=headers,
        auto_calculate_content_length=False,
    )
    t = FakeTime()
    sess, adapter = _session(t, max_response_bytes=1000)
    with pytest.raises(ResponseTooLarge, match=message):
        sess.get(f"{BASE}/big")
    assert t.sleeps == [] and adapter.stats.requests == 1


@pytest.fixture
def drip_server() -> Iterator[dict]:
    """A loopback HTTP server whose body never announces a length: `mode` decides whether it
    drips a byte every 50 ms (for 6 s) or streams 64 KiB chunks without end."""
    state = {"mode": "drip", "connections": 0}
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
            )
            try:
                if state["mode"] == "drip":
                    for _ in range(120):
                        if stop.is_set():
                            return
                        conn.sendall(b" ")
                        time.sleep(0.05)
                else:
                    while not stop.is_set():
                        conn.sendall(b" " * 65536)
            except OSError:
                return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            state["connections"] += 1
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{listener.getsockname()[1]}/rest/api/2/search"
    yield state
    stop.set()
    listener.close()


def test_a_dripping_body_is_cut_by_the_total_time_limit(drip_server) -> None:
    # Each socket read gets a byte within 50 ms, so a per-read timeout of 2 s never fires; the
    # whole response must still finish within 0.5 s, and is retried like a read timeout.
    sleeps: list[float] = []
    policy = RetryPolicy(
        sleep=sleeps.append,
        read_timeout_s=2.0,
        request_timeout_s=0.5,
        max_attempts=2,
        backoff_base_s=0.01,
    )
    sess, _ = make_session(policy=policy)
    started = time.monotonic()
    with pytest.raises(
        RetryBudgetExceeded,
        match=r"gave up after 2 attempts: ReadTimeout from "
        r"127\.0\.0\.1:\d+ \(GET /rest/api/2/search\)",
    ):
        sess.get(drip_server["url"])
    took = time.monotonic() - started
    assert took < 3.0, took  # two attempts of ~0.5 s, not the 6 s the server would drip
    assert drip_server["connections"] == 2 and len(sleeps) == 1


def test_an_endless_body_without_a_length_is_cut_at_the_byte_cap(drip_server) -> None:
    drip_server["mode"] = "endless"
    policy = RetryPolicy(sleep=lambda s: None, max_response_bytes=1_000_000)
    sess, _ = make_session(policy=policy)
    with pytest.raises(
        ResponseTooLarge,
        match=r"^127\.0\.0\.1:\d+ sent more than the cap of "
        r"1000000 bytes per response for GET /rest/api/2/search$",
    ):
        sess.get(drip_server["url"])
    assert drip_server["connections"] == 1


def test_a_run_budget_failure_is_not_swallowed_by_requests() -> None:
    assert issubclass(RetryBudgetExceeded, RuntimeError)
    assert not issubclass(RetryBudgetExceeded, requests.RequestException)
