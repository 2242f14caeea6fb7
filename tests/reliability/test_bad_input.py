"""Bad input: malformed records, proxy error pages, bad config, wrong credentials, unreachable
hosts. Records through the real `jira` / `pysnow` clients behind `responses`; the command
line through `flowmetrics.cli.main` against the sandbox."""

from __future__ import annotations

import re

import duckdb
import pytest
import responses

from connectors.jira import JiraSettings, sync_jira
from connectors.result import SourceError
from connectors.servicenow import ServiceNowSettings, sync_servicenow
from flowmetrics.cli import main
from models.config import parse_config
from sandbox import Sandbox
from tests.connectors.jira import jirafake as jf
from tests.connectors.servicenow import snow_fake as sf
from tests.reliability.helpers import NOW, job_env
from warehouse.db import bootstrap

HTML = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


JIRA = JiraSettings(url=jf.BASE, email="bot@acme.com", api_token=jf.TOKEN)
SNOW = ServiceNowSettings(url=sf.BASE, user=sf.USER, password=sf.PASSWORD)
CFG = parse_config({"sources": {"servicenow": {"tables": ["incident"]}}})


def _quarantine(con) -> dict[str, str]:
    return dict(con.execute("select record_key, reason from raw.quarantine").fetchall())


def test_jira_bad_records_are_quarantined_with_reason_and_the_sync_goes_on(con, rsps, policy):
    fake = jf.FakeJira(rsps)
    fake.add(jf.make_issue("1", "PAY-1", status="1"), jf.chain(1, ["1", "3"]))
    fake.add(jf.make_issue("2", "PAY-2", created=None))  # missing field
    fake.add(jf.make_issue("3", "PAY-3", updated="31/12/2024 10:00"))  # invalid timestamp
    nulled = jf.make_issue("4", "PAY-4")
    nulled["fields"]["status"] = None  # null status
    fake.add(nulled)
    fake.add(jf.make_issue("5", "PAY-5", status="777"))  # unknown status
    fake.add(jf.make_issue("6", "PAY-6"), [jf.make_history("h1", "garbage", "1", "3")])
    result = sync_jira(con, JIRA, CFG, run_started_at=jf.NOW, policy=policy)
    reasons = _quarantine(con)
    assert reasons == {
        "2": "fields.created: missing timestamp",
        "3": "fields.updated: Invalid isoformat string: '31/12/2024 10:00'",
        # bug fixed: a null status landed and became a work item with NULL stage and kind
        "4": "fields.status: missing or null",
        "6/h1": "history created: Invalid isoformat string: 'garbage'",
    }
    assert result.streams[0].quarantined == 4
    landed = {
        r[0]: r[1]
        for r in con.execute("select issue_key, status_id from raw.jira_issues").fetchall()
    }
    # an unknown status is data, not an error: it lands, and core maps it by the defaults
    # (listed by the defaulted_statuses check); PAY-6 lands without its bad history entry
    assert landed == {"PAY-1": "1", "PAY-5": "777", "PAY-6": "1"}
    payload = con.execute("select payload from raw.quarantine where record_key = '4'").fetchone()
    assert '"PAY-4"' in payload[0]  # the whole record is kept for inspection


def test_servicenow_bad_records_are_quarantined_with_reason(con, rsps, policy):
    fake = sf.FakeInstance()
    fake.install(rsps)
    fake.tables["incident"] = [
        sf.incident(1, "2024-03-01 10:00:00"),
        sf.incident(2, "2024-03-01 10:00:01", number=""),  # missing field
        sf.incident(3, "2024-03-01 10:00:02", opened_at="yesterday"),  # invalid timestamp
        sf.incident(4, "2024-03-01 10:00:03", state=""),  # null state
        sf.incident(5, "2024-03-01 10:00:04", state="42"),  # unknown state
    ]
    result = sync_servicenow(con, SNOW, CFG, run_started_at=sf.NOW, policy=policy)
    reasons = _quarantine(con)
    assert reasons["a0000000000000000000000000000002"] == "missing number"
    assert reasons["INC0000003"] == (
        "unparseable opened_at 'yesterday' (expected YYYY-MM-DD HH:MM:SS)"
    )
    assert result.streams[0].quarantined >= 2
    states = dict(con.execute("select number, state from raw.servicenow_records").fetchall())
    assert states["INC0000001"] == "2" and states["INC0000005"] == "42"  # unknown: by label rules


def test_servicenow_record_without_state_is_quarantined(con, rsps, policy):
    fake = sf.FakeInstance()
    fake.install(rsps)
    fake.tables["incident"] = [sf.incident(4, "2024-03-01 10:00:03", state="")]
    sync_servicenow(con, SNOW, CFG, run_started_at=sf.NOW, policy=policy)
    # bug fixed (connectors/servicenow/records.py, to_record): it landed with state NULL
    assert _quarantine(con) == {"INC0000004": "missing state"}


def test_jira_html_502_from_a_proxy_is_retried(con, rsps, policy):
    fake = jf.FakeJira(rsps)
    fake.add(jf.make_issue("1", "PAY-1"))
    fake.faults["search/jql"] += [(502, {"Content-Type": "text/html"}, HTML)] * 2
    result = sync_jira(con, JIRA, CFG, run_started_at=jf.NOW, policy=policy)
    assert result.records == 1


