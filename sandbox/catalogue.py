"""The simulated organisation: value streams, projects, statuses, groups, people.

Kept as plain constants so the generator, both APIs and the tests agree on one vocabulary,
and so the demo config (owned by another team) can name the same projects and groups.
"""

from __future__ import annotations

from typing import NamedTuple


class Project(NamedTuple):
    id: str
    key: str
    name: str
    stream: str
    components: tuple[str, ...]


class Status(NamedTuple):
    id: str
    name: str
    category: str  # "new" | "indeterminate" | "done"


class Person(NamedTuple):
    account_id: str
    name: str
    tz: str


VALUE_STREAMS = ("Payments", "Web", "Platform")

PROJECTS: tuple[Project, ...] = (
    Project("10000", "PAY", "Payments", "Payments", ("checkout", "ledger", "fraud", "payouts")),
    Project("10001", "WEB", "Web Storefront", "Web", ("frontend", "search", "cms", "mobile-web")),
    Project("10002", "PLAT", "Platform", "Platform", ("k8s", "observability", "ci", "identity")),
    Project("10003", "OPS", "Operations", "Platform", ("on-call", "runbooks", "capacity")),
)

STATUS_CATEGORIES: dict[str, tuple[int, str, str]] = {
    # key -> (id, colorName, name), as JIRA ships them.
    "undefined": (1, "medium-gray", "No Category"),
    "new": (2, "blue-gray", "To Do"),
    "done": (3, "green", "Done"),
    "indeterminate": (4, "yellow", "In Progress"),
}

STATUSES: tuple[Status, ...] = (
    Status("1", "Open", "new"),
    Status("10000", "Backlog", "new"),
    Status("10001", "Analysis", "indeterminate"),
    Status("3", "In Progress", "indeterminate"),
    Status("10002", "Ready for Review", "indeterminate"),
    Status("10003", "In Review", "indeterminate"),
    Status("10004", "Blocked", "indeterminate"),
    Status("10005", "Ready for Test", "indeterminate"),
    Status("10006", "Testing", "indeterminate"),
    Status("4", "Reopened", "new"),
    Status("10007", "Done", "done"),
    Status("10008", "Won't Do", "done"),
    Status("10009", "Cancelled", "done"),
)
STATUS_BY_NAME = {s.name: s for s in STATUSES}
STATUS_BY_ID = {s.id: s for s in STATUSES}
DONE_STATUS_IDS = frozenset(s.id for s in STATUSES if s.category == "done")

#: One status was renamed during the simulated history: old changelog items keep the old name.
RENAMED_STATUS_ID = "10006"
RENAMED_FROM = "QA"
RENAME_DAYS_BEFORE_NOW = 75

ISSUE_TYPES: dict[str, tuple[str, int]] = {
    # name -> (id, hierarchyLevel)
    "Epic": ("10000", 1),
    "Story": ("10001", 0),
    "Bug": ("10002", 0),
    "Task": ("10003", 0),
    "Tech Debt": ("10004", 0),
    "Vulnerability": ("10005", 0),
}

PRIORITIES: tuple[tuple[str, str], ...] = (
    ("1", "Highest"),
    ("2", "High"),
    ("3", "Medium"),
    ("4", "Low"),
    ("5", "Lowest"),
)

LABELS = (
    "tech-debt",
    "customer",
    "security",
    "performance",
    "ux",
    "backend",
    "frontend",
    "quick-win",
    "compliance",
    "KTLO",
)

