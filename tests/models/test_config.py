"""`load_config`: accepted shapes, defaults, and one readable error per mistake."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from models.config import ConfigError, load_config, load_demo_config, parse_yaml
from tests.models.config_files import assert_one_clear_error, write


def test_zero_config_uses_spec_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, ""))
    assert cfg.stages == ["Backlog", "In Progress", "Done"]
    assert cfg.fallback_stage("new") == "Backlog"
    assert cfg.fallback_stage("indeterminate") == "In Progress"
    assert cfg.fallback_stage("done") == "Done"
    assert cfg.window_days == 90
    assert cfg.period == "week"
    assert cfg.sources.servicenow.tables == ["incident"]
    assert cfg.targets.configured() == {}
    assert cfg.warehouse == "data/flow.duckdb"


def test_demo_config_is_valid() -> None:
    cfg = load_demo_config()
    assert cfg.done_stage == "Done"
    assert cfg.statuses.jira["In Progress"].stage == "Development"
    assert [vs.name for vs in cfg.value_streams] == ["Payments", "Web", "Platform"]


def test_spec_example_loads(tmp_path: Path) -> None:
    text = """
warehouse: data/flow.duckdb
as_of: "2026-01-31T00:00:00Z"
window_days: 90
period: month
sources:
  jira: {jql: "project in (PAY, WEB)"}
  servicenow: {tables: [incident], query: ""}
stages: [Backlog, Analysis, Development, Review, Test, Release, Triage, Restore, Done]
fallback_stages: {new: Backlog, indeterminate: Development, done: Done}
statuses:
  jira:
    "Open": {stage: Backlog, kind: wait}
    "Done": {stage: Done, kind: done}
  servicenow:
    incident:
      3: {stage: Restore, kind: wait}
value_streams:
  - name: Payments
    jira: {projects: [PAY], components: [], labels: []}
    servicenow: {assignment_groups: [Payments Ops]}
flow_types:
  - {type: debt, jira: {issue_types: [Tech Debt]}}
targets:
  lead_time_p95_days: 7
  tech_debt_ratio_min: 0.20
"""
    cfg = load_config(write(tmp_path, text))
    assert cfg.as_of == datetime(2026, 1, 31, tzinfo=UTC)
    assert cfg.statuses.servicenow.incident["3"].stage == "Restore"  # int key read as "3"
    assert cfg.targets.configured() == {"lead_time_p95_days": 7.0, "tech_debt_ratio_min": 0.2}


def test_warehouse_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOW_WAREHOUSE", "/tmp/other.duckdb")
    assert load_config(write(tmp_path, "warehouse: a.duckdb")).warehouse == "/tmp/other.duckdb"


def test_config_path_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "window_days: 30")
    monkeypatch.setenv("FLOW_CONFIG", str(path))
    assert load_config().window_days == 30


@pytest.mark.parametrize(
    ("text", "path", "problem"),
    [
        ("foo: 1", "foo", "unknown key"),
        ("sources: {jira: {jqll: x}}", "sources.jira.jqll", "unknown key"),
        ("window_days: abc", "window_days", "valid integer"),
        ("window_days: 0", "window_days", "greater than 0"),
        ("period: day", "period", "'week', '2weeks' or 'month'"),
        (
            "stages: [A, B]\nfallback_stages: {new: X}",
            "fallback_stages.new",
            "'X' is not in stages",
        ),
        (
            "stages: [A, B]\nstatuses: {jira: {Open: {stage: Nowhere, kind: wait}}}",
            "statuses.jira.Open.stage",
            "'Nowhere' is not in stages",
        ),
        (
            "stages: [A, B]\nstatuses: {jira: {Open: {stage: A, kind: sleeping}}}",
            "statuses.jira.Open.kind",
            "'wait', 'active', 'done' or 'dropped'",
        ),
        (
            "stages: [A, B]\nstatuses: {jira: {Shipped: {stage: A, kind: done}}}",
            "statuses.jira.Shipped.stage",
            "last stage 'B'",
        ),
        (
            "stages: [A, B]\nstatuses: {jira: {Parked: {stage: B, kind: wait}}}",
            "statuses.jira.Parked.kind",
            "only done and dropped",
        ),
        (
            "stages: [A, B]\nstatuses: {servicenow: {incident: {'3': {stage: C, kind: wait}}}}",
            "statuses.servicenow.incident.3.stage",
            "'C' is not in stages",
        ),
        ("value_streams: [{name: Pay}, {name: pay}]", "value_streams[1].name", "duplicate"),
        ("value_streams: [{name: all}]", "value_streams[0].name", "reserved"),
        ("as_of: yesterday", "as_of", "not an ISO-8601 instant"),
        ("stages: [A, A, B]", "stages", "listed twice"),
        (
            "sources: {servicenow: {tables: [incidents]}}",
            "sources.servicenow.tables[0]",
            "incident",
        ),
        ("flow_types: [{type: epic}]", "flow_types[0].type", "feature"),
        ("targets: {tech_debt_ratio_min: 2}", "targets.tech_debt_ratio_min", "less than or equal"),
        ("handoffs: {jira_feld: Team}", "handoffs.jira_feld", "unknown key"),
        ("handoffs: {jira_field: ''}", "handoffs.jira_field", "at least 1 character"),
        ("handoffs: {jira_field: [Team]}", "handoffs.jira_field", "valid string"),
    ],
)
def test_each_mistake_is_one_clear_error(
    tmp_path: Path, text: str, path: str, problem: str
) -> None:
    assert_one_clear_error(tmp_path, text, path, problem)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match=r"not valid YAML at line 2"):
        parse_yaml("a: 1\nb: [", "x.yaml")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        parse_yaml("- 1\n- 2", "x.yaml")


def test_naive_as_of_is_read_as_utc() -> None:
    cfg = parse_yaml("as_of: '2026-03-01T12:00:00'", "x.yaml")
    assert cfg.as_of == datetime(2026, 3, 1, 12, tzinfo=UTC)
    cfg = parse_yaml("as_of: '2026-03-01T12:00:00+02:00'", "x.yaml")
    assert cfg.as_of == datetime(2026, 3, 1, 10, tzinfo=UTC)


def test_two_stages_keep_work_out_of_the_done_stage() -> None:
    cfg = parse_yaml("stages: [Todo, Done]", "x.yaml")
    assert cfg.fallback_stage("indeterminate") == "Todo"


def test_handoffs_field_defaults_to_none_and_reads_a_name(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "{}")).handoffs.jira_field is None
    assert (
        load_config(write(tmp_path, "handoffs: {jira_field: Team}")).handoffs.jira_field == "Team"
    )
