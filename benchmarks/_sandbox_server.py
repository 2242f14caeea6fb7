"""Serve a seeded sandbox for a benchmark: prints one JSON line (urls, env, now), then serves
until its stdin closes. Control it over HTTP with /__admin/{counters,reset_counters,advance}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox import Sandbox
from sandbox import catalogue as cat
from sandbox.store import Issue


def synced_field_ids() -> frozenset[str]:
    """bulkfetch `fieldIds` the JIRA connector asks for with the demo config: status, Flagged,
    issuelinks, and Team when `handoffs.jira_field` names it; only histories with one of
    these are served to it (and land)."""
    from models.config import load_demo_config

    ids = {"status", cat.FLAGGED_FIELD_ID, "issuelinks"}
    if load_demo_config().handoffs.jira_field == "Team":
        ids.add(cat.TEAM_FIELD_ID)
    return frozenset(ids)


#: sys_audit fields the ServiceNow connector reads (connectors/servicenow/history.py)
AUDIT_READ = frozenset({"state", "hold_reason", "assignment_group"})


def counts(sb: Sandbox) -> dict[str, object]:
    """What was generated, for the benchmark's tables and its request minimum."""
    issues = [i for i in sb.jira.issues.values() if not i.deleted]
    lengths = sorted(len(i.histories) for i in issues)

    wanted = synced_field_ids()

    def synced(issue: Issue) -> int:
        return sum(1 for h in issue.histories if any(it[1] in wanted for it in h[3]))

    # bulkfetch calls for batches of one search page each (1000 issues in the connector's
    # `ORDER BY updated, id`): each call returns at most 10,000 histories
    per_issue = [synced(sb.jira.issues[iid]) for _updated, iid in sb.jira.index]
    bulk_calls = sum(
        max(1, -(-sum(per_issue[k : k + 1000]) // 10_000)) for k in range(0, len(per_issue), 1000)
    )
    tables = {n: len(sb.tables[n].rows) for n in ("incident", "change_request", "problem")}
    audit = sb.tables["sys_audit"].rows
    return {
        "jira_issues": len(issues),
        "jira_histories": sum(lengths),
        "jira_histories_synced": sum(per_issue),
        "jira_bulkfetch_min": bulk_calls,
        "jira_longest": lengths[-3:],
        "jira_issues_10k": sum(1 for n in lengths if n >= 10_000),
        "snow_records": tables,
        "sys_audit_rows": len(audit),
        "sys_audit_rows_read": sum(1 for a in audit if a.fieldname in AUDIT_READ),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mode", default="cloud")
    parser.add_argument("--now", required=True)
    parser.add_argument("--knobs", default="{}", help="scale knobs as JSON (docs/sandbox.md)")
    args = parser.parse_args()
    knobs = json.loads(args.knobs)
    if "sources" in knobs:
        knobs["sources"] = tuple(knobs["sources"])
    t = time.perf_counter()
    sb = Sandbox(
        seed=args.seed,
        size=args.size,
        mode=args.mode,
        now=datetime.fromisoformat(args.now),
        **knobs,
    )
    generate_s = time.perf_counter() - t
    sb.start()
    print(
        json.dumps(
            {
                "jira_url": sb.jira_url,
                "servicenow_url": sb.servicenow_url,
                "env": sb.env,
                "now": sb.now.isoformat(),
                "generate_s": generate_s,
                "counts": counts(sb),
            }
        ),
        flush=True,
    )
    try:
        sys.stdin.read()  # returns when the parent closes our stdin (or dies)
    finally:
        sb.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
