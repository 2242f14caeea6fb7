"""Render compact JIRA issues and histories into the REST JSON shapes, per request."""

from __future__ import annotations

from typing import Any

from sandbox import catalogue as cat
from sandbox.clock import jira_ts
from sandbox.store import History, Issue

NAVIGABLE = (
    "summary",
    "status",
    "issuetype",
    "project",
    "priority",
    "labels",
    "components",
    "resolution",
    "resolutiondate",
    "created",
    "updated",
    "statuscategorychangedate",
    "parent",
    "assignee",
    "reporter",
)
RESOLUTIONS = {
    "Done": ("10000", "Done"),
    "Won't Do": ("10001", "Won't Do"),
    "Cancelled": ("10002", "Cancelled"),
}


def status_json(base: str, status_id: str) -> dict[str, Any]:
    s = cat.STATUS_BY_ID[status_id]
    cid, color, cname = cat.STATUS_CATEGORIES[s.category]
    return {
        "self": f"{base}/rest/api/2/status/{s.id}",
        "description": "",
        "iconUrl": f"{base}/images/icons/statuses/generic.png",
        "name": s.name,
        "id": s.id,
        "statusCategory": {
            "self": f"{base}/rest/api/2/statuscategory/{cid}",
            "id": cid,
            "key": s.category,
            "colorName": color,
            "name": cname,
        },
    }


def user_json(base: str, idx: int | None, datacenter: bool = False) -> dict[str, Any] | None:
    if idx is None:
        return None
    p = cat.PEOPLE[idx]
    out: dict[str, Any] = {
        "self": f"{base}/rest/api/2/user?accountId={p.account_id}",
        "accountId": p.account_id,
        "displayName": p.name,
        "active": True,
        "timeZone": p.tz,
        "accountType": "atlassian",
    }
    if datacenter:
        out["name"] = out["key"] = p.name.split()[0].lower()
    return out


def history_json(
    base: str,
    issue: Issue,
    h: History,
    datacenter: bool,
    created_as_epoch: bool = False,
    field_ids: frozenset[str] | None = None,
) -> dict[str, Any]:
    hid, at, author, items = h
    tz = cat.PEOPLE[author].tz if author % 4 == 1 else issue.tz
    rendered = []
    for field, field_id, frm, frm_s, to, to_s in items:
        if field_ids is not None and field_id not in field_ids:
            continue
        item = {
            "field": field,
            "fieldtype": "custom" if field_id.startswith("customfield_") else "jira",
            "fieldId": field_id,
            "from": frm,
            "fromString": frm_s,
            "to": to,
            "toString": to_s,
        }
        if datacenter:
            del item["fieldId"]  # older DC payloads lack fieldId: connectors filter on field
        rendered.append(item)
    return {
        "id": str(hid),
        "author": user_json(base, author, datacenter),
        "created": at // 1000 if created_as_epoch else jira_ts(at, tz),
        "items": rendered,
    }


def wanted_fields(spec: list[str]) -> tuple[list[str], bool]:
    """Resolve a fields request to navigable field names; second value: was ``*all``-like."""
    chosen: list[str] = []
    star = False
    excluded = {f[1:] for f in spec if f.startswith("-")}
    for f in spec:
        if f in ("*all", "*navigable"):
            star = True
            chosen.extend(NAVIGABLE)
        elif f in NAVIGABLE or f == cat.TEAM_FIELD_ID:
            chosen.append(f)
    return [f for f in dict.fromkeys(chosen) if f not in excluded], star


