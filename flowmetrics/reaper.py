"""The dead-run reaper: find nightly runs whose process died, mark them failed, free the slot.

A run killed with SIGKILL (out of memory, a power cut, a container stopped) never reports its
end: it stays STARTED and keeps the `duckdb_warehouse` pool's only slot, so every later run
waits for that slot forever. `run_nightly` tags each run with the identity of its process and
reaps before it starts.

Why more than a pid: in a container the next process has the same pid (PID 1 under a fixed
hostname), and under Docker's random hostnames a run is never on "this host" again. So a run
records its process's start time (`/proc/<pid>/stat`, clock ticks since boot) and the kernel's
boot id (`/proc/sys/kernel/random/boot_id`), and it is judged dead when
  - the boot id differs from ours: the machine restarted, every process of that boot is gone
    (one Dagster instance per machine is assumed: a DuckDB file has one writer anyway);
  - on this host (or visibly in our pid namespace on this boot), its pid is gone or a zombie,
    or the pid now belongs to a process that started at another time (the pid was reused);
  - neither can be told (another container on this kernel, a system without /proc) and the
    run is older than `FLOW_RUN_MAX_AGE_HOURS` (default 24: a nightly run still going when the
    next night starts is dead or hopeless).
A run whose pid is alive with the recorded start time is alive, whatever its age. Runs without
these tags (launched from the Dagster UI) are left to Dagster's run monitoring (dagster.yaml).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg

from pipelines.jobs import NIGHTLY_JOB

log = logging.getLogger(__name__)

PID_TAG = "flowmetrics/pid"
HOST_TAG = "flowmetrics/host"
BOOT_TAG = "flowmetrics/boot_id"
PID_START_TAG = "flowmetrics/pid_start"
STARTED_AT_TAG = "flowmetrics/started_at"

ENV_MAX_AGE = "FLOW_RUN_MAX_AGE_HOURS"
DEFAULT_MAX_AGE_HOURS = 24.0
BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"


@dataclass(frozen=True)
class Identity:
    """Who is asking: this host, this kernel boot (None where unknown)."""

    host: str
    boot_id: str | None


def boot_id() -> str | None:
    try:
        with open(BOOT_ID_FILE, encoding="ascii") as fh:
            return fh.read().strip() or None
    except OSError:
        return None


def process_start(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); None if no such
    process is visible, it is a zombie (killed, not yet waited for), or there is no /proc."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # the name in parentheses may hold spaces
    if len(fields) <= 19 or fields[0] in ("Z", "X"):  # a zombie has finished: it is gone
        return None
    return fields[19]


def run_tags(now: datetime | None = None) -> dict[str, str]:
    """The tags naming this process, for a run executed in it."""
    pid = os.getpid()
    tags = {
        PID_TAG: str(pid),
        HOST_TAG: socket.gethostname(),
        STARTED_AT_TAG: (now or datetime.now(UTC)).isoformat(),
    }
    start, boot = process_start(pid), boot_id()
    if start:
        tags[PID_START_TAG] = start
    if boot:
        tags[BOOT_TAG] = boot
    return tags


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def max_age() -> timedelta:
    raw = os.environ.get(ENV_MAX_AGE, "")
    try:
        hours = float(raw) if raw.strip() else DEFAULT_MAX_AGE_HOURS
    except ValueError:
        hours = DEFAULT_MAX_AGE_HOURS
    if not hours > 0:
        hours = DEFAULT_MAX_AGE_HOURS
    return timedelta(hours=hours)


def why_dead(
    tags: Mapping[str, str],
    started: datetime | None,
    me: Identity,
    now: datetime,
    limit: timedelta,
) -> str | None:
    """Why the run tagged so is dead, or None when it is (or may be) alive."""
    raw_pid = tags.get(PID_TAG, "")
    if not raw_pid.isdigit():
        return None  # not started by run_nightly: Dagster's run monitoring judges it
    pid = int(raw_pid)
    boot, recorded = tags.get(BOOT_TAG), tags.get(PID_START_TAG)
    if boot and me.boot_id and boot != me.boot_id:
        return f"the machine restarted since (boot id {boot[:8]}… is now {me.boot_id[:8]}…)"
    same_host = tags.get(HOST_TAG) == me.host
    if same_host or (boot is not None and boot == me.boot_id):
        current = process_start(pid)
        if current is not None and recorded is not None:
            if current == recorded:
                return None  # the very process that started the run
            if same_host:
                return f"pid {pid} now belongs to another process (the pid was reused)"
        elif same_host and current is None and (recorded is not None or not _alive(pid)):
            return f"the process running it (pid {pid}) died"
    at = _started_at(tags, started)
    if at is not None and now - at > limit:
        hours = limit.total_seconds() / 3600
        return (
            f"it started {at:%Y-%m-%d %H:%M} UTC, more than {hours:g} h ago, and its "
            f"process (pid {pid} on {tags.get(HOST_TAG, '?')}) cannot be seen from here"
        )
    return None


def _started_at(tags: Mapping[str, str], started: datetime | None) -> datetime | None:
    try:
        return datetime.fromisoformat(tags[STARTED_AT_TAG]).astimezone(UTC)
    except (KeyError, ValueError):
        return started


def reap_dead_runs(instance: dg.DagsterInstance, now: datetime | None = None) -> list[str]:
    """Mark failed the nightly runs judged dead by `why_dead`, and free their pool slots."""
    now = now or datetime.now(UTC)
    me = Identity(host=socket.gethostname(), boot_id=boot_id())
    limit = max_age()
    active = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING]
    reaped: list[str] = []
    records = instance.get_run_records(filters=dg.RunsFilter(job_name=NIGHTLY_JOB, statuses=active))
    for record in records:
        run = record.dagster_run
        started = (
            datetime.fromtimestamp(record.start_time, UTC)
            if record.start_time
            else record.create_timestamp.astimezone(UTC)
        )
        reason = why_dead(run.tags, started, me, now, limit)
        if reason is None:
            continue
        instance.report_run_failed(run, f"reaped: {reason}")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        log.warning("run %s is dead (%s): marked failed, pool slot freed", run.run_id, reason)
        reaped.append(run.run_id)
    return reaped