def test_jira_html_200_from_a_proxy_fails_clearly_and_lands_nothing(con, rsps, policy):
    fake = jf.FakeJira(rsps)
    fake.add(jf.make_issue("1", "PAY-1"))
    fake.faults["search/jql"] += [(200, {"Content-Type": "text/html"}, HTML)] * 20
    with pytest.raises(SourceError) as err:
        sync_jira(con, JIRA, CFG, run_started_at=jf.NOW, policy=policy)
    # was "JSONDecodeError: Expecting value: line 1 column 1 (char 0)" (fixed in connectors/http.py)
    assert "acme.atlassian.net answered HTTP 200 with an HTML page instead of JSON" in str(
        err.value
    )
    assert "/search/jql" in str(err.value)
    assert con.execute("select count(*) from raw.jira_issues").fetchone()[0] == 0
    assert con.execute("select status from raw.sync_runs").fetchall() == [("failed",)]


def _html_first(rsps, status: int, times: int) -> None:
    """Proxy pages answered before the instance (responses uses each once, in order)."""
    for _ in range(times):
        rsps.add(
            responses.GET,
            re.compile(re.escape(sf.BASE) + r"/api/now/table/\w+"),
            body=HTML,
            status=status,
            content_type="text/html",
        )


def test_servicenow_html_502_from_a_proxy_is_retried(con, rsps, policy):
    _html_first(rsps, 502, 2)
    fake = sf.FakeInstance()
    fake.install(rsps)
    fake.tables["incident"] = [sf.incident(1, "2024-03-01 10:00:00")]
    result = sync_servicenow(con, SNOW, CFG, run_started_at=sf.NOW, policy=policy)
    assert result.streams[0].records == 1


def test_servicenow_html_200_from_a_proxy_fails_clearly(con, rsps, policy):
    _html_first(rsps, 200, 1)
    fake = sf.FakeInstance()
    fake.install(rsps)
    fake.tables["incident"] = [sf.incident(1, "2024-03-01 10:00:00")]
    with pytest.raises(SourceError) as err:
        sync_servicenow(con, SNOW, CFG, run_started_at=sf.NOW, policy=policy)
    assert "answered HTTP 200 with an HTML page instead of JSON" in str(err.value)
    assert con.execute("select count(*) from raw.servicenow_records").fetchone()[0] == 0


# -- the command line: config, credentials, hosts, and the quarantine asset check -----------


@pytest.fixture
def sandbox_env(tmp_path, monkeypatch):
    with Sandbox(seed=2, size=20, mode="cloud", now=NOW) as sb:
        for name, value in job_env(tmp_path, sb.env).items():
            monkeypatch.setenv(name, value)
        yield tmp_path, sb


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("window_days: soon\n", "window_days"),
        ("sources: {jira: {jqll: x}}\n", "sources.jira.jqll"),
        ("stages: [A, B]\nfallback_stages: {new: Nowhere}\n", "fallback_stages.new"),
    ],
)
def test_bad_config_exits_2_naming_the_key_and_file(tmp_path, monkeypatch, capsys, text, key):
    cfg = tmp_path / "flow.yaml"
    cfg.write_text(text)
    monkeypatch.setenv("FLOW_CONFIG", str(cfg))
    assert main(["sync"]) == 2
    err = capsys.readouterr().err
    assert key in err and str(cfg) in err, err
    assert not (tmp_path / "data").exists()  # nothing written


@pytest.mark.slow
def test_wrong_credentials_exit_1_with_a_clear_message(sandbox_env, monkeypatch, capsys):
    monkeypatch.setenv("JIRA_API_TOKEN", "not-the-token")
    monkeypatch.setenv("SERVICENOW_PASSWORD", "not-the-password")
    assert main(["sync"]) == 1
    err = capsys.readouterr().err
    assert "JIRA rejected the credentials for demo@example.com" in err
    assert "check JIRA_EMAIL/JIRA_API_TOKEN or JIRA_PAT" in err
    assert "ServiceNow" in err and "401" in err


@pytest.mark.slow
def test_unreachable_host_names_the_host_and_the_setting(sandbox_env, monkeypatch, capsys):
    monkeypatch.setenv("JIRA_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("SERVICENOW_URL", "http://127.0.0.1:7")
    assert main(["sync"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach JIRA host 127.0.0.1:9" in err and "check JIRA_URL" in err
    assert "127.0.0.1:7" in err and "SERVICENOW_URL" in err, err


@pytest.mark.slow
def test_quarantined_records_fail_the_asset_check(tmp_path, monkeypatch, rsps, policy):
    """The nightly job reports raw.quarantine through the no_quarantined_records check."""
    from flowmetrics.runner import run_nightly

    db = tmp_path / "flow.duckdb"
    con = duckdb.connect(str(db))
    bootstrap(con)
    fake = jf.FakeJira(rsps)
    fake.add(jf.make_issue("1", "PAY-1"))
    fake.add(jf.make_issue("2", "PAY-2", created="not a date"))
    sync_jira(con, JIRA, CFG, run_started_at=jf.NOW, policy=policy)
    con.close()
    rsps.stop()  # the job itself runs with no source configured: checks see the warehouse
    rsps.start()
    for name, value in job_env(tmp_path, {}).items():
        monkeypatch.setenv(name, value)
    outcome = run_nightly(clock=jf.NOW)
    assert any("no_quarantined_records" in c for c in outcome.checks_failed), outcome
