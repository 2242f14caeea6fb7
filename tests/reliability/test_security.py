"""Security: planted secrets never leak; exported formulas are neutralised; configured scopes
cannot widen the queries; TLS verification is on unless explicitly (and loudly) turned off."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import responses

import sandbox.jira_api as jira_api
import sandbox.servicenow_api as snow_api
from connectors.http import RetryPolicy
from connectors.jira import JiraSettings, sync_jira
from connectors.jira.client import JiraClient
from connectors.jira.jql import JqlScopeError, build_issue_jql, project_clause
from connectors.result import SourceError
from connectors.servicenow import ServiceNowSettings, sync_servicenow
from connectors.servicenow.client import ServiceNowClient
from connectors.servicenow.query import UnsafeQueryError, records_query, validate_scope
from flowmetrics.cli import main
from models.config import parse_config
from sandbox import Sandbox
from tests.connectors.jira import jirafake as jf
from tests.reliability.helpers import NOW, job_env

TOKEN = "Tok3n-PLANTED-7f3a9c"
PASSWORD = "Passw0rd-PLANTED-e41b"
WRONG = "Wr0ng-PLANTED-55d0"


def _needles(*secrets: str) -> list[str]:
    """The secrets, and the Basic-auth header forms that would carry them."""
    out = list(secrets)
    for user in (jira_api.EMAIL, snow_api.USER):
        for secret in secrets:
            out.append(base64.b64encode(f"{user}:{secret}".encode()).decode())
    return out


def _dump_duckdb(db: Path) -> str:
    con = duckdb.connect(str(db), read_only=True)
    try:
        parts = []
        for schema, table in con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall():
            parts.append(repr(con.execute(f'select * from "{schema}"."{table}"').fetchall()))
        return "\n".join(parts)
    finally:
        con.close()


def _files_text(root: Path) -> str:
    return "\n".join(p.read_bytes().decode("latin-1") for p in root.rglob("*") if p.is_file())


@pytest.mark.slow
def test_planted_secrets_appear_nowhere(tmp_path, monkeypatch, capfd, caplog):
    monkeypatch.setattr(jira_api, "API_TOKEN", TOKEN)
    monkeypatch.setattr(snow_api, "PASSWORD", PASSWORD)
    with Sandbox(seed=4, size=30, mode="cloud", now=NOW) as sb:
        assert sb.env["JIRA_API_TOKEN"] == TOKEN and sb.env["SERVICENOW_PASSWORD"] == PASSWORD
        for name, value in job_env(tmp_path, sb.env).items():
            monkeypatch.setenv(name, value)
        with caplog.at_level(logging.DEBUG):
            assert main(["-v", "sync"]) == 0
            assert main(["export", "--out", str(tmp_path / "exports2")]) == 0
            monkeypatch.setenv("JIRA_API_TOKEN", WRONG)  # a failing run, wrong secrets
            monkeypatch.setenv("SERVICENOW_PASSWORD", WRONG)
            assert main(["-v", "sync"]) == 1
    captured = capfd.readouterr()
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
        events = "\n".join(repr(e) for r in runs for e in instance.all_logs(r.run_id))
        run_configs = "\n".join(repr((r.run_config, r.tags)) for r in runs)
    assert len(runs) == 2 and "JIRA rejected the credentials" in captured.err
    places = {
        "stdout": captured.out,
        "stderr": captured.err,
        "python logs": caplog.text,
        "dagster event log": events,
        "dagster run config and tags": run_configs,
        "DAGSTER_HOME files (sqlite, compute logs)": _files_text(tmp_path / "dagster_home"),
        "duckdb": _dump_duckdb(tmp_path / "flow.duckdb"),
        "exports": _files_text(tmp_path / "exports") + _files_text(tmp_path / "exports2"),
    }
    assert len(places["duckdb"]) > 10_000 and "raw.jira_issues" not in places["exports"]
    for where, text in places.items():
        for needle in _needles(TOKEN, PASSWORD, WRONG):
            assert needle not in text, f"secret {needle[:6]}... found in {where}"


def test_exported_cells_that_read_as_formulas_are_neutralised():
    from reports.export import csv_cell

    for text in (
        '=HYPERLINK("http://x","y")',
        "+1+2",
        "@SUM(A1)",
        "-cmd|' /C calc'!A0",
        "\t=1",
        "\r=1",
    ):
        assert csv_cell(text).startswith("'"), text
    assert csv_cell("Payments") == "Payments"
    assert csv_cell(-2.5) == "-2.5"  # numbers stay numbers


# -- query injection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scope",
    [
        "X) OR (1=1",
        "project = PAY) OR (project = WEB",
        'summary ~ "a" ) OR ( 1=1',
        "(project = PAY",
    ],
)
def test_jql_scope_that_could_escape_its_parentheses_is_refused(scope):
    with pytest.raises(JqlScopeError):
        build_issue_jql(scope, None, NOW)


def test_jql_scope_is_wrapped_and_bounded():
    jql = build_issue_jql("project = PAY OR project = WEB", NOW, NOW)
    assert jql.startswith("(project = PAY OR project = WEB) AND updated >= ")
    assert project_clause(['X") OR ("1"="1']) == 'project in ("X\\") OR (\\"1\\"=\\"1")'


def test_value_stream_project_keys_never_reach_jql(tmp_path):
    cfg = parse_config(
        {"value_streams": [{"name": "Evil", "jira": {"projects": ['PAY") OR ("1"="1']}}]}
    )
    con = duckdb.connect(":memory:")
    from warehouse.db import bootstrap

    bootstrap(con)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = jf.FakeJira(rsps)
        fake.add(jf.make_issue("1", "PAY-1"))
        sync_jira(
            con,
            JiraSettings(url=jf.BASE, email="a@b.c", api_token=jf.TOKEN),
            cfg,
            run_started_at=jf.NOW,
            policy=RetryPolicy(sleep=lambda s: None),
        )
        sent = " ".join(str(params) for _, _, params in fake.calls)
    assert "search/jql" in " ".join(fake.paths()) and "1=1" not in sent and '"1"' not in sent


@pytest.mark.parametrize(
    "scope",
    [
        "active=true^ORpriority=1",
        "active=true^NQpriority=1",
        "ORpriority=1",
        "priority=1^EQ",
        "active=true^RLQUERYx",
    ],
)
def test_servicenow_scope_that_could_widen_the_query_is_refused(scope):
    with pytest.raises(UnsafeQueryError, match="sources.servicenow.query"):
        validate_scope(scope)


def test_servicenow_unsafe_scope_fails_the_sync_before_any_request(tmp_path):
    cfg = parse_config({"sources": {"servicenow": {"query": "active=true^ORactive=false"}}})
    con = duckdb.connect(":memory:")
    from warehouse.db import bootstrap

    bootstrap(con)
    settings = ServiceNowSettings(url="http://127.0.0.1:9", user="u", password="p")
    with pytest.raises(SourceError, match=r"\^OR"):
        sync_servicenow(con, settings, cfg, run_started_at=NOW)
    assert records_query(None, NOW, validate_scope("priorityIN1,2")).startswith(
        "sys_updated_on<2026-06-01 12:00:00^priorityIN1,2^ORDERBY"
    )


# -- TLS --------------------------------------------------------------------------------------


def test_tls_verification_is_on_by_default_and_off_only_with_a_warning(caplog):
    cfg = parse_config({})
    assert cfg.sources.jira.verify_tls is True and cfg.sources.servicenow.verify_tls is True
    snow = ServiceNowSettings(url="https://acme.service-now.com", user="u", password="p")
    jira = JiraSettings(url=jf.BASE, email="a@b.c", api_token=jf.TOKEN)
    with caplog.at_level(logging.WARNING):
        assert ServiceNowClient(snow)._session.verify is True
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            jf.FakeJira(rsps)
            assert JiraClient(jira).session.verify is True
            assert "verification is OFF" not in caplog.text
            assert JiraClient(jira, verify_tls=False).session.verify is False
        assert caplog.text.count("TLS certificate verification is OFF") == 1
        assert ServiceNowClient(snow, verify=False)._session.verify is False
    assert caplog.text.count("TLS certificate verification is OFF (verify_tls: false)") == 2
