"""`flowmetrics sandbox --port 0`: two free ports, both printed, both answering (issue #20)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).parents[2]


def test_port_zero_serves_both_apis_on_free_ports_and_prints_both() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowmetrics", "sandbox", "--port", "0", "--size", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Ctrl-C"):
                break
        text = "".join(lines)
        jira = re.search(r"^JIRA \(cloud\)\s+http://127\.0\.0\.1:(\d+)$", text, re.M)
        snow = re.search(r"^ServiceNow\s+http://127\.0\.0\.1:(\d+)$", text, re.M)
        assert jira and snow, text + proc.stderr.read() if proc.poll() is not None else text
        jira_port, snow_port = int(jira.group(1)), int(snow.group(1))
        assert jira_port > 1024 and snow_port > 1024 and jira_port != snow_port
        assert f"export SERVICENOW_URL=http://127.0.0.1:{snow_port}" in text
        email = re.search(r"export JIRA_EMAIL=(\S+)", text).group(1)
        token = re.search(r"export JIRA_API_TOKEN=(\S+)", text).group(1)
        info = requests.get(
            f"http://127.0.0.1:{jira_port}/rest/api/2/serverInfo", auth=(email, token), timeout=10
        )
        assert info.json()["deploymentType"] == "Cloud"
        user = re.search(r"export SERVICENOW_USER=(\S+)", text).group(1)
        password = re.search(r"export SERVICENOW_PASSWORD=(\S+)", text).group(1)
        rows = requests.get(
            f"http://127.0.0.1:{snow_port}/api/now/table/incident?sysparm_limit=1",
            auth=(user, password),
            timeout=10,
        )
        assert rows.status_code == 200 and "result" in rows.json()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
