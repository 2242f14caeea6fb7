"""The `forecast` config key (docs/contract.md §6): defaults, and one clear error per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowmetrics.cli import main
from models.config import load_config
from tests.models.config_files import assert_one_clear_error, write


def test_zero_config_has_spec_forecast_defaults(tmp_path: Path) -> None:
    fc = load_config(write(tmp_path, "")).forecast
    assert (fc.history_days, fc.horizons_days, fc.trials, fc.seed) == (56, [14, 28, 56], 10000, 1)


def test_spec_forecast_block_loads(tmp_path: Path) -> None:
    text = "forecast: {history_days: 28, horizons_days: [7, 30], trials: 500, seed: 42}"
    fc = load_config(write(tmp_path, text)).forecast
    assert (fc.history_days, fc.horizons_days, fc.trials, fc.seed) == (28, [7, 30], 500, 42)


@pytest.mark.parametrize(
    ("text", "path", "problem"),
    [
        ("forecast: {trails: 10}", "forecast.trails", "unknown key"),
        ("forecast: {trials: many}", "forecast.trials", "valid integer"),
        ("forecast: {trials: '100'}", "forecast.trials", "valid integer"),
        ("forecast: {seed: true}", "forecast.seed", "valid integer"),
        ("forecast: {history_days: 1.5}", "forecast.history_days", "valid integer"),
        ("forecast: {history_days: 0}", "forecast.history_days", "greater than or equal to 1"),
        ("forecast: {trials: 0}", "forecast.trials", "greater than or equal to 1"),
        ("forecast: {horizons_days: 14}", "forecast.horizons_days", "valid list"),
        ("forecast: {horizons_days: []}", "forecast.horizons_days", "at least 1 item"),
        ("forecast: {horizons_days: [14, x]}", "forecast.horizons_days[1]", "valid integer"),
        ("forecast: {horizons_days: [14, 0]}", "forecast.horizons_days", "1..3660"),
        ("forecast: {horizons_days: [14, 14]}", "forecast.horizons_days", "listed twice"),
        ("forecast: 3", "forecast", "valid dictionary"),
    ],
)
def test_each_forecast_mistake_is_one_clear_error(
    tmp_path: Path, text: str, path: str, problem: str
) -> None:
    assert_one_clear_error(tmp_path, text, path, problem)


def test_bad_forecast_key_exits_2_naming_it(tmp_path: Path, capsys) -> None:
    bad = write(tmp_path, "forecast: {trials: lots}\n")
    assert main(["--config", str(bad), "check-config"]) == 2
    assert f"{bad}: forecast.trials:" in capsys.readouterr().err
