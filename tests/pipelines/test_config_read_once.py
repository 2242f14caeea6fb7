"""flow.yaml is read once per run (docs/architecture.md, "One config path").

Every asset and check of the nightly job asks `flow_config.load()`; before the one resolver
each call re-read and re-validated the file (about 26 reads a run). Counted here on the real
file reads of a real run against the sandbox.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from flowmetrics.cli import main
from flowmetrics.runner import run_nightly
from models.config import resolve_config
from pipelines.resources import RunSetup
from sandbox import Sandbox

pytestmark = pytest.mark.slow

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CONFIG = """
as_of: "2026-06-01T12:00:00Z"
sources:
  servicenow: {tables: [incident, problem]}
value_streams:
  - {name: Payments, jira: {projects: [PAY]}, servicenow: {assignment_groups: [Payments Ops]}}
targets: {lead_time_p95_days: 30}
"""


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    config = tmp_path / "flow.yaml"
    config.write_text(CONFIG)
    monkeypatch.setenv("FLOW_WAREHOUSE", str(tmp_path / "flow.duckdb"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    reads: list[Path] = []
    real_read_text = Path.read_text

    def counting_read_text(self: Path, *args, **kwargs):
        if self.resolve() == config.resolve():
            reads.append(self)
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counting_read_text)
    with Sandbox(seed=3, size=20, mode="cloud", now=NOW) as sb:
        for name, value in sb.env.items():
            monkeypatch.setenv(name, value)
        yield config, reads


def test_a_run_reads_the_config_file_once(world):
    config, reads = world
    cfg = resolve_config(config)  # the caller's own read (the CLI's validation)
    assert len(reads) == 1
    outcome = run_nightly(setup=RunSetup(config_path=str(config)), cfg=cfg, clock=NOW)
    assert outcome.success, outcome.failures
    assert len(outcome.materialized) >= 18  # each of them, and each check, used the config
    assert len(reads) == 2  # the run itself: one read


def test_flowmetrics_sync_reads_the_config_file_twice_in_all(world, capsys):
    config, reads = world
    assert main(["--config", str(config), "sync"]) == 0, capsys.readouterr().err
    # once to validate it before anything runs (a bad config exits 2), once by the run
    assert len(reads) == 2