def issue_json(
    base: str,
    store_lookup: Any,
    issue: Issue,
    fields: list[str],
    changelog: str | None,
    datacenter: bool,
    embed_cap: int = 40,
) -> dict[str, Any]:
    """One issue. ``changelog``: None, "embedded" (newest ``embed_cap``) or "full"."""
    api = f"{base}/rest/api/2/issue/{issue.id}"
    out: dict[str, Any] = {
        "expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
        "id": str(issue.id),
        "self": api,
        "key": issue.key,
    }
    if fields:
        out["fields"] = {f: field_value(base, store_lookup, issue, f, datacenter) for f in fields}
    if changelog:
        hs = issue.histories
        total = len(hs)
        picked = hs if changelog == "full" else hs[-embed_cap:]
        out["changelog"] = {
            "startAt": 0,
            "maxResults": len(picked),
            "total": total,
            "histories": [history_json(base, issue, h, datacenter) for h in reversed(picked)],
        }
    return out


def _last_status_change(issue: Issue, done_only: bool) -> int | None:
    for _hid, at, _a, items in reversed(issue.histories):
        for item in items:
            if item[0] == "status":
                to = cat.STATUS_BY_ID[item[4]]  # type: ignore[index]
                frm = cat.STATUS_BY_ID[item[2]]  # type: ignore[index]
                if not done_only and to.category != frm.category:
                    return at
                if done_only:
                    return at if to.category == "done" else None
    return None


def field_value(base: str, lookup: Any, issue: Issue, name: str, datacenter: bool) -> Any:
    tz = issue.tz
    if name == "summary":
        return issue.summary
    if name == "status":
        return status_json(base, cat.STATUS_BY_NAME[issue.status].id)
    if name == "issuetype":
        tid, level = cat.ISSUE_TYPES[issue.itype]
        return {
            "self": f"{base}/rest/api/2/issuetype/{tid}",
            "id": tid,
            "name": issue.itype,
            "subtask": False,
            "hierarchyLevel": level,
        }
    if name == "project":
        p = cat.PROJECTS[issue.project]
        return {
            "self": f"{base}/rest/api/2/project/{p.id}",
            "id": p.id,
            "key": p.key,
            "name": p.name,
            "projectTypeKey": "software",
            "simplified": False,
        }
    if name == "priority":
        pid, pname = cat.PRIORITIES[issue.priority]
        return {"self": f"{base}/rest/api/2/priority/{pid}", "id": pid, "name": pname}
    if name == "labels":
        return list(issue.labels)
    if name == "components":
        p = cat.PROJECTS[issue.project]
        return [
            {
                "self": f"{base}/rest/api/2/component/{p.id}{p.components.index(c)}",
                "id": f"{p.id}{p.components.index(c)}",
                "name": c,
            }
            for c in issue.components
        ]
    if name == "resolution":
        res = RESOLUTIONS.get(issue.status)
        return None if res is None else {"id": res[0], "name": res[1]}
    if name == "resolutiondate":
        if issue.status not in RESOLUTIONS:
            return None
        at = _last_status_change(issue, done_only=True)
        return jira_ts(at if at is not None else issue.created, tz)
    if name == "created":
        return jira_ts(issue.created, tz)
    if name == "updated":
        return jira_ts(issue.updated, tz)
    if name == "statuscategorychangedate":
        at = _last_status_change(issue, done_only=False)
        return jira_ts(at if at is not None else issue.created, tz)
    if name == "parent":
        parent = lookup(str(issue.parent)) if issue.parent else None
        if parent is None:
            return None
        tid, _ = cat.ISSUE_TYPES[parent.itype]
        return {
            "id": str(parent.id),
            "key": parent.key,
            "self": f"{base}/rest/api/2/issue/{parent.id}",
            "fields": {
                "summary": parent.summary,
                "status": status_json(base, cat.STATUS_BY_NAME[parent.status].id),
                "issuetype": {"id": tid, "name": parent.itype},
            },
        }
    if name == "assignee":
        return user_json(base, issue.assignee, datacenter)
    if name == "reporter":
        return user_json(base, issue.reporter, datacenter)
    if name == cat.TEAM_FIELD_ID:
        from sandbox.jira_gen import current_team

        tid, tname = cat.TEAMS[current_team(issue)]
        return {"id": tid, "name": tname, "title": tname, "isShared": True}
    return None
