"""Generate JIRA issues: projects, epics, typed work items and their changelogs.

An issue's life is simulated forward from ``created`` with :mod:`sandbox.workflow` until it
reaches a terminal status or the simulated clock; non-status edits (assignee, labels,
priority, Sprint) are interleaved so a connector has to filter changelog items by field.
"""

from __future__ import annotations

import bisect
import math
import random

from sandbox import catalogue as cat
from sandbox.store import History, Issue, Item, JiraStore
from sandbox.workflow import (
    BLOCKER_OUTSIDE_P,
    DAY_MS,
    FLAG_AGAIN_P,
    FLAG_DAYS,
    FLAG_P,
    LINK_DAYS,
    LINK_P,
    LINK_REMOVED_P,
    TEAM_BACK_P,
    TEAM_CHANGE_P,
    jira_dwell,
    jira_next,
    lognormal_ms,
)

ALT_TZS = ("Asia/Kolkata", "Europe/Berlin", "UTC")
TYPE_WEIGHTS = (
    ("Story", 44.0),
    ("Bug", 22.0),
    ("Task", 16.0),
    ("Tech Debt", 10.0),
    ("Vulnerability", 4.0),
)
SUBJECTS = (
    "checkout",
    "refund flow",
    "payment retries",
    "ledger export",
    "search page",
    "login",
    "CDN cache",
    "k8s upgrade",
    "alerting",
    "Grafana dashboards",
    "API gateway",
    "café menu",
    "Zahlungsübersicht",
    "支付回调",
    "मुद्रा परिवर्तन",
    "naïve timestamps",
    "emoji 🚀 rendering",
    "rate limiter",
    "feature flags",
    "CSV export",
)
VERBS = {
    "Story": ("Add", "Support", "Allow users to use", "Improve"),
    "Bug": ("Fix", "Crash in", "Wrong totals in", "Timeout on"),
    "Task": ("Update", "Document", "Configure", "Migrate"),
    "Tech Debt": ("Refactor", "Remove legacy", "Upgrade dependencies of", "Clean up"),
    "Vulnerability": ("CVE in", "Patch", "Harden", "XSS in"),
    "Epic": ("Q3 initiative:", "Programme:", "Rebuild", "Modernise"),
}
#: Titles that a spreadsheet would execute: exporters must neutralise them.
FORMULA_PREFIXES = ("=", "+", "-", "@")


def summary(rng: random.Random, itype: str) -> str:
    text = f"{rng.choice(VERBS[itype])} {rng.choice(SUBJECTS)}"
    if rng.random() < 0.03:
        text = rng.choice(FORMULA_PREFIXES) + text
    return text


def status_item(frm: str, to: str, at: int, rename_at: int) -> Item:
    """A status changelog item carrying the names *as they were* at ``at``."""
    a, b = cat.STATUS_BY_NAME[frm], cat.STATUS_BY_NAME[to]
    return (
        "status",
        "status",
        a.id,
        name_at(a.id, a.name, at, rename_at),
        b.id,
        name_at(b.id, b.name, at, rename_at),
    )


def name_at(status_id: str, name: str, at: int, rename_at: int) -> str:
    return cat.RENAMED_FROM if status_id == cat.RENAMED_STATUS_ID and at < rename_at else name


def noise_item(rng: random.Random, issue: Issue) -> Item:
    """A non-status edit, so the connector must filter changelog items by field."""
    kind = rng.randrange(4)
    if kind == 0:
        a, b = rng.sample(cat.PEOPLE[:-1], 2)
        return ("assignee", "assignee", a.account_id, a.name, b.account_id, b.name)
    if kind == 1:
        label = rng.choice(cat.LABELS)
        return ("labels", "labels", None, "", None, label)
    if kind == 2:
        (fa, fn), (ta, tn) = rng.sample(cat.PRIORITIES, 2)
        return ("priority", "priority", fa, fn, ta, tn)
    n = rng.randrange(1, 40)
    return ("Sprint", "customfield_10020", str(n), f"Sprint {n}", str(n + 1), f"Sprint {n + 1}")


