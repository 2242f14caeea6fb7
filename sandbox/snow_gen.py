"""Generate ServiceNow incidents, change requests and problems with their audit trail.

Each state change writes ``sys_audit`` rows the way real instances do: incidents get two
rows per change (``state`` and the legacy mirror ``incident_state``), group reassignments
get ``assignment_group`` rows, and putting an incident on hold, changing the reason and leaving
hold get ``hold_reason`` rows (in the same update as the state change). Durations follow the UCI incident log (docs/sandbox.md).
"""

from __future__ import annotations

import math
import random

from sandbox import catalogue as cat
from sandbox import workflow as wf
from sandbox.store import Audit, Record, SnowStore

DAY = 86_400
TABLE_PREFIX = {"incident": "INC", "change_request": "CHG", "problem": "PRB"}


def days(rng: random.Random, median: float, sigma: float) -> int:
    """Log-normal duration in whole seconds (ServiceNow stores seconds)."""
    return max(60, int(rng.lognormvariate(math.log(median), sigma) * DAY))


class SnowGenerator:
    """Fills a :class:`SnowStore`; time travel reuses :meth:`set_state` and friends."""

    def __init__(self, store: SnowStore, rng: random.Random, now: int) -> None:
        self.store = store
        self.rng = rng
        self.now = now
        self.group_ids: list[str] = []
        self.user_ids: list[str] = []
        self.old_incidents = 0

    def sys_id(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    # -- reference data ----------------------------------------------------------------------
    def reference_data(self) -> None:
        for name, _stream in cat.SNOW_GROUPS:
            sid = self.sys_id()
            self.store.groups[sid] = name
            self.group_ids.append(sid)
        for name in cat.SNOW_USERS:
            sid = self.sys_id()
            self.store.users[sid] = name
            self.user_ids.append(sid)
        self.store.metric_definition_id = self.sys_id()

    # -- primitives --------------------------------------------------------------------------
    def new_record(self, table: str, opened: int) -> Record:
        prefix = TABLE_PREFIX[table]
        n = self.store.counters.get(prefix, 10000) + 1
        self.store.counters[prefix] = n
        rec = Record(table, self.sys_id(), f"{prefix}{n:07d}", opened)
        rec.opened_by = self.rng.choice(self.user_ids)
        self.store.records[rec.sys_id] = rec
        return rec

    def audit(self, rec: Record, at: int, fieldname: str, old: str, new: str) -> None:
        self.store.audit.append(
            Audit(
                self.sys_id(),
                at,
                rec.table,
                rec.sys_id,
                fieldname,
                old,
                new,
                rec.mod_count,
                self.store.users[rec.assigned_to] if rec.assigned_to else "system",
            )
        )

    def set_state(self, rec: Record, new: str, at: int) -> None:
        """Change state: bump counters and write the audit rows real instances write."""
        old = rec.state
        rec.mod_count += 1
        rec.updated = max(rec.updated, at)
        self.audit(rec, at, "state", old, new)
        if rec.table == "incident":
            self.audit(rec, at, "incident_state", old, new)
            if old == "3" and new != "3" and rec.hold_reason:
                # leaving On Hold clears the reason in the same update (audited like state)
                self.audit(rec, at, "hold_reason", rec.hold_reason, "")
                rec.hold_reason = ""
        rec.state = new

    def change_hold_reason(self, rec: Record, at: int) -> None:
        """A second reason while still on hold (e.g. the caller answered, now the vendor)."""
        old = rec.hold_reason
        rng = random.Random(f"hold-reason-{rec.sys_id}-{at}")
        rec.hold_reason = wf.pick(rng, tuple(o for o in wf.HOLD_REASON_WEIGHTS if o[0] != old))
        rec.mod_count += 1
        rec.updated = max(rec.updated, at)
        self.audit(rec, at, "hold_reason", old, rec.hold_reason)

    def reassign(self, rec: Record, at: int) -> None:
        old = rec.group
        choices = [g for g in self.group_ids if g != old]
        rec.group = self.rng.choice(choices)
        rec.reassignment_count += 1
        rec.mod_count += 1
        rec.updated = max(rec.updated, at)
        self.audit(rec, at, "assignment_group", old, rec.group)

    # -- incidents ---------------------------------------------------------------------------
    def incident(self, opened: int, until: int) -> Record:
        rng = self.rng
        rec = self.new_record("incident", opened)
        rec.state = "1"
        rec.priority = wf.pick(rng, wf.INCIDENT_PRIORITY_WEIGHTS)
        rec.impact = rec.urgency = {"1": "1", "2": "1", "3": "2", "4": "3"}[rec.priority]
        rec.category = rng.choice(cat.CATEGORIES)
        desk = self.group_ids[0]
        rec.group = desk if rng.random() < 0.6 else rng.choice(self.group_ids[1:])
        rec.assigned_to = rng.choice(self.user_ids[:-1]) if rng.random() < 0.85 else ""
        rec.short_description = f"{rng.choice(INC_SUBJECTS)} ({rng.choice(INC_WHERE)})"
        legacy = False
        if opened < self.now - 150 * DAY:  # every 8th old incident predates Helsinki
            self.old_incidents += 1
            legacy = self.old_incidents % 8 == 1
        t = opened + days(rng, 0.05, 1.0)
        if t > until:
            return rec
        if rng.random() < wf.INCIDENT_CANCEL_P:
            self.set_state(rec, "8", t)
            return rec
        self.set_state(rec, "2", t)
        work = days(rng, *wf.WORK_DAYS)
        holds = 0
        if rng.random() < wf.INCIDENT_HOLD_P:
            holds = wf.weighted_int(rng, wf.HOLD_COUNT_WEIGHTS)
        if legacy:
            holds = max(holds, 1)
        reassigns = wf.weighted_int(rng, wf.REASSIGNMENT_WEIGHTS)
        segments = holds + 1
        for i in range(segments):
            chunk = work // segments
            for _ in range(reassigns // segments + (1 if i < reassigns % segments else 0)):
                t += max(60, chunk // (reassigns + 1))
                if t > until:
                    return rec
                self.reassign(rec, t)
            t += chunk
            if t > until:
                return rec
            if i < holds:
                self.hold(rec, t, legacy)
                held = min(days(rng, *wf.HOLD_DAYS), 60 * DAY)
                # its own stream, so the main one (and every calibrated draw after) is unchanged
                second = random.Random(f"hold-{rec.sys_id}-{t}").random()
                if not legacy and second < wf.HOLD_REASON_CHANGE_P and t + held // 2 <= until:
                    self.change_hold_reason(rec, t + max(1, held // 2))
                t += held
                if t > until:
                    return rec
                self.set_state(rec, "2", t)
        self.resolve(rec, t)
        if rng.random() < wf.INCIDENT_REOPEN_P:
            t += days(rng, 1.0, 0.8)
            if t > until:
                return rec
            self.reopen(rec, t)
            t += days(rng, 0.5, 1.0)
            if t > until:
                return rec
            self.resolve(rec, t)
        t += int((wf.RESOLVED_TO_CLOSED_DAYS + rng.expovariate(1.0)) * DAY)
        if t <= until:
            self.close(rec, t)
        return rec

    def hold(self, rec: Record, at: int, legacy: bool = False) -> None:
        if legacy:  # pre-Helsinki model: "Awaiting User Info" was its own state
            self.set_state(rec, "4", at)
        else:
            rec.hold_reason = wf.pick(self.rng, wf.HOLD_REASON_WEIGHTS)
            self.set_state(rec, "3", at)
            self.audit(rec, at, "hold_reason", "", rec.hold_reason)

    def resolve(self, rec: Record, at: int) -> None:
        rec.close_code = self.rng.choice(cat.INCIDENT_CLOSE_CODES)
        rec.resolved_at = at
        self.set_state(rec, "6", at)

    def reopen(self, rec: Record, at: int) -> None:
        rec.reopen_count += 1
        rec.resolved_at = 0
        rec.close_code = ""
        self.set_state(rec, "2", at)

    def close(self, rec: Record, at: int) -> None:
        rec.closed_at = at
        self.set_state(rec, "7", at)

    # -- changes and problems ----------------------------------------------------------------
    def linear(
        self,
        table: str,
        opened: int,
        until: int,
        path: tuple[str, ...],
        cancel: str | None,
        median_days: float,
    ) -> Record:
        """Walk a straight state model, optionally cancelling before implementation."""
        rng = self.rng
        rec = self.new_record(table, opened)
        rec.state = path[0]
        rec.priority = rng.choice("1234")
        rec.group = rng.choice(self.group_ids[1:])
        rec.assigned_to = rng.choice(self.user_ids[:-1])
        rec.category = rng.choice(cat.CATEGORIES)
        rec.kind = rng.choice(("normal", "standard", "emergency"))
        rec.short_description = f"{rng.choice(CHG_SUBJECTS)} ({rng.choice(INC_WHERE)})"
        t = opened
        for i, state in enumerate(path[1:], start=1):
            t += days(rng, median_days, 0.9)
            if t > until:
                return rec
            if cancel and i <= 3 and rng.random() < 0.03:
                self.set_state(rec, cancel, t)
                return rec
            if table == "change_request" and state == "3":
                rec.close_code = rng.choices(
                    ("successful", "successful_issues", "unsuccessful"), (85, 10, 5)
                )[0]
            if table == "problem" and state == "106":
                rec.resolved_at = t
            if state in ("3", "107"):
                rec.closed_at = t
            self.set_state(rec, state, t)
        return rec

    def generate(self, size: int) -> None:
        rng, now = self.rng, self.now
        self.reference_data()
        start = now - 180 * DAY
        n_chg = max(1, size * 12 // 100)
        n_prb = max(1, size * 8 // 100)
        n_inc = max(1, size - n_chg - n_prb)
        changes = [
            self.linear(
                "change_request",
                start + rng.randrange(180 * DAY - 3600),
                now,
                ("-5", "-4", "-3", "-2", "-1", "0", "3"),
                "4",
                1.2,
            )
            for _ in range(n_chg)
        ]
        problems = [
            self.linear(
                "problem",
                start + rng.randrange(180 * DAY - 3600),
                now,
                ("101", "102", "103", "104", "106", "107"),
                None,
                3.0,
            )
            for _ in range(n_prb)
        ]
        for opened in sorted(start + rng.randrange(180 * DAY - 600) for _ in range(n_inc)):
            rec = self.incident(opened, now)
            if rng.random() < 0.05:
                rec.caused_by = rng.choice(changes).sys_id
            if rng.random() < 0.03:
                rec.problem_id = rng.choice(problems).sys_id


INC_SUBJECTS = (
    "Cannot log in",
    "Payment declined",
    "Checkout page 500",
    "VPN drops",
    "Slow dashboard",
    "Email not delivered",
    "Überweisung hängt",
    "支付失败",
    "Printer offline",
    "=HYPERLINK alert",
    "Disk full",
    "Certificate expired",
)
INC_WHERE = ("EU", "US", "APAC", "mobile", "web", "batch")
CHG_SUBJECTS = (
    "Upgrade database",
    "Rotate certificates",
    "Deploy release",
    "Patch OS",
    "Scale cluster",
    "Change firewall rule",
)
