"""Secrets in odd shapes (issue #20): a credential with a CR, LF, NUL or a character HTTP auth
cannot carry is refused when settings are read, naming the variable and never the value; user-
info in JIRA_URL / SERVICENOW_URL is removed; an unexpected exception is shown by type and a
redacted text. A planted secret in each shape is then searched everywhere a run writes."""

from __future__ import annotations

import logging
import re

import dagster as dg
import pytest

import sandbox.jira_api as jira_api
import sandbox.servicenow_api as snow_api
from connectors.jira import JiraSettings
from connectors.jira.errors import explain
from connectors.result import SourceError
from connectors.secrets import describe
from connectors.servicenow import ServiceNowSettings
from flowmetrics.cli import main
from sandbox import Sandbox
from tests.reliability.helpers import NOW, job_env
from tests.reliability.test_security import _dump_duckdb, _files_text, _needles

#: Characters that must never be inside a credential (C0 controls, DEL, a C1 control) and one
#: that HTTP Basic/Bearer auth cannot carry (outside Latin-1).
ODD = ["\r", "\n", "\r\n", "\x00", "\t", "\x1b", "\x7f", "\x85", "\u20ac", "\u2028"]

JIRA_CLOUD = {
    "JIRA_URL": "https://acme.atlassian.net",
    "JIRA_EMAIL": "a@b.c",
    "JIRA_API_TOKEN": "tok",
}
JIRA_DC = {"JIRA_URL": "https://jira.acme.test", "JIRA_PAT": "pat"}
SNOW = {
    "SERVICENOW_URL": "https://acme.service-now.com",
    "SERVICENOW_USER": "svc",
    "SERVICENOW_PASSWORD": "pw",
}


def _read(env: dict[str, str]):
    if "SERVICENOW_URL" in env:
        return ServiceNowSettings.from_env(env)
    return JiraSettings.from_env(env)


@pytest.mark.parametrize("odd", ODD, ids=[repr(c) for c in ODD])
@pytest.mark.parametrize(
    ("base", "name"),
    [
        (JIRA_CLOUD, "JIRA_API_TOKEN"),
        (JIRA_CLOUD, "JIRA_EMAIL"),
        (JIRA_DC, "JIRA_PAT"),
        (SNOW, "SERVICENOW_PASSWORD"),
        (SNOW, "SERVICENOW_USER"),
    ],
)
def test_a_credential_in_an_odd_shape_is_refused_naming_the_variable(base, name, odd):
    value = f"Left-PLANTED{odd}Right-PLANTED"
    with pytest.raises(SourceError) as caught:
        _read({**base, name: value})
    message = str(caught.value)
    assert message.startswith(f"{name} contains a ")
    assert "its value is not shown" in message
    assert "PLANTED" not in message and odd not in message


def test_surrounding_line_endings_are_a_paste_not_an_odd_shape():
    assert JiraSettings.from_env({**JIRA_DC, "JIRA_PAT": "pat-123\r\n"}).pat == "pat-123"
    snow = ServiceNowSettings.from_env({**SNOW, "SERVICENOW_PASSWORD": " pw 1 \n"})
    assert snow.password == " pw 1 "  # spaces may belong to a password; the line ending not


@pytest.mark.parametrize(
    ("env", "url"),
    [
        (
            {**JIRA_DC, "JIRA_URL": "http://bob:Url-PLANTED@jira.acme.test:8080/jira/"},
            "http://jira.acme.test:8080/jira",
        ),
        (
            {**JIRA_CLOUD, "JIRA_URL": "https://Url-PLANTED@acme.atlassian.net?x=1#f"},
            "https://acme.atlassian.net",
        ),
        (
            {**SNOW, "SERVICENOW_URL": "https://svc:Url-PLANTED@acme.service-now.com/"},
            "https://acme.service-now.com",
        ),
    ],
)
def test_user_info_in_either_url_is_removed_with_a_warning(env, url, caplog):
    with caplog.at_level(logging.WARNING):
        settings = _read(env)
    assert settings.url == url
    assert "PLANTED" not in repr(settings) and "PLANTED" not in caplog.text
    name = "SERVICENOW_URL" if "SERVICENOW_URL" in env else "JIRA_URL"
    assert f"{name} contains user-info (user:password@); it was removed" in caplog.text


def test_a_url_that_is_not_a_base_url_is_refused_without_its_user_info():
    with pytest.raises(SourceError, match=r"JIRA_URL must be a full base URL") as caught:
        JiraSettings.from_env({**JIRA_DC, "JIRA_URL": "ftp://bob:Url-PLANTED@jira.acme.test"})
    assert "PLANTED" not in str(caught.value)


