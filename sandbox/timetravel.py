"""Time travel: move the simulated clock and let a slice of the organisation change.

Every change is stamped inside the advanced period and bumps ``updated``/``sys_updated_on``,
so an incremental sync from the previous high-water mark must see all of it; one JIRA issue
and one incident are deleted, which only a census (or ``sys_audit_delete``) reveals.
"""

from __future__ import annotations

from typing import Any

from sandbox import catalogue as cat
from sandbox import workflow as wf
from sandbox.jira_gen import TYPE_WEIGHTS, JiraGenerator, noise_item
from sandbox.snow_gen import SnowGenerator
from sandbox.store import Issue, Record


def advance_jira(gen: JiraGenerator, t0: int, t1: int, change_fraction: float) -> dict[str, Any]:
    """Change ~change_fraction of the issues within ``(t0, t1]`` (epoch ms)."""
    rng, store = gen.rng, gen.store
    gen.now_ms = t1
    live = [i for i in store.issues.values() if not i.deleted]
    n = max(1, round(change_fraction * len(live)))
    open_ = [i for i in live if i.status not in ("Done", *wf.JIRA_TERMINAL)]
    done = [i for i in live if i.status == "Done"]
    changed: list[str] = []

    def when(issue: Issue) -> int:
        lo = max(t0, issue.updated) + 1
        return rng.randint(lo, t1) if lo < t1 else t1

    for issue in rng.sample(open_, min(n, len(open_))):
        nxt = wf.jira_next(rng, issue.status)
        if nxt is None:
            continue
        gen.transition(issue, nxt, when(issue))
        if rng.random() < 0.2:
            gen.append(issue, when(issue), (noise_item(rng, issue),))
        changed.append(issue.key)
    reopened = rng.sample(done, min(len(done), max(1, n // 20)))
    for issue in reopened:
        gen.transition(issue, "Reopened", when(issue))
    created = []
    for _ in range(max(1, n // 3)):
        at = rng.randint(t0 + 1, t1)
        project = rng.randrange(len(cat.PROJECTS))
        itype = rng.choices([t for t, _ in TYPE_WEIGHTS], [w for _, w in TYPE_WEIGHTS])[0]
        issue = gen.new_issue(project, itype, at, None)
        gen.live(issue, t1)
        created.append(issue.key)
    parents = {i.parent for i in live if i.parent}
    candidates = [
        i for i in live if i.id not in parents and not i.old_keys and i.key not in reopened
    ]
    victim = rng.choice(candidates)
    victim.deleted = True
    store.reindex()
    return {
        "moved": changed,
        "reopened": [i.key for i in reopened],
        "created": created,
        "deleted": victim.key,
        "deleted_id": str(victim.id),
    }


def advance_snow(gen: SnowGenerator, t0: int, t1: int, change_fraction: float) -> dict[str, Any]:
    """Same for ServiceNow, in epoch seconds."""
    rng, store = gen.rng, gen.store
    gen.now = t1
    live = [r for r in store.records.values() if not r.deleted]
    n = max(1, round(change_fraction * len(live)))

    def when(rec: Record) -> int:
        lo = max(t0, rec.updated) + 1
        return rng.randint(lo, t1) if lo < t1 else t1

    incidents = [r for r in live if r.table == "incident"]
    moving = [r for r in incidents if r.state in ("1", "2", "3", "4", "6")]
    changed = []
    for rec in rng.sample(moving, min(n, len(moving))):
        at = when(rec)
        if rec.state == "1":
            gen.set_state(rec, "2", at)
        elif rec.state == "2":
            if rng.random() < 0.25:
                gen.hold(rec, at)
            elif rng.random() < 0.15:
                gen.reassign(rec, at)
            else:
                gen.resolve(rec, at)
        elif rec.state in ("3", "4"):
            gen.set_state(rec, "2", at)  # clears (and audits) the hold reason
        else:
            gen.close(rec, at)
        changed.append(rec.number)
    resolved = [r for r in incidents if r.state == "6" and r.number not in changed]
    reopened = rng.sample(resolved, min(1, len(resolved)))
    for rec in reopened:
        gen.reopen(rec, when(rec))
    for rec in [r for r in live if r.table != "incident"][: max(1, n // 10)]:
        path = CHG_PATH if rec.table == "change_request" else PRB_PATH
        if rec.state in path[:-1]:
            gen.set_state(rec, path[path.index(rec.state) + 1], when(rec))
            changed.append(rec.number)
    created = [gen.incident(rng.randint(t0 + 1, t1), t1).number for _ in range(max(1, n // 3))]
    victim = rng.choice([r for r in incidents if r not in reopened and r.number not in changed])
    victim.deleted = True
    at = when(victim)
    store.audit_delete.append((gen.sys_id(), at, victim.table, victim.sys_id, victim.number))
    return {
        "changed": changed,
        "reopened": [r.number for r in reopened],
        "created": created,
        "deleted": victim.number,
        "deleted_sys_id": victim.sys_id,
    }


CHG_PATH = ("-5", "-4", "-3", "-2", "-1", "0", "3")
PRB_PATH = ("101", "102", "103", "104", "106", "107")
