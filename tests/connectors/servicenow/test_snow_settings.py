"""Settings come only from the environment, and the password never shows."""

from __future__ import annotations

import pytest

from connectors.result import SourceError
from connectors.servicenow import ServiceNowSettings


def test_absent_variables_mean_not_configured():
    assert ServiceNowSettings.from_env({}) is None
    assert (
        ServiceNowSettings.from_env(
            {"SERVICENOW_URL": "https://x.service-now.com", "SERVICENOW_USER": "u"}
        )
        is None
    )


def test_http_base_url_with_port_and_hidden_password():
    s = ServiceNowSettings.from_env(
        {
            "SERVICENOW_URL": "http://127.0.0.1:8081/",
            "SERVICENOW_USER": "admin",
            "SERVICENOW_PASSWORD": "hunter2",
        }
    )
    assert s is not None
    assert (s.url, s.use_ssl, s.host) == ("http://127.0.0.1:8081", False, "127.0.0.1:8081")
    assert "hunter2" not in repr(s) and "hunter2" not in str(s)
    assert s.record_url("incident", "abc") == (
        "http://127.0.0.1:8081/nav_to.do?uri=incident.do?sys_id=abc"
    )


def test_user_info_in_the_url_is_dropped():
    s = ServiceNowSettings("https://bot:pw@acme.service-now.com", "bot", "pw")
    assert s.url == "https://acme.service-now.com" and s.use_ssl


def test_not_a_url_is_a_clear_error():
    with pytest.raises(SourceError, match="SERVICENOW_URL must be a full base URL"):
        ServiceNowSettings("acme.service-now.com", "u", "p")
