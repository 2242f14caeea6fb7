"""One test per fault knob, each showing the fault firing on the wire."""

from __future__ import annotations

import json
from email.utils import parsedate_to_datetime

import pytest
import requests

from sandbox import Sandbox

EMAIL, TOKEN = "demo@example.com", "sandbox-token"
SNOW = ("admin", "sandbox-password")
JQL = {"jql": "project = PAY"}


@pytest.fixture
def faulty(cloud: Sandbox):
    yield cloud
    cloud.set_faults()


def jira_get(sb: Sandbox) -> requests.Response:
    return requests.get(
        f"{sb.jira_url}/rest/api/3/search/jql", params=JQL, auth=(EMAIL, TOKEN), timeout=5
    )


def test_429_with_http_date_retry_after(faulty: Sandbox) -> None:
    faulty.set_faults(rate_429=1.0, retry_after="http-date", retry_after_seconds=3)
    r = jira_get(faulty)
    assert r.status_code == 429
    assert parsedate_to_datetime(r.headers["Retry-After"]).tzinfo is not None
    assert r.headers["X-RateLimit-Limit"] and r.headers["RateLimit-Reason"]


def test_429_with_seconds_and_endpoint_filter(faulty: Sandbox) -> None:
    faulty.set_faults(rate_429=1.0, retry_after_seconds=7, endpoints=["/api/now/"])
    assert jira_get(faulty).status_code == 200
    r = requests.get(f"{faulty.servicenow_url}/api/now/table/incident", auth=SNOW, timeout=5)
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"
    assert r.json()["status"] == "failure"


def test_503_and_500(faulty: Sandbox) -> None:
    faulty.set_faults(rate_503=1.0)
    r = jira_get(faulty)
    assert r.status_code == 503 and "Retry-After" in r.headers
    faulty.set_faults(rate_500=1.0)
    assert jira_get(faulty).status_code == 500


def test_faults_are_seeded(faulty: Sandbox) -> None:
    def run() -> list[int]:
        faulty.set_faults(rate_429=0.5, seed=3)
        return [jira_get(faulty).status_code for _ in range(12)]

    first = run()
    assert first == run() and {200, 429} == set(first)


def test_slow_response(faulty: Sandbox) -> None:
    faulty.set_faults(slow_rate=1.0, slow_seconds=0.3)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(
            f"{faulty.jira_url}/rest/api/3/serverInfo", auth=(EMAIL, TOKEN), timeout=(2, 0.1)
        )


def test_dropped_connection(faulty: Sandbox) -> None:
    faulty.set_faults(drop_rate=1.0)
    with pytest.raises(requests.exceptions.ConnectionError):
        jira_get(faulty)


def test_truncated_body(faulty: Sandbox) -> None:
    faulty.set_faults(truncate_rate=1.0)
    with pytest.raises(
        (
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ConnectionError,
            json.JSONDecodeError,
        )
    ):
        jira_get(faulty).json()


def test_acl_short_page_keeps_next_link(faulty: Sandbox) -> None:
    faulty.set_faults(acl_short_rate=1.0)
    r = requests.get(
        f"{faulty.servicenow_url}/api/now/table/incident",
        auth=SNOW,
        timeout=5,
        params={"sysparm_limit": 30},
    )
    assert 0 < len(r.json()["result"]) < 30
    assert 'rel="next"' in r.headers["Link"] and int(r.headers["X-Total-Count"]) > 30


def test_empty_rows(faulty: Sandbox) -> None:
    faulty.set_faults(empty_row_rate=1.0)
    rows = requests.get(
        f"{faulty.servicenow_url}/api/now/table/incident",
        auth=SNOW,
        timeout=5,
        params={"sysparm_limit": 30},
    ).json()["result"]
    assert len(rows) == 30 and {} in rows


def test_admin_endpoint_sets_faults(faulty: Sandbox) -> None:
    r = requests.post(f"{faulty.servicenow_url}/__admin/faults", json={"rate_500": 1.0}, timeout=5)
    assert r.status_code == 200
    assert jira_get(faulty).status_code == 500
    requests.post(f"{faulty.jira_url}/__admin/faults", json={}, timeout=5)
    assert jira_get(faulty).status_code == 200