def flag_item(on: bool) -> Item:
    """A `Flagged` item: set shows the option, clear shows nothing (as JIRA Cloud writes it)."""
    value, label = cat.FLAGGED_OPTION
    if on:
        return ("Flagged", cat.FLAGGED_FIELD_ID, None, "", value, label)
    return ("Flagged", cat.FLAGGED_FIELD_ID, value, label, None, "")


def link_item(other: str, text: str, added: bool) -> Item:
    """A `Link` item: the other issue's key and the direction in words."""
    sentence = f"This issue {text} {other}"
    if added:  # the absent side is null in real payloads (shared captures), not ""
        return ("Link", "issuelinks", None, None, other, sentence)  # type: ignore[return-value]
    return ("Link", "issuelinks", other, sentence, None, None)  # type: ignore[return-value]


def initial_team(issue: Issue) -> int:
    """The team an issue starts with (derived, so no random draw and no new slot)."""
    return (issue.id * 7 + issue.project) % len(cat.TEAMS)


def current_team(issue: Issue) -> int:
    """The team after the issue's last Team entry (else its initial team)."""
    for _hid, _at, _a, items in reversed(issue.histories):
        for item in items:
            if item[0] == "Team" and item[4] is not None:
                return next(i for i, t in enumerate(cat.TEAMS) if t[0] == item[4])
    return initial_team(issue)


def team_item(frm: int, to: int) -> Item:
    (fid, fname), (tid, tname) = cat.TEAMS[frm], cat.TEAMS[to]
    return ("Team", cat.TEAM_FIELD_ID, fid, fname, tid, tname)


