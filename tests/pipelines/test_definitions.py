"""The Dagster code location: what `dagster dev` shows and how the schedule fires."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
from croniter import croniter

from pipelines.instance import INSTANCE_YAML, WAREHOUSE_POOL, ensure_dagster_home

ROOT = Path(__file__).parents[2]


def load_defs() -> dg.Definitions:
    from pipelines.definitions import build_definitions

    return build_definitions()


def test_every_layer_is_an_asset_in_its_group() -> None:
    graph = load_defs().resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for expected in (
        "raw/jira_issues",
        "raw/servicenow_incident",
        "raw/servicenow_change_request",
        "raw/servicenow_problem",
        "core/work_items",
        "core/transitions",
        "core/status_intervals",
        "core/unmapped_statuses",
        "metrics/item_flow",
        "metrics/lead_time",
        "metrics/wait_states",
        "metrics/rework",
        "metrics/value_stream_map",
        "metrics/value_stream_summary",
        "metrics/flow_distribution",
        "metrics/scorecard",
        "exports/leadership_pack",
    ):
        assert expected in keys
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.group_name == key.path[0]
        assert node.description, key
        if key.path[0] in ("core", "metrics") and key.path[1] != "build_params":
            assert node.description.startswith("One row per"), key  # descriptions state the grain


def test_metrics_depend_on_core_and_exports_on_metrics() -> None:
    graph = load_defs().resolve_asset_graph()

    def parents(k: str) -> set[str]:
        return {p.to_user_string() for p in graph.get(dg.AssetKey(k.split("/"))).parent_keys}

    assert "core/transitions" in parents("core/status_intervals")
    assert "metrics/item_flow" in parents("metrics/lead_time")
    assert {"raw/jira_issues", "raw/servicenow_incident"} <= parents("core/build_params")
    assert "metrics/scorecard" in parents("exports/leadership_pack")


def test_every_duckdb_writer_shares_one_pool() -> None:
    defs = load_defs()
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assert graph.assets_def_for_key(key).op.pool == WAREHOUSE_POOL, key


def test_checks_cover_the_issue_list() -> None:
    defs = load_defs()
    names = {c.name for c in defs.resolve_asset_graph().asset_check_keys}
    assert {
        "unique_item_ids",
        "intervals_tile",
        "no_negative_durations",
        "history_complete",
        "statuses_use_defaults",
        "sync_fresh",
        "targets_met",
        "no_quarantined_records",
        "matches_source",
    } <= names


def test_nightly_schedule_fires_at_two_utc() -> None:
    defs = load_defs()
    schedule = defs.resolve_schedule_def("nightly_sync_schedule")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "UTC"
    after = croniter(schedule.cron_schedule, datetime(2026, 3, 1, 2, 30, tzinfo=UTC))
    assert after.get_next(datetime) == datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    assert schedule.job_name == "nightly_sync"


def test_schedule_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "flow.yaml"
    cfg.write_text("schedule: {cron: '30 4 * * 1-5', timezone: Europe/Paris}\n")
    monkeypatch.setenv("FLOW_CONFIG", str(cfg))
    schedule = load_defs().resolve_schedule_def("nightly_sync_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("30 4 * * 1-5", "Europe/Paris")


def test_secrets_are_env_var_references_not_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIRA_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("JIRA_EMAIL", "a@b.c")
    monkeypatch.setenv("JIRA_API_TOKEN", "tok-SECRET-123")
    from pipelines.resources import build_resources

    jira = build_resources()["jira"]
    assert "tok-SECRET-123" not in repr(jira)
    assert isinstance(jira.api_token, dg.EnvVar) or "tok-SECRET" not in str(jira.api_token)


def test_instance_settings_match_the_repository_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one copy: the root file `dagster dev` reads is a link to the packaged one
    assert (ROOT / "dagster.yaml").resolve() == (ROOT / "pipelines" / "dagster.yaml").resolve()
    assert (ROOT / "dagster.yaml").read_text() == INSTANCE_YAML
    assert "default_limit: 1" in INSTANCE_YAML
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    home = ensure_dagster_home()
    assert home == tmp_path / ".dagster_home"
    assert (home / "dagster.yaml").read_text() == INSTANCE_YAML
