"""A night against sources that answer every request `429 Retry-After: 899` (issue #20):
through the real command, the sandbox and the config's `sync.max_wait_minutes`, each source
fails within its budget naming itself, instead of sleeping 899 s per request for days."""

from __future__ import annotations

import re
import time

import duckdb

from flowmetrics.cli import main
from sandbox import Sandbox
from tests.reliability.helpers import CONFIG, NOW, job_env


def test_retry_after_899_fails_the_night_within_its_budget_naming_each_source(
    tmp_path, monkeypatch, capfd
):
    config = CONFIG.replace("sync: {census_days: 0}", "sync: {census_days: 0, max_wait_minutes: 1}")
    assert "max_wait_minutes: 1" in config
    with Sandbox(
        seed=3, size=10, mode="cloud", now=NOW, faults={"rate_429": 1.0, "retry_after_seconds": 899}
    ) as sb:
        for name, value in job_env(tmp_path, sb.env, config).items():
            monkeypatch.setenv(name, value)
        started = time.monotonic()
        assert main(["sync"]) == 1
        took = time.monotonic() - started
    err = capfd.readouterr().err
    print(f"night failed after {took:.1f}s")
    assert took < 60, took  # the budget is 60 s, and 899 s never fits in it: no wait at all
    jira = re.search(
        r"JIRA at http://127\.0\.0\.1:\d+ kept failing: waiting 899\.0s more for "
        r"127\.0\.0\.1:\d+ would exceed the run's retry budget of 60s",
        err,
    )
    snow = re.search(
        r"ServiceNow at http://127\.0\.0\.1:\d+ kept failing while reading table "
        r"\w+: waiting 899\.0s more for 127\.0\.0\.1:\d+ would exceed the run's "
        r"retry budget of 60s",
        err,
    )
    assert jira and snow, err
    con = duckdb.connect(str(tmp_path / "flow.duckdb"), read_only=True)
    runs = con.execute("select source, status from raw.sync_runs order by 1").fetchall()
    assert set(runs) == {("jira", "failed"), ("servicenow", "failed")}  # one row per stream
    assert con.execute("select count(*) from raw.sync_state").fetchone() == (0,)
    con.close()


def test_a_budget_that_is_not_positive_is_a_config_error(tmp_path, capsys):
    bad = tmp_path / "flow.yaml"
    bad.write_text("sync: {max_wait_minutes: 0}\n")
    assert main(["--config", str(bad), "check-config"]) == 2
    assert "sync.max_wait_minutes" in capsys.readouterr().err