PEOPLE: tuple[Person, ...] = (
    Person("5b10a2844c20165700ede21g", "Mia Krystof", "Australia/Sydney"),
    Person("5b10ac8d82e05b22cc7d4ef5", "Ravi Shankar", "Asia/Kolkata"),
    Person("557058:f58131cb-b67d-43c7-b30d-6b58d40bd077", "Jürgen Müller", "Europe/Berlin"),
    Person("5d9f1c2a7b8e4c0d9e1f2a3b", "Ana Lucía Pérez", "America/Los_Angeles"),
    Person("5e0a1b2c3d4e5f6a7b8c9d0e", "Chen Wei", "Asia/Shanghai"),
    Person("5f1b2c3d4e5f6a7b8c9d0e1f", "Olivia Smith", "America/New_York"),
    Person("60a1b2c3d4e5f6a7b8c9d0e1", "Sipho Ndlovu", "Africa/Johannesburg"),
    Person("61b2c3d4e5f6a7b8c9d0e1f2", "Zoë O'Brien", "Europe/Dublin"),
    Person("62c3d4e5f6a7b8c9d0e1f2a3", "Automation for Jira", "UTC"),
)

API_USER = Person("712020:sandbox-demo-user", "Demo User", "America/Los_Angeles")

#: JIRA Software's impediment flag: a custom field whose id differs per site (this one's).
FLAGGED_FIELD_ID = "customfield_10021"
FLAGGED_OPTION = ("[10019]", "Impediment")
#: Atlassian's Team field (another per-site custom field id) and the teams it names: the owner
#: field a user may name in `handoffs.jira_field`.
TEAM_FIELD_ID = "customfield_10001"
TEAMS: tuple[tuple[str, str], ...] = (
    ("36885b3c-1bf0-4f85-a357-c5b858c31de4", "Checkout Squad"),
    ("4a1f0c3e-9d2b-4d7a-8f51-2c6e0b9a7d13", "Ledger Crew"),
    ("5b2e1d4f-ae3c-4e8b-9a62-3d7f1cab8e24", "Web Platform"),
    ("6c3f2e50-bf4d-4f9c-ab73-4e802dbc9f35", "SRE"),
)

#: Keys of blockers outside every synced project (another JIRA project nobody syncs).
OUTSIDE_PROJECT = "LEGACY"

# --- ServiceNow -----------------------------------------------------------------------------

SNOW_GROUPS: tuple[tuple[str, str], ...] = (
    # (name, value stream)
    ("Service Desk", ""),
    ("Payments Ops", "Payments"),
    ("Web Ops", "Web"),
    ("Platform Ops", "Platform"),
    ("Database", "Platform"),
)

SNOW_USERS = (
    "itil.user",
    "beth.anglin",
    "david.loo",
    "fred.luddy",
    "abel.tuter",
    "don.goodliffe",
    "bud.richman",
    "admin",
)

INCIDENT_STATES = {
    "1": "New",
    "2": "In Progress",
    "3": "On Hold",
    "6": "Resolved",
    "7": "Closed",
    "8": "Canceled",
}
#: A pre-Helsinki state kept on an upgraded instance (KB0564465): mapped by label, not value.
LEGACY_INCIDENT_STATES = {"4": "Awaiting User Info"}
CHANGE_STATES = {
    "-5": "New",
    "-4": "Assess",
    "-3": "Authorize",
    "-2": "Scheduled",
    "-1": "Implement",
    "0": "Review",
    "3": "Closed",
    "4": "Canceled",
}
PROBLEM_STATES = {
    "101": "New",
    "102": "Assess",
    "103": "Root Cause Analysis",
    "104": "Fix in Progress",
    "106": "Resolved",
    "107": "Closed",
}
HOLD_REASONS = {
    "1": "Awaiting Caller",
    "3": "Awaiting Problem",
    "4": "Awaiting Vendor",
    "5": "Awaiting Change",
}
SNOW_PRIORITIES = {
    "1": "1 - Critical",
    "2": "2 - High",
    "3": "3 - Moderate",
    "4": "4 - Low",
    "5": "5 - Planning",
}
INCIDENT_CLOSE_CODES = (
    "Solution provided",
    "Workaround provided",
    "Resolved by caller",
    "Resolved by change",
    "Resolved by problem",
    "User error",
    "Duplicate",
    "Known error",
)
CATEGORIES = ("inquiry", "software", "hardware", "network", "database")
