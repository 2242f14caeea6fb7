"""The `links` config key (docs/contract.md §6): defaults, and each mistake as one error naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowmetrics.cli import main
from models.config import parse_config
from tests.models.config_files import assert_one_clear_error


def test_links_default_to_correlation_id_and_text_search() -> None:
    cfg = parse_config({})
    assert cfg.links.change_request_fields == ["correlation_id"]
    assert cfg.links.search_text is True


def test_links_accept_custom_fields_and_no_text_search() -> None:
    cfg = parse_config(
        {"links": {"change_request_fields": ["correlation_id", "u_jira_key"], "search_text": False}}
    )
    assert cfg.links.change_request_fields == ["correlation_id", "u_jira_key"]
    assert cfg.links.search_text is False
    assert parse_config({"links": {"change_request_fields": []}}).links.change_request_fields == []


@pytest.mark.parametrize(
    ("text", "path", "problem"),
    [
        ("links: {change_request_field: [x]}", "links.change_request_field", "unknown key"),
        (
            "links: {change_request_fields: correlation_id}",
            "links.change_request_fields",
            "valid list",
        ),
        ("links: {change_request_fields: [5]}", "links.change_request_fields[0]", "valid string"),
        (
            "links: {change_request_fields: ['Correlation ID']}",
            "links.change_request_fields[0]",
            "pattern",
        ),
        ("links: {search_text: 'yes'}", "links.search_text", "valid boolean"),
        ("links: [correlation_id]", "links", "valid dictionary"),
    ],
)
def test_each_links_mistake_is_one_clear_error(
    tmp_path: Path, text: str, path: str, problem: str
) -> None:
    assert_one_clear_error(tmp_path, text, path, problem)


def test_check_config_exits_2_naming_the_links_key(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "flow.yaml"
    bad.write_text("links: {search_text: 3}\n", encoding="utf-8")
    assert main(["--config", str(bad), "check-config"]) == 2
    assert f"{bad}: links.search_text: " in capsys.readouterr().err
