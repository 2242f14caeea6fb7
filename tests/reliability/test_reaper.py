"""The dead-run reaper in containers (issue #20): a run is judged by its process's start time
and the kernel's boot id, not by whether some process has its pid; an age fallback covers runs
it cannot see. Runs are planted in a real (SQLite) Dagster instance and reaped by
`reap_dead_runs`, as `run_nightly` does before it starts."""

from __future__ import annotations

import os
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from flowmetrics.reaper import (
    BOOT_TAG,
    HOST_TAG,
    PID_START_TAG,
    PID_TAG,
    STARTED_AT_TAG,
    boot_id,
    process_start,
    reap_dead_runs,
    run_tags,
)
from pipelines.instance import INSTANCE_YAML
from pipelines.jobs import NIGHTLY_JOB

linux = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
NOW = datetime.now(UTC)


@pytest.fixture
def instance(tmp_path: Path):
    (tmp_path / "dagster.yaml").write_text(INSTANCE_YAML)
    with dg.DagsterInstance.from_config(str(tmp_path)) as inst:
        yield inst


def _plant(instance: dg.DagsterInstance, tags: dict[str, str]) -> str:
    run_id = str(uuid.uuid4())
    instance.add_run(
        dg.DagsterRun(
            job_name=NIGHTLY_JOB, run_id=run_id, status=dg.DagsterRunStatus.STARTED, tags=tags
        )
    )
    return run_id


def _status(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRunStatus:
    return instance.get_run_by_id(run_id).status


def _me(**changes: str) -> dict[str, str]:
    """This very process's tags (it is alive), with some changed."""
    return {**run_tags(NOW - timedelta(hours=1)), **changes}


@linux
def test_a_stale_run_with_a_reused_pid_and_another_boot_id_is_reaped(instance):
    # The pid is alive (it is ours: a container's PID 1 again), the host name is the same, but
    # the kernel booted since the run started.
    tags = _me(**{BOOT_TAG: "0b5e55ed-0000-4000-8000-000000000000", PID_START_TAG: "12345"})
    assert tags[PID_TAG] == str(os.getpid()) and tags[HOST_TAG] == socket.gethostname()
    run_id = _plant(instance, tags)
    assert reap_dead_runs(instance) == [run_id]
    assert _status(instance, run_id) == dg.DagsterRunStatus.FAILURE
    failure = [
        e
        for e in instance.all_logs(run_id)
        if e.dagster_event and e.dagster_event.event_type_value == "PIPELINE_FAILURE"
    ]
    assert "reaped: the machine restarted since (boot id 0b5e55ed…" in failure[0].message


@linux
def test_a_reused_pid_on_the_same_boot_is_reaped_by_its_start_time(instance):
    # Same boot, same host name, pid alive: but the process with that pid started at another
    # time than the run's, so the run's process is gone (a fresh container's PID 1).
    recorded = str(int(process_start(os.getpid())) - 1)
    run_id = _plant(instance, _me(**{PID_START_TAG: recorded}))
    assert reap_dead_runs(instance) == [run_id]
    assert _status(instance, run_id) == dg.DagsterRunStatus.FAILURE


@linux
def test_the_live_process_of_a_run_is_never_reaped_however_old(instance, monkeypatch):
    monkeypatch.setenv("FLOW_RUN_MAX_AGE_HOURS", "1")
    run_id = _plant(instance, _me(**{STARTED_AT_TAG: (NOW - timedelta(days=3)).isoformat()}))
    assert boot_id() and process_start(os.getpid())
    assert reap_dead_runs(instance) == []
    assert _status(instance, run_id) == dg.DagsterRunStatus.STARTED


def test_a_run_from_another_container_is_reaped_only_after_the_age_limit(instance, monkeypatch):
    # Docker's random host names: the run's host is not ours and its pid is not ours to see.
    monkeypatch.setenv("FLOW_RUN_MAX_AGE_HOURS", "6")
    young = _plant(
        instance,
        _me(
            **{
                HOST_TAG: "3f9c2a1b7d4e",
                PID_TAG: "1",
                PID_START_TAG: "77",
                STARTED_AT_TAG: (NOW - timedelta(hours=5)).isoformat(),
            }
        ),
    )
    old = _plant(
        instance,
        _me(
            **{
                HOST_TAG: "a8d2e6f0c1b3",
                PID_TAG: "1",
                PID_START_TAG: "77",
                STARTED_AT_TAG: (NOW - timedelta(hours=7)).isoformat(),
            }
        ),
    )
    assert reap_dead_runs(instance) == [old]
    assert _status(instance, young) == dg.DagsterRunStatus.STARTED
    assert _status(instance, old) == dg.DagsterRunStatus.FAILURE


def test_a_run_of_this_host_whose_pid_is_gone_is_reaped_and_ui_runs_are_left(instance):
    gone = 2**22 + 17  # above pid_max: no process has it
    dead = _plant(instance, {PID_TAG: str(gone), HOST_TAG: socket.gethostname()})
    ui = _plant(instance, {"dagster/from_ui": "true"})
    assert reap_dead_runs(instance) == [dead]
    assert _status(instance, ui) == dg.DagsterRunStatus.STARTED


def test_the_instance_settings_enable_run_monitoring_for_ui_runs(instance):
    assert instance.run_monitoring_enabled
    assert instance.run_monitoring_max_runtime_seconds == 24 * 3600
    assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] == 60


@linux
def test_a_killed_process_not_yet_waited_for_is_dead(instance):
    # SIGKILLed, but its parent has not collected it: the pid is a zombie, which still answers
    # `kill(pid, 0)`. Its start time is recorded, so the run is judged by /proc, not by kill.
    import signal
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        recorded = process_start(child.pid)
        assert recorded is not None
        run_id = _plant(instance, _me(**{PID_TAG: str(child.pid), PID_START_TAG: recorded}))
        os.kill(child.pid, signal.SIGKILL)
        for _ in range(100):
            if process_start(child.pid) is None:
                break
            time.sleep(0.02)
        assert Path(f"/proc/{child.pid}/stat").exists()  # still a zombie
        assert reap_dead_runs(instance) == [run_id]
    finally:
        child.kill()
        child.wait()
