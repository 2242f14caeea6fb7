"""Workflow rules shared by generation and time travel: where an item goes next, how long it stays.

Dwell times are log-normal (median, sigma) in days. The JIRA figures are tuned so that the
shape (queues, rework loops, ~5% reopens) resembles the real changelogs in the calibration
set; the ServiceNow figures come from the UCI incident event log (see docs/sandbox.md).
"""

from __future__ import annotations

import math
import random

DAY_MS = 86_400_000

# --- JIRA ------------------------------------------------------------------------------------

#: status name -> list of (next status, weight). "Done" leads nowhere except via a reopen.
JIRA_FLOW: dict[str, tuple[tuple[str, float], ...]] = {
    "Open": (("In Progress", 0.85), ("Analysis", 0.09), ("Won't Do", 0.06)),
    "Backlog": (("In Progress", 0.65), ("Analysis", 0.29), ("Won't Do", 0.06)),
    "Analysis": (("In Progress", 0.85), ("Backlog", 0.10), ("Won't Do", 0.05)),
    "In Progress": (
        ("Ready for Review", 0.70),
        ("Blocked", 0.14),
        ("Done", 0.12),
        ("Cancelled", 0.02),
    ),
    "Blocked": (("In Progress", 0.95), ("Cancelled", 0.05)),
    "Ready for Review": (("In Review", 1.0),),
    "In Review": (("Ready for Test", 0.76), ("In Progress", 0.24)),
    "Ready for Test": (("Testing", 1.0),),
    "Testing": (("Done", 0.82), ("In Progress", 0.18)),
    "Reopened": (("In Progress", 1.0),),
}

#: Heavy issues (50-150 histories) loop through Blocked and rework far more often.
JIRA_FLOW_HEAVY: dict[str, tuple[tuple[str, float], ...]] = {
    **JIRA_FLOW,
    "In Progress": (("Blocked", 0.55), ("Ready for Review", 0.45)),
    "In Review": (("In Progress", 0.5), ("Ready for Test", 0.5)),
    "Testing": (("In Progress", 0.5), ("Done", 0.5)),
}

JIRA_DWELL_DAYS: dict[str, tuple[float, float]] = {
    "Open": (3.0, 1.2),
    "Backlog": (6.0, 1.3),
    "Analysis": (2.0, 0.8),
    "In Progress": (2.5, 0.9),
    "Blocked": (2.0, 1.0),
    "Ready for Review": (0.7, 1.0),
    "In Review": (0.4, 0.9),
    "Ready for Test": (1.4, 1.0),
    "Testing": (1.0, 0.8),
    "Reopened": (0.5, 0.8),
    "Done": (4.0, 1.0),
}

JIRA_REOPEN_P = 0.05

#: Impediments inside In Progress stretches (docs/sandbox.md): the share of stretches flagged,
#: of flagged stretches flagged again after the clear, flag duration (median, sigma) in days;
#: the share of stretches that get an "is blocked by" link, of those links removed later
#: (the rest end when the blocker is done, or run on), link life, and the share of blockers
#: outside the synced projects.
FLAG_P = 0.15
FLAG_AGAIN_P = 0.25
FLAG_DAYS = (1.0, 1.0)
LINK_P = 0.08
LINK_REMOVED_P = 0.5
LINK_DAYS = (3.0, 1.0)
BLOCKER_OUTSIDE_P = 0.2
#: Team hand-offs (Atlassian Team field): share of issues handed to another team once, and of
#: those handed back (a loop).
TEAM_CHANGE_P = 0.12
TEAM_BACK_P = 0.3
JIRA_TERMINAL = frozenset({"Won't Do", "Cancelled"})


def lognormal_ms(rng: random.Random, median_days: float, sigma: float) -> int:
    """Sample a log-normal duration in ms (at least one second)."""
    return max(1000, int(rng.lognormvariate(math.log(median_days), sigma) * DAY_MS))


def pick(rng: random.Random, options: tuple[tuple[str, float], ...]) -> str:
    """Weighted choice over (value, weight) pairs."""
    r = rng.random() * sum(w for _, w in options)
    for value, weight in options:
        r -= weight
        if r <= 0:
            return value
    return options[-1][0]


def jira_next(rng: random.Random, status: str, heavy: bool = False) -> str | None:
    """Next JIRA status, or None when the item stays put (done and not reopened, dropped)."""
    if status in JIRA_TERMINAL:
        return None
    if status == "Done":
        return "Reopened" if rng.random() < JIRA_REOPEN_P else None
    return pick(rng, (JIRA_FLOW_HEAVY if heavy else JIRA_FLOW)[status])


def jira_dwell(rng: random.Random, status: str) -> int:
    median, sigma = JIRA_DWELL_DAYS.get(status, (1.0, 1.0))
    return lognormal_ms(rng, median, sigma)


# --- ServiceNow (calibrated on the UCI incident event log) ----------------------------------

#: reassignment_count distribution: P(0..8+) from the real log (54%, 25%, 9%, 5%, ...).
REASSIGNMENT_WEIGHTS = (
    (0, 54.4),
    (1, 25.0),
    (2, 9.2),
    (3, 5.0),
    (4, 2.8),
    (5, 1.5),
    (6, 0.7),
    (7, 0.6),
    (8, 0.8),
)
INCIDENT_HOLD_P = 0.234
#: Share of holds whose reason changes once while on hold (two reasons in a row; UCI log:
#: 2.5% of awaiting periods run straight into another awaiting state).
HOLD_REASON_CHANGE_P = 0.03
#: Number of on-hold periods of a held incident (the log averages ~2.7 per held incident).
HOLD_COUNT_WEIGHTS = ((1, 40.0), (2, 25.0), (3, 15.0), (4, 10.0), (5, 10.0))
#: hold_reason weights; "1" Awaiting Caller stands in for the log's "Awaiting User Info".
HOLD_REASON_WEIGHTS = (("1", 91.4), ("4", 4.3), ("3", 4.1), ("5", 0.2))
HOLD_DAYS = (0.77, 1.84)  # median, sigma of one on-hold period
WORK_DAYS = (0.55, 2.1)  # touch time from In Progress to Resolved
INCIDENT_REOPEN_P = 0.011
INCIDENT_CANCEL_P = 0.03
RESOLVED_TO_CLOSED_DAYS = 4.8  # auto-close after ~5 days (+ an exponential tail of 1 day)
INCIDENT_PRIORITY_WEIGHTS = (("1", 1.1), ("2", 1.6), ("3", 94.2), ("4", 3.1))


def weighted_int(rng: random.Random, options: tuple[tuple[int, float], ...]) -> int:
    r = rng.random() * sum(w for _, w in options)
    for value, weight in options:
        r -= weight
        if r <= 0:
            return value
    return options[-1][0]
