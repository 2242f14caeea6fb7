"""Shared helpers for the benchmark scripts: statistics, tables, peak RSS, the machine, and a
sandbox served from a child process.

Only the project's own dependencies are used (no psutil): peak RSS comes from
`/proc/self/status` (VmHWM) or `resource.getrusage`.

Why the sandbox runs in a child process: the simulator keeps the whole organisation in memory
and renders JSON on its own threads. In-process it would inflate the client's peak RSS and
compete with the client for the GIL; in a child it behaves like a (very fast, local) server.
"""

from __future__ import annotations

import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: A fixed simulated clock, so every run of a benchmark sees the same organisation.
SANDBOX_NOW = datetime(2025, 6, 2, 6, 0, tzinfo=UTC)


# -- statistics and tables -------------------------------------------------------------------
@dataclass
class Figure:
    """One line of a benchmark's table."""

    name: str
    values: list[float] = field(default_factory=list)
    unit: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    def row(self) -> list[str]:
        def fmt(v: float | None) -> str:
            if v is None:
                return "-"
            if abs(v) >= 1000:
                return f"{v:,.0f}"
            if abs(v) >= 100:
                return f"{v:.1f}"
            return f"{v:.3g}" if abs(v) < 10 else f"{v:.2f}"

        vals = self.values
        return [
            self.name,
            f"{fmt(self.median)} {self.unit}".strip(),
            fmt(min(vals)) if vals else "-",
            fmt(max(vals)) if vals else "-",
            str(len(vals)),
            "-" if self.ratio is None else f"{self.ratio:.3g}",
            self.target or "-",
            {None: "-", True: "yes", False: "NO"}[self.met],
        ]


HEADER = ["figure", "median", "min", "max", "n", "ratio", "target", "met?"]


def render_table(rows: Sequence[Sequence[str]], header: Sequence[str] = HEADER) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)), line]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def print_figures(title: str, figures: Sequence[Figure], notes: Sequence[str] = ()) -> None:
    print()
    print(f"== {title}")
    print(render_table([f.row() for f in figures]))
    for f in figures:
        if f.note:
            print(f"  {f.name}: {f.note}")
    for n in notes:
        print(f"  note: {n}")
    sys.stdout.flush()


def write_json(path: str | None, payload: dict[str, Any]) -> None:
    """`--json PATH`: the figures for run_all.py (and anyone else) to read."""
    if path:
        Path(path).write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")


def figures_json(figures: Sequence[Figure]) -> list[dict[str, Any]]:
    return [
        {
            "name": f.name,
            "median": f.median,
            "min": min(f.values) if f.values else None,
            "max": max(f.values) if f.values else None,
            "n": len(f.values),
            "unit": f.unit,
            "ratio": f.ratio,
            "target": f.target,
            "met": f.met,
            "note": f.note,
        }
        for f in figures
    ]


# -- memory ----------------------------------------------------------------------------------
def vm_hwm_mb() -> float:
    """Peak resident set size of this process so far, in MiB (VmHWM; ru_maxrss fallback)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def vm_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs). True if it worked."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def run_child_json(argv: Sequence[str], timeout: float = 1800) -> dict[str, Any]:
    """Run a Python child, return the JSON of its last stdout line plus its ru_maxrss (MiB)."""
    proc = subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {argv} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    last = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1]
    return json.loads(last)


# -- the machine -----------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--",
                "connectors",
                "warehouse",
                "sandbox",
                "models",
                "flowmetrics",
                "pipelines",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        commit, dirty = "unknown", ""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": model,
        "mem_gb": mem_gb,
        "python": platform.python_version(),
        "commit": commit + (" (+uncommitted product changes)" if dirty else ""),
    }


def print_machine() -> dict[str, Any]:
    m = machine()
    print(
        f"machine: {m['nproc']} x {m['cpu']}, {m['mem_gb']} GB, Python {m['python']}, "
        f"commit {m['commit']}, {m['date']}"
    )
    return m


# -- a sandbox in a child process ------------------------------------------------------------
class SandboxProcess:
    """`benchmarks/_sandbox_server.py` in a child; counters and time travel via /__admin/."""

    def __init__(
        self,
        size: int,
        seed: int = 7,
        mode: str = "cloud",
        now: datetime = SANDBOX_NOW,
        knobs: dict[str, Any] | None = None,
    ) -> None:
        """`knobs`: the sandbox's scale knobs (`sources`, `jira_rework`, `long_issues`,
        `long_issue_histories`; docs/sandbox.md "Scale knobs"), passed to its constructor."""
        self.size, self.seed, self.mode, self.start_now = size, seed, mode, now
        self.knobs = dict(knobs or {})
        self.proc: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}

    def __enter__(self) -> SandboxProcess:
        t = time.perf_counter()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "_sandbox_server.py"),
                "--size",
                str(self.size),
                "--seed",
                str(self.seed),
                "--mode",
                self.mode,
                "--now",
                self.start_now.isoformat(),
                "--knobs",
                json.dumps(self.knobs),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("sandbox child died before it started")
        self.info = json.loads(line)
        self.start_seconds = time.perf_counter() - t
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()  # the child exits when its stdin closes
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def env(self) -> dict[str, str]:
        return dict(self.info["env"])

    @property
    def counts(self) -> dict[str, Any]:
        """What the sandbox generated (issues, histories, records, sys_audit rows)."""
        return dict(self.info.get("counts", {}))

    def peak_mb(self) -> float | None:
        """The sandbox process's peak resident set (VmHWM) so far, in MiB."""
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()  # type: ignore[union-attr]
        except (OSError, AttributeError):
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return None

    @property
    def jira_url(self) -> str:
        return self.info["jira_url"]

    @property
    def now(self) -> datetime:
        """The simulated clock (moved by `advance`)."""
        return datetime.fromisoformat(self.info["now"])

    def _admin(self, action: str, body: dict[str, Any] | None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.jira_url}/__admin/{action}", data=data, method="GET" if body is None else "POST"
        )
        with urllib.request.urlopen(req, timeout=600) as resp:
            return json.loads(resp.read() or b"{}")

    def counters(self) -> dict[str, int]:
        return self._admin("counters", None)

    def reset_counters(self) -> None:
        self._admin("reset_counters", {})

    def advance(self, days: float, change_fraction: float) -> dict[str, Any]:
        out = self._admin("advance", {"days": days, "change_fraction": change_fraction})
        self.info["now"] = out["to"]
        return out


