"""The `flowmetrics` command's usage, config validation and exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from flowmetrics.cli import main


def test_help_lists_every_command(capsys) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("demo", "sync", "export", "sandbox", "check-config", "sql"):
        assert command in out


def test_bad_usage_exits_2() -> None:
    assert main(["sync", "--source", "github"]) == 2
    assert main([]) == 2


def test_check_config_accepts_demo_config(capsys) -> None:
    demo = Path(__file__).parents[2] / "models" / "demo_flow.yaml"
    assert main(["--config", str(demo), "check-config"]) == 0
    out = capsys.readouterr().out
    assert "stages:" in out and "Development" in out


def test_check_config_rejects_unknown_key_and_undeclared_stage(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "flow.yaml"
    bad.write_text("stages: [A, B]\nwindow_dayz: 3\n")
    assert main(["--config", str(bad), "check-config"]) == 2
    assert f"{bad}: window_dayz: unknown key" in capsys.readouterr().err
    bad.write_text("stages: [A, B]\nstatuses: {jira: {Open: {stage: Z, kind: wait}}}\n")
    assert main(["--config", str(bad), "check-config"]) == 2
    assert "statuses.jira.Open.stage: stage 'Z' is not in stages" in capsys.readouterr().err


def test_console_script_is_installed(tmp_path: Path) -> None:
    bad = tmp_path / "flow.yaml"
    bad.write_text("nope: 1\n")
    done = subprocess.run(
        [sys.executable, "-m", "flowmetrics", "--config", str(bad), "check-config"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "nope: unknown key" in done.stderr