class JiraGenerator:
    """Fills a :class:`JiraStore`; also used by time travel to extend lives step by step."""

    def __init__(
        self,
        store: JiraStore,
        rng: random.Random,
        now_ms: int,
        rework: float = 0.0,
        long_issues: int = 0,
        long_histories: int = 10_000,
    ) -> None:
        self.store = store
        self.rng = rng
        self.now_ms = now_ms
        self.rename_at = now_ms - cat.RENAME_DAYS_BEFORE_NOW * DAY_MS
        #: scale knobs (docs/sandbox.md "Scale knobs"): mean extra review round trips per
        #: issue, and how many issues get at least `long_histories` histories
        self.rework = rework
        self.long_issues = long_issues
        self.long_histories = long_histories

    # -- building blocks ---------------------------------------------------------------------
    def new_issue(self, project: int, itype: str, created: int, parent: int | None) -> Issue:
        store, rng = self.store, self.rng
        proj = cat.PROJECTS[project]
        n = store.project_counters.get(proj.key, 0) + 1
        store.project_counters[proj.key] = n
        labels = tuple(sorted(set(rng.sample(cat.LABELS, rng.randrange(0, 3)))))
        if itype == "Tech Debt" and rng.random() < 0.5:
            labels = tuple(sorted({*labels, "tech-debt"}))
        issue = Issue(
            id=store.next_issue_id,
            key=f"{proj.key}-{n}",
            project=project,
            itype=itype,
            summary=summary(rng, itype),
            created=created,
            status="Open" if itype in ("Bug", "Vulnerability") or proj.key == "OPS" else "Backlog",
            priority=rng.choices(range(5), weights=(3, 15, 60, 17, 5))[0],
            labels=labels,
            components=tuple(rng.sample(proj.components, rng.randrange(0, 2))),
            parent=parent,
            assignee=rng.randrange(len(cat.PEOPLE) - 1) if rng.random() < 0.8 else None,
            reporter=rng.randrange(len(cat.PEOPLE)),
            tz=cat.API_USER.tz if rng.random() < 0.8 else rng.choice(ALT_TZS),
        )
        store.next_issue_id += 1
        store.add(issue)
        return issue

    def append(
        self, issue: Issue, at: int, items: tuple[Item, ...], author: int | None = None
    ) -> None:
        """Append one history (must be the newest) and bump ``updated``."""
        author = self.rng.randrange(len(cat.PEOPLE)) if author is None else author
        hist: History = (self.store.next_history_id, at, author, items)
        self.store.next_history_id += 1
        issue.histories.append(hist)
        issue.updated = max(issue.updated, at)

    def transition(self, issue: Issue, to: str, at: int) -> None:
        self.append(issue, at, (status_item(issue.status, to, at, self.rename_at),))
        issue.status = to

    def live(self, issue: Issue, until: int, heavy: bool = False, long: bool = False) -> None:
        """Simulate the issue's status changes from its last change up to ``until``.

        ``long``: one of the knob's long-history issues (``long_histories`` and more)."""
        rng = self.rng
        events: list[tuple[int, tuple[Item, ...]]] = []
        status = issue.status
        t = issue.histories[-1][1] if issue.histories else issue.created
        never_start = not heavy and rng.random() < 0.06
        if long:  # a long-history issue is always started
            never_start = False
        while not never_start:
            nxt = jira_next(rng, status, heavy)
            if nxt is None:
                break
            t += jira_dwell(rng, status) // (4 if heavy else 1)
            if t > until:
                break
            events.append((t, (status_item(status, nxt, t, self.rename_at),)))
            status = nxt
        end = max(t if t <= until else until, issue.created + 1)
        if self.rework or long:
            events.extend(self.round_trips(issue, events, until, long))
        n_noise = (
            rng.randrange(50, 150) if heavy else rng.choices((0, 1, 2, 4), (35, 30, 25, 10))[0]
        )
        for _ in range(n_noise):
            events.append((rng.randint(issue.created + 1, end), (noise_item(rng, issue),)))
        events.extend(self.impediments(issue, events, until))
        events.extend(self.team_handoffs(issue, until))
        events.sort(key=lambda e: e[0])
        for at, items in events:
            self.append(issue, at, items)
        issue.status = status
        issue.updated = min(max(issue.updated, issue.created) + rng.randrange(0, 60_000), until)
        issue.updated = max(issue.updated, issue.histories[-1][1] if issue.histories else 0)

    def round_trips(
        self, issue: Issue, events: list[tuple[int, tuple[Item, ...]]], until: int, long: bool
    ) -> list[tuple[int, tuple[Item, ...]]]:
        """Rework: work sent back to the status it came from and moved on again (A -> B, then
        B -> A -> B inside B's stretch, e.g. In Review back to In Progress and on to review).

        Only with the scale knobs: a Poisson(``rework``) count per issue (``long_histories / 2``
        more for a long issue), placed in stretches between two not-done statuses, weighted by
        their length, evenly spaced inside each. Its own random stream per issue, so the main
        stream and every calibrated figure are unchanged; the chain of statuses stays whole.
        """
        rng = random.Random(f"rework-{issue.id}-{len(issue.histories)}")
        segments: list[tuple[int, int, str, str]] = []  # (from ms, to ms, back to, forward to)
        changes = [(at, items[0]) for at, items in events if items[0][0] == "status"]
        for k, (at, item) in enumerate(changes):
            a, b = cat.STATUS_BY_ID[item[2]], cat.STATUS_BY_ID[item[4]]  # type: ignore[index]
            nxt = changes[k + 1][0] if k + 1 < len(changes) else until
            if "done" not in (a.category, b.category) and nxt - at > 2:
                segments.append((at, nxt, a.name, b.name))
        count = _poisson(rng, self.rework) + (-(-self.long_histories // 2) if long else 0)
        if not segments or not count:
            return []
        spans = [b - a for a, b, _x, _y in segments]
        per = [0] * len(segments)
        for k in rng.choices(range(len(segments)), weights=spans, k=count):
            per[k] += 1
        out: list[tuple[int, tuple[Item, ...]]] = []
        for (a, b, back, forward), n in zip(segments, per, strict=True):
            n = min(n, (b - a - 1) // 2)  # two distinct instants per round trip inside (a, b)
            step = (b - a) / (2 * n + 1) if n else 0
            for j in range(n):
                t1, t2 = a + int(step * (2 * j + 1)), a + int(step * (2 * j + 2))
                out.append((t1, (status_item(forward, back, t1, self.rename_at),)))
                out.append((t2, (status_item(back, forward, t2, self.rename_at),)))
        return out

    def impediments(
        self, issue: Issue, events: list[tuple[int, tuple[Item, ...]]], until: int
    ) -> list[tuple[int, tuple[Item, ...]]]:
        """Flags and "is blocked by" links inside the issue's In Progress stretches.

        A per-issue random stream (seeded from the issue and the stretch) so that adding these
        does not shift the main stream every other generated value comes from. The blocker's
        own history gets the mirror "This issue blocks ..." entry, as JIRA writes both sides.
        """
        status = issue.status
        t = issue.histories[-1][1] if issue.histories else issue.created
        stretches: list[tuple[int, int]] = []
        start = t if status == "In Progress" else None
        for at, items in sorted(events, key=lambda e: e[0]):
            if items[0][0] != "status":
                continue
            to = cat.STATUS_BY_ID[items[0][4]].name  # type: ignore[index]
            if start is not None and to != "In Progress":
                stretches.append((start, at))
                start = None
            elif start is None and to == "In Progress":
                start = at
        if start is not None:
            stretches.append((start, until))
        out: list[tuple[int, tuple[Item, ...]]] = []
        for a, b in stretches:
            rng = random.Random(f"impediment-{issue.id}-{a}")
            cursor = a
            while cursor < b and rng.random() < (FLAG_P if cursor == a else FLAG_AGAIN_P):
                on = cursor + 1 + int(rng.random() * (b - cursor) * 0.7)
                off = on + lognormal_ms(rng, *FLAG_DAYS)
                if on > until:
                    break
                out.append((on, (flag_item(True),)))
                if off > until:
                    break
                out.append((off, (flag_item(False),)))
                cursor = off
            if rng.random() < LINK_P:
                at = a + 1 + int(rng.random() * (b - a) * 0.5)
                if at > until:
                    continue
                blocker = self.blocker_for(issue, rng)
                key = blocker.key if blocker else f"{cat.OUTSIDE_PROJECT}-{rng.randrange(1, 900)}"
                out.append((at, (link_item(key, "is blocked by", True),)))
                if blocker:
                    self.mirror(blocker, at, link_item(issue.key, "blocks", True))
                removed = at + lognormal_ms(rng, *LINK_DAYS)
                if rng.random() < LINK_REMOVED_P and removed <= until:
                    out.append((removed, (link_item(key, "is blocked by", False),)))
                    if blocker:
                        self.mirror(blocker, removed, link_item(issue.key, "blocks", False))
        return out

    def team_handoffs(self, issue: Issue, until: int) -> list[tuple[int, tuple[Item, ...]]]:
        """Hand the issue to another team now and then, sometimes back (A -> B -> A)."""
        start = issue.histories[-1][1] if issue.histories else issue.created
        rng = random.Random(f"team-{issue.id}-{start}")
        if rng.random() >= TEAM_CHANGE_P or until - start < 2:
            return []
        team = current_team(issue)
        at = start + 1 + int(rng.random() * (until - start - 1) * 0.6)
        other = rng.choice([t for t in range(len(cat.TEAMS)) if t != team])
        out = [(at, (team_item(team, other),))]
        if rng.random() < TEAM_BACK_P:
            back = at + 1 + int(rng.random() * (until - at - 1))
            if back <= until:
                out.append((back, (team_item(other, team),)))
        return out

    def blocker_for(self, issue: Issue, rng: random.Random) -> Issue | None:
        """An earlier live issue (None: a blocker outside the synced projects)."""
        # the lowest id: issues are never removed from the store (deleted ones stay, flagged)
        # and ids only grow, so the first key is it -- `min()` over all keys per blocker made
        # generation quadratic (minutes at 200k issues)
        first = next(iter(self.store.issues), issue.id)
        if rng.random() < BLOCKER_OUTSIDE_P or first >= issue.id:
            return None
        for _ in range(5):
            other = self.store.issues.get(rng.randrange(first, issue.id))
            if other is not None and not other.deleted and other.itype != "Epic":
                return other
        return None

    def mirror(self, issue: Issue, at: int, item: Item) -> None:
        """Insert a history into another issue's changelog at its place in time."""
        hist: History = (self.store.next_history_id, at, issue.reporter, (item,))
        self.store.next_history_id += 1
        bisect.insort(issue.histories, hist, key=lambda h: h[1])
        issue.updated = max(issue.updated, at)

    # -- whole organisation ------------------------------------------------------------------
    def generate(self, size: int) -> None:
        rng, now = self.rng, self.now_ms
        start = now - 180 * DAY_MS
        n_epics = max(len(cat.PROJECTS), size // 25)
        epics: dict[int, list[int]] = {p: [] for p in range(len(cat.PROJECTS))}
        plan: list[tuple[int, int, str]] = []  # (created, project, type)
        for i in range(size):
            project = (
                i % len(cat.PROJECTS)
                if i < n_epics
                else rng.choices(range(len(cat.PROJECTS)), weights=(35, 30, 22, 13))[0]
            )
            if i < n_epics:
                plan.append((start + rng.randrange(0, 30 * DAY_MS), project, "Epic"))
            else:
                itype = rng.choices([t for t, _ in TYPE_WEIGHTS], [w for _, w in TYPE_WEIGHTS])[0]
                plan.append((start + rng.randrange(0, 180 * DAY_MS - 3_600_000), project, itype))
        plan.sort()
        heavy_every = 50
        moved = False
        # the long-history issues: spread over the older half (their lives have room); one
        # whose life leaves no stretch for them (straight to Won't Do) passes on to the next
        longs = {(2 * k + 1) * len(plan) // (4 * self.long_issues) for k in range(self.long_issues)}
        pending = 0
        for n, (created, project, itype) in enumerate(plan):
            parents = epics[project]
            parent = (
                rng.choice(parents) if parents and itype != "Epic" and rng.random() < 0.7 else None
            )
            issue = self.new_issue(project, itype, created, parent)
            if itype == "Epic":
                parents.append(issue.id)
            if (
                not moved
                and cat.PROJECTS[project].key == "OPS"
                and itype != "Epic"
                and created < now - 30 * DAY_MS
            ):
                self.move_to_payments(issue)
                moved = True
            pending += n in longs
            long = pending > 0 and itype != "Epic"
            self.live(issue, now, heavy=(n % heavy_every == heavy_every - 1), long=long)
            if long and len(issue.histories) >= self.long_histories:
                pending -= 1
        self.store.reindex()

    def move_to_payments(self, issue: Issue) -> None:
        """Move an OPS issue to PAY: one history with Key, project, Workflow and status items."""
        at = issue.created + self.rng.randrange(3_600_000, DAY_MS)
        src, dst = cat.PROJECTS[issue.project], cat.PROJECTS[0]
        n = self.store.project_counters.get(dst.key, 0) + 1
        self.store.project_counters[dst.key] = n
        new_key = f"{dst.key}-{n}"
        items: tuple[Item, ...] = (
            ("Key", "issuekey", None, issue.key, None, new_key),
            ("project", "project", src.id, src.name, dst.id, dst.name),
            ("Workflow", "Workflow", "10100", "OPS Workflow", "10101", "PAY Workflow"),
            status_item(issue.status, "Backlog", at, self.rename_at),
        )
        self.append(issue, at, items)
        issue.old_keys = (*issue.old_keys, issue.key)
        issue.key, issue.project, issue.status = new_key, 0, "Backlog"
        issue.components = ()  # components are per project: they do not travel
        self.store.by_key[new_key] = issue.id


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method; the means used here are small)."""
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
