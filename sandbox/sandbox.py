"""The public facade: generate an organisation, serve JIRA + ServiceNow, travel in time."""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sandbox import jira_api, servicenow_api
from sandbox.clock import default_now, from_ms, jira_ts, to_ms
from sandbox.faults import FaultConfig, FaultPlan, Faults
from sandbox.jira_api import JiraApi
from sandbox.jira_gen import JiraGenerator
from sandbox.links import advance_links, link_organisation
from sandbox.server import Server, parse_json_body
from sandbox.servicenow_api import ServiceNowApi
from sandbox.snow_gen import SnowGenerator
from sandbox.snow_tables import Table, build_tables
from sandbox.store import JiraStore, SnowStore
from sandbox.timetravel import advance_jira, advance_snow
from sandbox.truth import Truth
from sandbox.wire import Request, Response, json_response

MODES = ("cloud", "datacenter")
SOURCES = ("jira", "servicenow")


class Sandbox:
    """A seeded local JIRA (Cloud or Data Center) plus ServiceNow, on two loopback ports.

    Args:
        seed: makes the organisation (and every later ``advance``) reproducible.
        size: number of JIRA issues, and roughly the number of ServiceNow records.
        mode: ``"cloud"`` or ``"datacenter"`` JIRA flavour.
        now: the simulated clock (aware); default is the current UTC second.
        faults: optional dict of :meth:`set_faults` arguments applied from the start.
        jira_port / servicenow_port: 0 picks free ports (tests); ``serve`` fixes them.
        sources: the organisations to generate (both by default); one alone serves an empty
            other tool and cannot time travel (benchmark tiers, docs/sandbox.md "Scale knobs").
        jira_rework: mean extra review round trips per JIRA issue (two status histories each).
        long_issues / long_issue_histories: that many JIRA issues get at least that many
            histories (status round trips through the whole changelog paging).
    """

    def __init__(
        self,
        seed: int = 7,
        size: int = 300,
        mode: str = "cloud",
        now: datetime | None = None,
        faults: dict[str, Any] | None = None,
        jira_port: int = 0,
        servicenow_port: int = 0,
        sources: tuple[str, ...] = SOURCES,
        jira_rework: float = 0.0,
        long_issues: int = 0,
        long_issue_histories: int = 10_000,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if not sources or not set(sources) <= set(SOURCES):
            raise ValueError(f"sources must be a non-empty subset of {SOURCES}, not {sources!r}")
        if jira_rework < 0 or long_issues < 0 or long_issue_histories < 2:
            raise ValueError(
                "jira_rework and long_issues must be >= 0 and long_issue_histories >= 2"
            )
        self.seed, self.size, self.mode = seed, size, mode
        self.sources = tuple(s for s in SOURCES if s in sources)
        self.now_ms = to_ms(now or default_now())
        self.lock = threading.RLock()
        self.jira = JiraStore()
        self.snow = SnowStore()
        self.tables: dict[str, Table] = {}
        self.forbidden_tables: set[str] = set()
        self.bulkfetch_disabled = False
        self.bulkfetch_epoch_created = False
        self.audit_inserts = False
        self.malformed: dict[str, dict[str, Any]] = {}
        self.search_fault: str | None = None
        self.search_fault_page = 0
        self.search_fault_match = ""
        self.search_pages = 0
        self.faults = Faults()
        self._counters: Counter[str] = Counter()
        self._counter_lock = threading.Lock()
        self._ports = (jira_port, servicenow_port)
        self._servers: list[Server] = []
        self._jira_gen = JiraGenerator(
            self.jira,
            random.Random(f"jira:{seed}"),
            self.now_ms,
            rework=jira_rework,
            long_issues=long_issues,
            long_histories=long_issue_histories,
        )
        self._snow_gen = SnowGenerator(
            self.snow, random.Random(f"snow:{seed}"), self.now_ms // 1000
        )
        if "jira" in self.sources:
            self._jira_gen.generate(size)
        if "servicenow" in self.sources:
            self._snow_gen.generate(size)
        else:
            self._snow_gen.reference_data()  # groups, users: the empty instance's own tables
        self._links_rng = random.Random(f"links:{seed}")
        link_organisation(self._links_rng, self.jira, self._snow_gen)
        self.tables = build_tables(self.snow, self.now_ms // 1000)
        self.truth = Truth(self.jira, self.snow, lambda: self.tables)
        self.jira_api = JiraApi(self)
        self.snow_api = ServiceNowApi(self)
        if faults:
            self.set_faults(**faults)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Sandbox:
        if self._servers:
            return self
        jira = Server(
            self._ports[0], self._jira_app, lambda r: self.jira_api.endpoint(r.method, r.path), self
        )
        snow = Server(
            self._ports[1], self._snow_app, lambda r: self.snow_api.endpoint(r.path), self
        )
        self._servers = [jira, snow]
        for server in self._servers:
            server.start()
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers = []

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- public properties -------------------------------------------------------------------
    @property
    def jira_url(self) -> str:
        return f"http://127.0.0.1:{self._require()[0].port}"

    @property
    def servicenow_url(self) -> str:
        return f"http://127.0.0.1:{self._require()[1].port}"

    @property
    def now(self) -> datetime:
        return from_ms(self.now_ms)

    @property
    def env(self) -> dict[str, str]:
        env = {
            "JIRA_URL": self.jira_url,
            "SERVICENOW_URL": self.servicenow_url,
            "SERVICENOW_USER": servicenow_api.USER,
            "SERVICENOW_PASSWORD": servicenow_api.PASSWORD,
        }
        if self.mode == "cloud":
            env |= {"JIRA_EMAIL": jira_api.EMAIL, "JIRA_API_TOKEN": jira_api.API_TOKEN}
        else:
            env["JIRA_PAT"] = jira_api.PAT
        return env

    @property
    def counters(self) -> dict[str, int]:
        with self._counter_lock:
            return dict(self._counters)

    def reset_counters(self) -> None:
        with self._counter_lock:
            self._counters.clear()

    def count(self, endpoint: str) -> None:
        with self._counter_lock:
            self._counters[endpoint] += 1
            self._counters["total"] += 1

    def jira_now_str(self) -> str:
        return jira_ts(self.now_ms)

    # -- knobs -------------------------------------------------------------------------------
    def set_faults(self, **kwargs: Any) -> FaultConfig:
        """Replace the fault config (no arguments clears every fault)."""
        if kwargs.get("endpoints") is not None:
            eps = kwargs["endpoints"]
            kwargs["endpoints"] = (eps,) if isinstance(eps, str) else tuple(eps)
        config = FaultConfig(**kwargs)
        self.faults.set(config)
        return config

    def set_knobs(
        self,
        *,
        bulkfetch_disabled: bool | None = None,
        bulkfetch_epoch_created: bool | None = None,
        forbidden_tables: set[str] | None = None,
        audit_inserts: bool | None = None,
        malformed: dict[str, dict[str, Any]] | None = None,
        search_fault: tuple[str, int] | tuple[str, int, str] | None = None,
    ) -> None:
        """Behaviour switches that are not random faults (see docs/sandbox.md)."""
        if bulkfetch_disabled is not None:
            self.bulkfetch_disabled = bulkfetch_disabled
        if bulkfetch_epoch_created is not None:
            self.bulkfetch_epoch_created = bulkfetch_epoch_created
        if forbidden_tables is not None:
            self.forbidden_tables = set(forbidden_tables)
        if malformed is not None:
            self.malformed = dict(malformed)
        if search_fault is not None:
            kind, page, *match = search_fault
            if kind not in ("edit", "repeat", "empty"):
                raise ValueError("search_fault kind must be edit, repeat or empty")
            # page n counted from now, over the JIRA searches whose JQL contains `match`
            # (e.g. "ORDER BY id" for the census; every search by default)
            with self.lock:
                self.search_fault, self.search_fault_page = kind, int(page)
                self.search_fault_match = match[0] if match else ""
                self.search_pages = 0
        if audit_inserts is not None and audit_inserts != self.audit_inserts:
            with self.lock:
                self.audit_inserts = audit_inserts
                self.tables = build_tables(self.snow, self.now_ms // 1000, audit_inserts)

    # -- time travel -------------------------------------------------------------------------
    def advance(self, days: float = 1.0, change_fraction: float = 0.01) -> dict[str, Any]:
        """Move the clock ``days`` forward and change ~``change_fraction`` of the items."""
        if days <= 0:
            raise ValueError("days must be positive")
        if self.sources != SOURCES:
            raise ValueError(f"time travel needs both sources; this sandbox has {self.sources}")
        with self.lock:
            t0 = self.now_ms
            t1 = t0 + int(timedelta(days=days).total_seconds() * 1000)
            jira = advance_jira(self._jira_gen, t0, t1, change_fraction)
            snow = advance_snow(self._snow_gen, t0 // 1000, t1 // 1000, change_fraction)
            snow["links"] = advance_links(
                self._links_rng, self.jira, self._snow_gen, t0 // 1000, t1 // 1000, snow["created"]
            )
            self.now_ms = t1
            self.tables = build_tables(self.snow, t1 // 1000, self.audit_inserts)
        return {
            "from": from_ms(t0).isoformat(),
            "to": from_ms(t1).isoformat(),
            "jira": jira,
            "servicenow": snow,
            "counts": {
                "jira_changed": len(jira["moved"]) + len(jira["reopened"]),
                "jira_created": len(jira["created"]),
                "jira_deleted": 1,
                "snow_changed": len(snow["changed"]) + len(snow["reopened"]),
                "snow_created": len(snow["created"]),
                "snow_deleted": 1,
            },
        }

    # -- HTTP apps ---------------------------------------------------------------------------
    def _jira_app(self, req: Request, plan: FaultPlan) -> Response:
        return self.jira_api.handle(req)

    def _snow_app(self, req: Request, plan: FaultPlan) -> Response:
        with self.lock:
            return self.snow_api.handle(req, plan.acl_short, plan.empty_rows, plan.rng)

    def admin(self, req: Request) -> Response:
        """``/__admin/{advance,counters,faults,reset_counters}`` on either port."""
        try:
            body = parse_json_body(req)
            action = req.path.removeprefix("/__admin/").strip("/")
            if action == "advance" and req.method == "POST":
                return json_response(
                    200,
                    self.advance(
                        float(body.get("days", 1.0)), float(body.get("change_fraction", 0.01))
                    ),
                )
            if action == "counters" and req.method == "GET":
                return json_response(200, self.counters)
            if action == "reset_counters" and req.method == "POST":
                self.reset_counters()
                return json_response(200, {})
            if action == "faults" and req.method == "POST":
                config = asdict(self.set_faults(**body))
                return json_response(200, config)
        except (TypeError, ValueError) as exc:
            return json_response(400, {"error": str(exc)})
        return json_response(404, {"error": "unknown admin action"})

    def _require(self) -> list[Server]:
        if not self._servers:
            raise RuntimeError("sandbox not started: use `with Sandbox(...)` or .start()")
        return self._servers