def test_an_unexpected_exception_is_shown_by_type_and_redacted_text():
    settings = JiraSettings(url="https://jira.acme.test", email="a@b.c", api_token="Tok-PLANTED")
    shapes = [
        "Invalid header value b'Bearer Tok-PLANTED\\r\\nX-Evil: 1'",  # http.client's text
        "headers: {'Authorization': 'Basic YUBiLmM6VG9rLVBMQU5URUQ='}",  # base64(a@b.c:Tok-…)
        "GET http://a%40b.c:Tok-PLANTED@jira.acme.test/rest failed",
        "token=Tok-PLANTED",
        "Tok-PLANTED",
    ]
    for text in shapes:
        message = str(explain(ValueError(text), settings))
        assert message.startswith("JIRA sync failed: ValueError: "), message
        assert "PLANTED" not in message and "YUBiLmM6VG9r" not in message, message
    long = describe(RuntimeError("x" * 1000 + "\nforged log line"))
    assert len(long) < 320 and "\n" not in long


def _run_places(capfd, caplog, tmp, runs: int, earlier) -> dict[str, str]:
    captured = capfd.readouterr()
    with dg.DagsterInstance.get() as instance:
        found = instance.get_runs()
        events = "\n".join(repr(e) for r in found for e in instance.all_logs(r.run_id))
        configs = "\n".join(repr((r.run_config, r.tags)) for r in found)
    assert len(found) == runs
    return {
        "stdout": earlier.out + captured.out,
        "stderr": earlier.err + captured.err,
        "python logs": caplog.text,
        "dagster event log": events,
        "dagster run config and tags": configs,
        "DAGSTER_HOME files": _files_text(tmp / "dagster_home"),
        "duckdb": _dump_duckdb(tmp / "flow.duckdb"),
    }


@pytest.mark.slow
def test_planted_secrets_in_odd_shapes_appear_nowhere(tmp_path, monkeypatch, capfd, caplog):
    """Two nights. Night 1 (Data Center): JIRA_PAT carries a CR LF and a second line; the
    ServiceNow URL carries user:password@. Night 2 (Cloud): JIRA_URL carries user:password@;
    SERVICENOW_PASSWORD carries a LF. Each refused source fails the run naming its variable;
    the other lands, with URLs free of user-info."""
    token, password = "Tok-PLANTED-a1", "Pw-PLANTED-b2"
    monkeypatch.setattr(jira_api, "API_TOKEN", token)
    monkeypatch.setattr(snow_api, "PASSWORD", password)
    planted = {
        "pat": "Pat-PLANTED-c3\r\nX-Evil: Pat-PLANTED-d4",
        "snow_url_secret": "SnowUrl-PLANTED-e5",
        "jira_url_secret": "JiraUrl-PLANTED-f6",
        "password_lf": "Pw-PLANTED-g7\nPw-PLANTED-h8",  # (an environment cannot hold a NUL)
    }
    caplog.set_level(logging.DEBUG)
    with Sandbox(seed=4, size=20, mode="datacenter", now=NOW) as sb:
        env = job_env(tmp_path, sb.env)
        env["JIRA_PAT"] = planted["pat"]
        env["SERVICENOW_URL"] = sb.servicenow_url.replace(
            "http://", f"http://admin:{planted['snow_url_secret']}@"
        )
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        assert main(["-v", "sync"]) == 1
    night1 = capfd.readouterr()
    assert "JIRA_PAT contains a control character" in night1.err, night1.err
    with Sandbox(seed=5, size=20, mode="cloud", now=NOW) as sb:
        monkeypatch.delenv("JIRA_PAT")
        monkeypatch.setenv(
            "JIRA_URL", sb.jira_url.replace("http://", f"http://demo:{planted['jira_url_secret']}@")
        )
        monkeypatch.setenv("JIRA_EMAIL", jira_api.EMAIL)
        monkeypatch.setenv("JIRA_API_TOKEN", token)
        monkeypatch.setenv("SERVICENOW_URL", sb.servicenow_url)
        monkeypatch.setenv("SERVICENOW_PASSWORD", planted["password_lf"])
        assert main(["-v", "sync"]) == 1
    places = _run_places(capfd, caplog, tmp_path, runs=2, earlier=night1)
    assert "SERVICENOW_PASSWORD contains a control character" in places["stderr"]
    assert "JIRA_URL contains user-info" in places["python logs"]
    assert "SERVICENOW_URL contains user-info" in places["python logs"]
    # what did land carries the URLs without user-info
    assert re.search(r"http://127\.0\.0\.1:\d+/browse/", places["duckdb"])
    assert re.search(r"http://127\.0\.0\.1:\d+/nav_to\.do", places["duckdb"])
    needles = _needles(token, password) + [
        "PLANTED-c3",
        "PLANTED-d4",
        "PLANTED-e5",
        "PLANTED-f6",
        "PLANTED-g7",
        "PLANTED-h8",
    ]
    for where, text in places.items():
        for needle in needles:
            assert needle not in text, f"secret {needle!r} found in {where}"
