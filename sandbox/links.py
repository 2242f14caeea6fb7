"""ServiceNow's own links between the two tools: changes implementing JIRA issues, incidents
caused by changes, problems grouping incidents (docs/sandbox.md, "Links").

Why a module (and a random stream) of its own: the records and histories the other
generators draw stay exactly as they were for a given seed, and these links are laid over
them. A change names its JIRA issues the three ways real teams do: the key in
`correlation_id` (an integration), in the short description (a person), or nowhere.
Incidents are caused only by changes closed before they were opened: a change fails with
its close_code's chance (unsuccessful 80 %, with issues 50 %, successful 8 %: ~16 % overall)
and then causes one to three incidents of the following week; problems group two to four
incidents opened in the month before them.

Time travel (:func:`advance_links`) adds the links incrementally: new changes that implement
recently worked JIRA issues, new incidents caused by changes closed in the last fortnight,
and one older incident whose `caused_by` someone fills in tonight (its `sys_updated_on` moves,
so an incremental sync re-reads it and last month's change failure rate changes).
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence
from typing import Any

from sandbox import catalogue as cat
from sandbox.snow_gen import DAY, SnowGenerator
from sandbox.store import Issue, JiraStore, Record

#: Shares of change requests whose JIRA issues are named in correlation_id / the text.
IN_CORRELATION = 0.35
IN_TEXT = 0.25
#: Chance that a closed change caused incidents, by close_code.
CAUSES_INCIDENT = {"unsuccessful": 0.8, "successful_issues": 0.5, "successful": 0.08}
CHANGE_PATH = ("-5", "-4", "-3", "-2", "-1", "0", "3")


def _stream_of_group(gen: SnowGenerator, group_sys_id: str) -> str:
    name = gen.store.groups.get(group_sys_id, "")
    return dict(cat.SNOW_GROUPS).get(name, "")


def _done_ms(issue: Issue) -> int | None:
    """When the issue last entered Done (None when it is not Done now)."""
    if issue.status != "Done":
        return None
    at = None
    for _hid, when, _author, items in issue.histories:
        if any(item[0] == "status" and item[5] == "Done" for item in items):
            at = when
    return at if at is not None else issue.created


class IssueIndex:
    """Per value stream, the live non-epic issues by creation and by Done time (bisectable,
    so naming issues stays O(log n) per change at benchmark sizes)."""

    def __init__(self, jira: JiraStore, since_ms: int | None = None) -> None:
        by_created: dict[str, list[tuple[int, int, Issue]]] = {}
        by_done: dict[str, list[tuple[int, int, Issue]]] = {}
        for issue in jira.issues.values():
            if issue.deleted or issue.itype == "Epic":
                continue
            if since_ms is not None and issue.updated < since_ms:
                continue  # time travel: only issues worked on lately (a cheap scan)
            stream = cat.PROJECTS[issue.project].stream
            by_created.setdefault(stream, []).append((issue.created, issue.id, issue))
            done = _done_ms(issue)
            if done is not None:
                by_done.setdefault(stream, []).append((done, issue.id, issue))
        # (instant, id) are unique per issue: the issue object is never compared
        self.created = {k: sorted(v) for k, v in by_created.items()}
        self.done = {k: sorted(v) for k, v in by_done.items()}

    def pick(
        self, rng: random.Random, stream: str, opened_ms: int, ship_ms: int, count: int
    ) -> list[str]:
        """Keys of `count` issues created before the change was opened: mostly ones done in
        the 30 days before it shipped, else any (some still open: the change goes first)."""
        created = self.created.get(stream, [])
        n_created = bisect.bisect_left(created, (opened_ms, -1))
        done = self.done.get(stream, [])
        lo = bisect.bisect_left(done, (ship_ms - 30 * DAY * 1000, -1))
        hi = bisect.bisect_left(done, (ship_ms + 1, -1))
        if hi > lo and rng.random() < 0.8:
            # a few random draws from the range instead of filtering all of it
            keys: list[str] = []
            for k in (rng.randrange(lo, hi) for _ in range(8 * count)):
                issue = done[k][2]
                if issue.created < opened_ms and issue.key not in keys:
                    keys.append(issue.key)
                if len(keys) == count:
                    break
            if keys:
                return keys
        picked = rng.sample(range(n_created), min(count, n_created))  # no copy of the prefix
        return [created[k][2].key for k in picked]


def name_issues(rng: random.Random, index: IssueIndex, gen: SnowGenerator, rec: Record) -> None:
    """Give one change request its JIRA keys: in correlation_id, in the text, or neither."""
    stream = _stream_of_group(gen, rec.group) or rng.choice(cat.VALUE_STREAMS)
    ship = rec.closed_at or gen.now
    roll = rng.random()
    count = 2 if rng.random() < 0.2 else 1
    keys = index.pick(rng, stream, rec.opened * 1000, ship * 1000, count)
    if not keys:
        return
    if roll < IN_CORRELATION:
        rec.correlation_id = " ".join(keys)
        if rng.random() < 0.2:  # the integration also wrote it in the text
            rec.short_description = f"{keys[0]}: {rec.short_description}"
    elif roll < IN_CORRELATION + IN_TEXT:
        rec.short_description = f"{rec.short_description} for {', '.join(keys)}"


class ClosedChanges:
    """Closed change requests by closed_at, to find the ones closed just before an instant."""

    def __init__(self, records: list[Record]) -> None:
        self.rows = sorted(
            (c.closed_at, c.number, c)
            for c in records
            if c.table == "change_request" and c.state == "3" and c.closed_at and not c.deleted
        )

    def between(self, lo: int, hi: int) -> list[Record]:
        a = bisect.bisect_right(self.rows, (lo, "\uffff"))
        b = bisect.bisect_left(self.rows, (hi, ""))
        return [t[2] for t in self.rows[a:b]]


def _cause(rng: random.Random, rec: Record, closed: ClosedChanges, window: int) -> bool:
    """Set `caused_by` to a change closed in the `window` seconds before the incident."""
    recent = closed.between(rec.opened - window, rec.opened)
    weights = [CAUSES_INCIDENT.get(c.close_code, 0.1) for c in recent]
    if not recent or rng.random() > max(weights) * 0.3:
        return False
    rec.caused_by = rng.choices(recent, weights)[0].sys_id
    return True


def link_organisation(rng: random.Random, jira: JiraStore, gen: SnowGenerator) -> None:
    """Lay the links over a freshly generated organisation (replaces the random ones)."""
    records = sorted(gen.store.records.values(), key=lambda r: r.number)
    index = IssueIndex(jira)
    incidents = sorted(
        (r for r in records if r.table == "incident"), key=lambda r: (r.opened, r.number)
    )
    for rec in incidents:
        rec.caused_by = ""
        rec.problem_id = ""
    for rec in records:
        if rec.table == "change_request":
            name_issues(rng, index, gen, rec)
    # each closed change fails with its close_code's chance (~16 % overall, DORA's "high"
    # band), and then causes one to three of the incidents opened in the week after it closed
    opened_at = [(r.opened, r.number) for r in incidents]
    uncaused = _Unused(len(incidents))
    for change in ClosedChanges(records).rows:
        closed_at, rec = change[0], change[2]
        if rng.random() >= CAUSES_INCIDENT.get(rec.close_code, 0.1):
            continue
        a = bisect.bisect_right(opened_at, (closed_at, "\uffff"))
        b = bisect.bisect_right(opened_at, (closed_at + 7 * DAY, "\uffff"))
        free = _Window(uncaused, a, b)  # the week's incidents not yet caused by a change
        for k in rng.sample(free, min(len(free), rng.randint(1, 3))):
            incidents[k].caused_by = rec.sys_id
            uncaused.take(k)
    unlinked = _Unused(len(incidents))
    for problem in (r for r in records if r.table == "problem"):
        if rng.random() < 0.3:
            continue
        a = bisect.bisect_right(opened_at, (problem.opened - 30 * DAY, "\uffff"))
        b = bisect.bisect_right(opened_at, (problem.opened, "\uffff"))
        before = _Window(unlinked, a, b)  # the month's incidents without a problem yet
        for k in rng.sample(before, min(len(before), rng.randint(2, 4))):
            incidents[k].problem_id = problem.sys_id
            unlinked.take(k)


class _Unused:
    """Which of n positions are still unused: a Fenwick tree of ones, so "how many in [a, b)"
    and "the j-th unused one" cost O(log n). Filtering the window instead (a week of incidents
    per change, a month per problem) made generation quadratic: hours at 1M incidents."""

    def __init__(self, n: int) -> None:
        self.n, self.top = n, 1 << n.bit_length()
        tree = [0] * (n + 1)
        for i in range(1, n + 1):
            tree[i] += 1
            j = i + (i & -i)
            if j <= n:
                tree[j] += tree[i]
        self.tree = tree

    def before(self, i: int) -> int:
        """Unused positions in [0, i)."""
        tree, s = self.tree, 0
        while i > 0:
            s += tree[i]
            i -= i & -i
        return s

    def take(self, k: int) -> None:
        tree, i = self.tree, k + 1
        while i <= self.n:
            tree[i] -= 1
            i += i & -i

    def nth(self, j: int) -> int:
        """Position of the unused one with j unused before it."""
        tree, pos, rest, step = self.tree, 0, j + 1, self.top
        while step:
            nxt = pos + step
            if nxt <= self.n and tree[nxt] < rest:
                pos, rest = nxt, rest - tree[nxt]
            step >>= 1
        return pos


class _Window(Sequence[int]):
    """The unused positions of [a, b) in order, computed on access: `random.sample` draws from
    it exactly as from the filtered list (it reads only the length and the items drawn)."""

    def __init__(self, unused: _Unused, a: int, b: int) -> None:
        self.unused, self.base = unused, unused.before(a)
        self.size = unused.before(b) - self.base

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, j: int) -> int:  # type: ignore[override]
        if not 0 <= j < self.size:
            raise IndexError(j)
        return self.unused.nth(self.base + j)


def advance_links(
    rng: random.Random,
    jira: JiraStore,
    gen: SnowGenerator,
    t0: int,
    t1: int,
    created_incidents: list[str],
) -> dict[str, Any]:
    """Links made within `(t0, t1]` (epoch seconds); `created_incidents` are tonight's."""
    saved, gen.rng = gen.rng, rng  # new records draw from this module's stream only
    try:
        new_changes = []
        index = IssueIndex(jira, (t1 - 45 * DAY) * 1000)
        for _ in range(rng.randint(1, 3)):
            opened = rng.randint(t0 + 1, max(t0 + 1, t1 - 3600))
            rec = gen.linear("change_request", opened, t1, CHANGE_PATH, "4", 0.15)
            name_issues(rng, index, gen, rec)
            new_changes.append(rec.number)
    finally:
        gen.rng = saved
    records = gen.store.records
    by_number = {r.number: r for r in records.values()}
    closed = ClosedChanges(list(records.values()))
    caused = [
        n
        for n in created_incidents
        if n in by_number and _cause(rng, by_number[n], closed, 14 * DAY)
    ]
    # someone names the cause of an older incident tonight (opened 20-45 days ago)
    older = sorted(
        (
            r
            for r in records.values()
            if r.table == "incident"
            and not r.deleted
            and not r.caused_by
            and t1 - 45 * DAY < r.opened < t1 - 20 * DAY
        ),
        key=lambda r: r.number,
    )
    backfilled = []
    for rec in rng.sample(older, min(1, len(older))):
        if _cause(rng, rec, closed, 10 * DAY) or _force_cause(rng, rec, closed):
            rec.updated = max(rec.updated, rng.randint(t0 + 1, t1))
            rec.mod_count += 1
            backfilled.append(rec.number)
    open_problems = sorted(
        (
            r
            for r in records.values()
            if r.table == "problem" and not r.deleted and r.state != "107"
        ),
        key=lambda r: r.number,
    )
    grouped = []
    if open_problems:
        problem = rng.choice(open_problems)
        for number in created_incidents[:2]:
            if number in by_number and rng.random() < 0.3:
                by_number[number].problem_id = problem.sys_id
                grouped.append(number)
    return {
        "changes_created": new_changes,
        "caused_by_new": caused,
        "caused_by_backfilled": backfilled,
        "problem_linked": grouped,
    }


def _force_cause(rng: random.Random, rec: Record, closed: ClosedChanges) -> bool:
    """The incident's cause is one of the last five changes closed before it opened."""
    before = closed.between(rec.opened - 60 * DAY, rec.opened)
    if not before:
        return False
    rec.caused_by = rng.choice(before[-5:]).sys_id
    return True