# -- recording what a client sends -------------------------------------------------------------
@dataclass
class Recorded:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    status: int
    response_bytes: int
    items: int | None = None  # issues / result rows in the response, when it has a list
    #: issues of a search page whose embedded changelog is cut (total > histories shown):
    #: each needs one more request for its full history (Data Center's minimum)
    cut_changelogs: int = 0


class _ReadAgain:
    """A response body already read, offered again through the `read(amt)` of `raw`."""

    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)

    def read(self, amt: int | None = None, *args: Any, **kwargs: Any) -> bytes:
        return self._buf.read(amt)


class RequestRecorder:
    """Records every request that reaches `requests.adapters.HTTPAdapter.send` (the wire).

    Only used in a separate recording pass: the timed runs are never patched.
    """

    def __init__(self) -> None:
        self.log: list[Recorded] = []
        self._orig: Callable[..., Any] | None = None

    def __enter__(self) -> RequestRecorder:
        from requests.adapters import HTTPAdapter

        orig = HTTPAdapter.send
        self._orig = orig
        log = self.log

        def send(adapter: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            resp = orig(adapter, request, *args, **kwargs)
            # reading `content` here drains the socket; the connectors' client reads the body
            # itself from `raw` (connectors/http.py: size cap, deadline), so hand it the bytes
            # again -- without this every recorded response reached the connector empty
            resp.raw = _ReadAgain(resp.content)
            body = request.body.encode() if isinstance(request.body, str) else request.body
            items = None
            cut = 0
            try:
                data = json.loads(resp.content) if resp.content else None
                if isinstance(data, dict):
                    for k in ("issues", "result", "issueChangeLogs"):
                        if isinstance(data.get(k), list):
                            items = len(data[k])
                    for issue in data.get("issues") or []:
                        log_ = issue.get("changelog") if isinstance(issue, dict) else None
                        if isinstance(log_, dict) and (log_.get("total") or 0) > len(
                            log_.get("histories") or []
                        ):
                            cut += 1
            except ValueError:
                pass
            log.append(
                Recorded(
                    request.method,
                    request.url,
                    dict(request.headers),
                    body,
                    resp.status_code,
                    len(resp.content),
                    items,
                    cut,
                )
            )
            return resp

        HTTPAdapter.send = send  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        from requests.adapters import HTTPAdapter

        HTTPAdapter.send = self._orig  # type: ignore[method-assign]


class ByteCounter:
    """Counts response bytes reaching `HTTPAdapter.send` (the body is read there anyway, so
    the timing cost is one `len`)."""

    def __init__(self) -> None:
        self.bytes = 0
        self.requests = 0
        self._orig: Callable[..., Any] | None = None

    def __enter__(self) -> ByteCounter:
        from requests.adapters import HTTPAdapter

        orig = self._orig = HTTPAdapter.send
        counter = self

        def send(adapter: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            resp = orig(adapter, request, *args, **kwargs)
            counter.bytes += len(resp.content)
            counter.requests += 1
            return resp

        HTTPAdapter.send = send  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        from requests.adapters import HTTPAdapter

        HTTPAdapter.send = self._orig  # type: ignore[method-assign]


def floor_replay(recorded: Sequence[Recorded]) -> tuple[int, int]:
    """The floor: a bare `requests.Session` + `json.loads` loop over the same requests.

    Returns (requests sent, response bytes). Responses are parsed and dropped.
    """
    import requests

    sent = nbytes = 0
    with requests.Session() as s:
        for r in recorded:
            resp = s.request(r.method, r.url, data=r.body, headers=r.headers, timeout=600)
            content = resp.content
            if content:
                json.loads(content)
            sent += 1
            nbytes += len(content)
    return sent, nbytes


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out
