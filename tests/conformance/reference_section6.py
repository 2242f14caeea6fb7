"""An independent, plain-Python reading of docs/contract.md §6, for conformance.

Why: the warehouse SQL for flow over time, blocked work and hand-offs is tuned for 1M items
(running sums of deltas, ASOF joins, islands). This module recomputes the same tables the slow,
obvious way, straight from the contract's words, so a test can compare every row and column.
It shares no SQL with the warehouse. Its inputs are the contract's inputs: `core.work_items`,
`core.status_intervals`, `core.transitions`, the configured stages, and for blocked stretches and
owners the landed raw field changes.

Readings of the contract this module takes (each also in docs/metrics.md):
- "before done_at" (hand-offs, blocked work) is strict: a change stamped at done_at or later is
  not counted; time is clipped at done_at.
- a blocker already done when the link is added gives a zero-length `blocked_by` stretch.
"""

from __future__ import annotations

import bisect
import json
import random
import re
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

DAY = 86400.0
ORIGIN_2WEEKS = datetime(2000, 1, 3, tzinfo=UTC)


def days(a: datetime, b: datetime) -> float:
    """Duration b - a in days (microsecond exact, like epoch_us arithmetic)."""
    delta = b - a
    return (delta.days * 86400 * 10**6 + delta.seconds * 10**6 + delta.microseconds) / 86400e6


def quantile_cont(values: list[float], q: float) -> float | None:
    """DuckDB's quantile_cont: linear interpolation between order statistics."""
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    pos = (len(vals) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(vals) - 1)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)


def _rows(con, sql: str, params=None) -> list[dict]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _utc(ts: datetime | None) -> datetime | None:
    return None if ts is None else ts.astimezone(UTC)


def period_start(ts: datetime, period: str) -> datetime:
    ts = ts.astimezone(UTC)
    midnight = datetime(ts.year, ts.month, ts.day, tzinfo=UTC)
    if period == "month":
        return datetime(ts.year, ts.month, 1, tzinfo=UTC)
    if period == "2weeks":
        n = (ts - ORIGIN_2WEEKS) // timedelta(days=14)
        return ORIGIN_2WEEKS + n * timedelta(days=14)
    return midnight - timedelta(days=midnight.weekday())


def next_period(start: datetime, period: str) -> datetime:
    if period == "month":
        return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)
    return start + timedelta(days=14 if period == "2weeks" else 7)


def union(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Disjoint union of [start, end) spans, positive-length pieces only."""
    out: list[list[datetime]] = []
    for s, e in sorted(x for x in spans if x[1] > x[0]):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


class Reference:
    """Section 6 tables recomputed from a built warehouse's core layer and raw field changes."""

    def __init__(
        self,
        con,
        as_of: datetime,
        window_days: int,
        period: str,
        jira_field: str | None = None,
        forecast: dict | None = None,
    ) -> None:
        self.con = con
        self.as_of = as_of.astimezone(UTC)
        self.window_days = window_days
        self.period = period
        self.jira_field = jira_field
        self.forecast_cfg = forecast or {
            "history_days": 56,
            "horizons_days": [14, 28, 56],
            "trials": 10000,
            "seed": 1,
        }
        self.stages = [
            r["stage"] for r in _rows(con, "select stage from core.stages order by stage_order")
        ]
        self.all_items = {r["item_id"]: r for r in _rows(con, "select * from core.work_items")}
        for r in self.all_items.values():
            for k in ("created_at", "started_at", "done_at"):
                r[k] = _utc(r[k])
        self.items = {k: v for k, v in self.all_items.items() if not v["is_deleted"]}
        self.intervals: dict[str, list[dict]] = defaultdict(list)
        for r in _rows(con, "select * from core.status_intervals order by item_id, seq"):
            r["entered_at"], r["exited_at"] = _utc(r["entered_at"]), _utc(r["exited_at"])
            self.intervals[r["item_id"]].append(r)
        self.transitions: dict[str, list[dict]] = defaultdict(list)
        for r in _rows(con, "select * from core.transitions order by item_id, seq"):
            r["at"] = _utc(r["at"])
            self.transitions[r["item_id"]].append(r)
        self.window_start = self.as_of - timedelta(days=window_days)
        self._starts: dict[str, list[datetime]] = {}
        self._leads: dict[str, list[float]] = {}

    # -- item level ------------------------------------------------------------------------
    def lead(self, i: dict) -> float | None:
        return days(i["created_at"], i["done_at"]) if i["done_at"] else None

    def in_window(self, i: dict) -> bool:
        return i["done_at"] is not None and self.window_start < i["done_at"] <= self.as_of

    def streams(self) -> list[str]:
        return sorted({i["value_stream"] for i in self.items.values()})

    def of_stream(self, vs: str) -> list[dict]:
        return [i for i in self.items.values() if vs == "all" or i["value_stream"] == vs]

    def kind_time(self, item_id: str, kind: str) -> float:
        i = self.items[item_id]
        end_cap = i["done_at"] or self.as_of
        total = 0.0
        for iv in self.intervals[item_id]:
            if iv["kind"] != kind:
                continue
            end = min(iv["exited_at"] or self.as_of, end_cap)
            if end > iv["entered_at"]:
                total += days(iv["entered_at"], end)
        return total

    def status_at(self, item_id: str, t: datetime) -> dict | None:
        """The interval of the last status entered by t (None if created after t)."""
        ivs = self.intervals[item_id]
        if item_id not in self._starts:
            self._starts[item_id] = [iv["entered_at"] for iv in ivs]
        k = bisect.bisect_right(self._starts[item_id], t)
        return ivs[k - 1] if k else None

    # -- metrics.daily_flow -----------------------------------------------------------------
    def daily_flow(self) -> dict[tuple, dict]:
        first = (self.as_of - timedelta(days=self.window_days)).date()
        last = self.as_of.date()
        day_list = []
        d = first - timedelta(days=1)
        while d <= last:
            start = datetime(d.year, d.month, d.day, tzinfo=UTC)
            end = min(start + timedelta(days=1), self.as_of)
            if self.window_start < end <= self.as_of or d == last:
                day_list.append(d)
            d += timedelta(days=1)
        entries: dict[str, dict[date, set[str]]] = {}
        for item_id in self.items:
            per_day: dict[date, set[str]] = defaultdict(set)
            for iv in self.intervals[item_id]:
                per_day[iv["entered_at"].date()].add(iv["stage"])
            entries[item_id] = per_day
        out = {}
        # every configured stream too: an empty one gets its zeros (docs/metrics.md)
        configured = [r["value_stream"] for r in _rows(self.con, "from core.value_streams")]
        for vs in sorted({*self.streams(), *configured, "all"}):
            items = self.of_stream(vs)
            for d in day_list:
                start = datetime(d.year, d.month, d.day, tzinfo=UTC)
                end = min(start + timedelta(days=1), self.as_of)
                counts = defaultdict(int)
                entered = defaultdict(set)
                for i in items:
                    if i["created_at"] <= end:
                        iv = self.status_at(i["item_id"], end)
                        if iv is not None and iv["kind"] != "dropped":
                            counts[iv["stage"]] += 1
                    for stage in entries[i["item_id"]].get(d, ()):
                        entered[stage].add(i["item_id"])
                for n, st in enumerate(self.stages, 1):
                    out[(vs, d, st)] = {
                        "stage_order": n,
                        "items": counts[st],
                        "entered": len(entered[st]),
                    }
        return out

    # -- metrics.aging_wip ------------------------------------------------------------------
    def window_leads(self, vs: str) -> list[float]:
        if vs not in self._leads:
            self._leads[vs] = [self.lead(i) for i in self.of_stream(vs) if self.in_window(i)]
        return self._leads[vs]

    def aging_wip(self) -> dict[tuple, dict]:
        out = {}
        sle = {vs: quantile_cont(self.window_leads(vs), 0.85) for vs in self.streams()}
        for i in self.items.values():
            if i["status_kind"] not in ("wait", "active"):
                continue
            ivs = self.intervals[i["item_id"]]
            age = days(i["created_at"], self.as_of)
            run_start = i["created_at"]
            for iv in reversed(ivs):
                if iv["stage"] != i["stage"]:
                    break
                run_start = iv["entered_at"]
            trs = self.transitions[i["item_id"]]
            last_tr = max(trs[-1]["at"], i["created_at"]) if trs else i["created_at"]
            leads = self.window_leads(i["value_stream"])
            s = sle[i["value_stream"]]
            out[(i["item_id"],)] = {
                "value_stream": i["value_stream"],
                "flow_type": i["flow_type"],
                "stage": i["stage"],
                "status": i["status"],
                "status_kind": i["status_kind"],
                "age_days": age,
                "stage_age_days": days(run_start, self.as_of),
                "days_since_last_transition": days(last_tr, self.as_of),
                "sle_days": s,
                "age_percentile": (sum(1 for x in leads if x <= age) / len(leads))
                if leads
                else None,
                "over_sle": None if s is None else age > s,
            }
        return out

    # -- metrics.flow_trends ----------------------------------------------------------------
    def open_at(self, i: dict, t: datetime) -> bool:
        if i["created_at"] > t:
            return False
        iv = self.status_at(i["item_id"], t)
        return iv is not None and iv["kind"] in ("wait", "active")

    def flow_trends(self) -> dict[tuple, dict]:
        out = {}
        for vs in [*self.streams(), "all"]:
            items = self.of_stream(vs)
            p = period_start(min(i["created_at"] for i in items), self.period)
            last = period_start(self.as_of, self.period)
            while p <= last:
                nxt = next_period(p, self.period)
                end = min(nxt, self.as_of)
                done = [i for i in items if i["done_at"] and p <= i["done_at"] < nxt]
                leads = [self.lead(i) for i in done]
                cycles = [days(i["started_at"], i["done_at"]) for i in done if i["started_at"]]
                proc = sum(self.kind_time(i["item_id"], "active") for i in done)
                back = sum(
                    1
                    for i in done
                    for t in self.transitions[i["item_id"]]
                    if t["direction"] == "backward"
                )
                wip = [i for i in items if self.open_at(i, end)]
                out[(vs, p)] = {
                    "items_done": len(done),
                    "lead_time_p50_days": quantile_cont(leads, 0.5),
                    "lead_time_p85_days": quantile_cont(leads, 0.85),
                    "lead_time_p95_days": quantile_cont(leads, 0.95),
                    "cycle_time_p85_days": quantile_cont(cycles, 0.85),
                    "flow_efficiency": proc / sum(leads) if sum(leads) > 0 else None,
                    "backward_moves_per_item": back / len(done) if done else None,
                    "wip_at_end": len(wip),
                    "mean_wip_age_days": (
                        sum(days(i["created_at"], end) for i in wip) / len(wip) if wip else None
                    ),
                }
                p = nxt
        return out

    # -- metrics.forecast -------------------------------------------------------------------
    def forecast_inputs(self) -> dict[str, tuple[list[int], int]]:
        h = self.forecast_cfg["history_days"]
        today = self.as_of.date()
        day_list = [today - timedelta(days=k) for k in range(h, 0, -1)]
        out = {}
        for vs in [*self.streams(), "all"]:
            items = self.of_stream(vs)
            per_day = defaultdict(int)
            for i in items:
                if i["done_at"]:
                    per_day[i["done_at"].date()] += 1
            wip = sum(
                1
                for i in items
                if i["created_at"] <= self.as_of and i["status_kind"] in ("wait", "active")
            )
            out[vs] = ([per_day[d] for d in day_list], wip)
        return out

    def forecast(self, trials: int | None = None, seed: int = 12345) -> dict[tuple, dict]:
        """An independent Monte Carlo (Python's random, not numpy): agrees within noise."""
        cfg = self.forecast_cfg
        trials = trials or cfg["trials"]
        rng = random.Random(seed)
        out = {}
        for vs, (samples, wip) in self.forecast_inputs().items():
            for h in cfg["horizons_days"]:
                totals = sorted(sum(rng.choice(samples) for _ in range(h)) for _ in range(trials))
                row = {}
                for pct in (50, 85, 95):
                    # the largest N such that >= pct % of trials reach N
                    need = -(-trials * pct // 100)
                    row[f"items_p{pct}"] = totals[trials - need]
                out[(vs, h)] = row
            row = {"wip": wip}
            if sum(samples) == 0:
                row.update({f"wip_done_days_p{p}": None for p in (50, 85, 95)})
            else:
                finish = []
                for _ in range(trials):
                    total, d = 0, 0
                    while total < wip:
                        total += rng.choice(samples)
                        d += 1
                    finish.append(d)
                finish.sort()
                for pct in (50, 85, 95):
                    row[f"wip_done_days_p{pct}"] = finish[-(-trials * pct // 100) - 1]
            out[(vs, None)] = row
        return out

    # -- core.blocked_intervals -------------------------------------------------------------
    def _jira_changes(self, match) -> dict[str, list[dict]]:
        fields = {
            r["field_id"]: r["name"] for r in _rows(self.con, "select * from raw.jira_fields")
        }
        keys = {
            r["issue_id"]: "jira:" + r["issue_key"]
            for r in _rows(self.con, "select issue_id, issue_key from raw.jira_issues")
        }
        out: dict[str, list[dict]] = defaultdict(list)
        for c in _rows(
            self.con,
            "select * from raw.jira_field_changes"
            " order by issue_id, changed_at, source_order, item_index",
        ):
            item = keys.get(c["issue_id"])
            if item not in self.all_items:
                continue
            if match(c, fields.get(c["field_id"])):
                # later entries are kept (flagged "late"): the state before the first entry
                # is known from it even when it comes after as_of; only the stretches are cut
                c["late"] = _utc(c["changed_at"]) > self.as_of
                c["changed_at"] = max(_utc(c["changed_at"]), self.all_items[item]["created_at"])
                out[item].append(c)
        return out

    def _snow_changes(self, field: str) -> tuple[dict[str, dict], dict[str, list[dict]]]:
        recs = {}
        for r in _rows(self.con, "select * from raw.servicenow_records"):
            item = "servicenow:" + r["number"]
            if item in self.all_items:
                recs[r["sys_id"]] = {**r, "item_id": item}
        out: dict[str, list[dict]] = defaultdict(list)
        for c in _rows(
            self.con,
            "select * from raw.servicenow_field_changes where field_name = ?"
            " order by changed_at, record_checkpoint, change_id",
            [field],
        ):
            r = recs.get(c["record_sys_id"])
            if r is None:
                continue
            c["late"] = _utc(c["changed_at"]) > self.as_of
            created = self.all_items[r["item_id"]]["created_at"]
            # the insert row: an empty oldvalue written when the record was created
            c["is_insert"] = (c["from_value"] or "") == "" and (
                c["record_checkpoint"] == 0
                or (r["created_at"] is not None and c["changed_at"] <= _utc(r["created_at"]))
            )
            c["changed_at"] = max(_utc(c["changed_at"]), created)
            out[r["item_id"]].append(c)
        return recs, out

    def _snow_steps(self, recs, changes, current_field) -> dict[str, list[tuple]]:
        """Per item: [(start, value)], the first at created_at (insert, oldest old, current)."""
        out = {}
        for r in recs.values():
            item = r["item_id"]
            cs = changes.get(item, [])
            inserts = [c for c in cs if c["is_insert"]]
            others = [c for c in cs if not c["is_insert"]]
            if inserts:
                first = inserts[0]["to_value"]
            elif others:
                first = others[0]["from_value"]
            else:
                first = current_field(r)
            out[item] = [(self.all_items[item]["created_at"], first)] + [
                (c["changed_at"], c["to_value"]) for c in others if not c["late"]
            ]
        return out

    def blocked_intervals(self) -> list[dict]:
        rows: list[dict] = []
        # flagged
        flags = self._jira_changes(
            lambda c, name: (
                (c["field"] or "").lower() == "flagged" or (name or "").lower() == "flagged"
            )
        )
        for item, cs in flags.items():

            def val(s, v):
                return bool((s or "") or (v or ""))

            on = val(cs[0]["from_string"], cs[0]["from_value"])
            start = self.all_items[item]["created_at"] if on else None
            for c in (c for c in cs if not c["late"]):
                now = val(c["to_string"], c["to_value"])
                if now and not on:
                    start = c["changed_at"]
                elif on and not now:
                    rows.append(self._stretch(item, "flagged", "", start, c["changed_at"]))
                on = now
            if on:
                rows.append(self._stretch(item, "flagged", "", start, None))
        # blocked_by
        done_entries: dict[str, list[tuple]] = defaultdict(list)
        for item_id, ivs in self.intervals.items():
            w = self.items.get(item_id)  # a deleted blocker is outside the warehouse
            if w and w["source"] == "jira":
                for iv in ivs:
                    if iv["kind"] == "done":
                        done_entries[w["source_key"]].append((iv["entered_at"], iv["exited_at"]))
        key_re = re.compile(r"([A-Za-z][A-Za-z0-9_]*-[0-9]+)\s*$")

        def blocker(s, v):
            if s and "is blocked by" in s.lower():
                if v:
                    return v
                m = key_re.search(s)
                return m.group(1) if m else None
            return None

        links = self._jira_changes(lambda c, name: (c["field"] or "").lower() == "link")
        for item, cs in links.items():
            cs = [c for c in cs if not c["late"]]
            open_links: dict[str, datetime] = {}
            for c in cs:
                added = blocker(c["to_string"], c["to_value"])
                removed = blocker(c["from_string"], c["from_value"])
                if added and added not in open_links:
                    open_links[added] = c["changed_at"]
                if removed and removed in open_links:
                    rows.append(
                        self._link(
                            item, removed, open_links.pop(removed), c["changed_at"], done_entries
                        )
                    )
            for key, start in open_links.items():
                rows.append(self._link(item, key, start, None, done_entries))
        # on_hold
        hold_labels = {
            r["value"]: r["label"]
            for r in _rows(
                self.con,
                "select value, label from raw.servicenow_choices"
                " where table_name = 'incident' and element = 'hold_reason'",
            )
        }
        recs, changes = self._snow_changes("hold_reason")
        recs = {k: v for k, v in recs.items() if v["table_name"] == "incident"}
        steps = self._snow_steps(recs, changes, _hold_reason)
        held = self._on_hold_statuses()
        for item, st in steps.items():
            segs = []  # (from, to, value), zero-length segments dropped (later value wins)
            for k, (t, v) in enumerate(st):
                nxt = st[k + 1][0] if k + 1 < len(st) else None
                if nxt is None or nxt > t:
                    segs.append((t, nxt, v))
            for iv in self.intervals[item]:
                if iv["status"] not in held:
                    continue
                a, b = iv["entered_at"], iv["exited_at"]
                for f, t, v in segs:
                    hi_b = b or datetime.max.replace(tzinfo=UTC)
                    hi_t = t or datetime.max.replace(tzinfo=UTC)
                    overlap = f < hi_b and hi_t > a
                    point = a == b and f <= a < hi_t
                    if overlap or point:
                        end = None if (b is None and t is None) else min(hi_b, hi_t)
                        label = hold_labels.get(v, v) if v else ""
                        rows.append(self._stretch(item, "on_hold", label or "", max(a, f), end))
        rows.sort(
            key=lambda r: (
                r["item_id"],
                r["started_at"],
                r["reason"],
                r["source_detail"],
                r["ended_at"] or datetime.max.replace(tzinfo=UTC),
            )
        )
        seq: dict[str, int] = defaultdict(int)
        for r in rows:
            seq[r["item_id"]] += 1
            r["seq"] = seq[r["item_id"]]
        return rows

    def _on_hold_statuses(self) -> set[str]:
        label = {
            r["value"]: r["label"]
            for r in _rows(
                self.con,
                "select value, label from raw.servicenow_choices"
                " where table_name = 'incident' and element = 'state'",
            )
        }
        return {label.get("3") or "On Hold"}

    def _link(self, item, key, start, removed, done_entries) -> dict:
        done = None
        for entered, exited in done_entries.get(key, []):
            if exited is None or exited > start:
                cand = max(entered, start)
                done = cand if done is None else min(done, cand)
        ends = [x for x in (removed, done) if x is not None]
        return self._stretch(item, "blocked_by", key, start, min(ends) if ends else None)

    def _stretch(self, item, reason, detail, start, end) -> dict:
        return {
            "item_id": item,
            "reason": reason,
            "source_detail": detail,
            "started_at": start,
            "ended_at": end,
            "duration_days": days(start, end or self.as_of),
        }

    # -- item_flow blocked columns and metrics.blocked_work ---------------------------------
    def item_blocked(self, blocked: list[dict]) -> dict[tuple, dict]:
        by_item = defaultdict(list)
        for b in blocked:
            by_item[b["item_id"]].append(b)
        out = {}
        for i in self.items.values():
            cap = i["done_at"] or self.as_of
            u = union(
                [
                    (max(b["started_at"], i["created_at"]), min(b["ended_at"] or self.as_of, cap))
                    for b in by_item[i["item_id"]]
                ]
            )
            total = sum(days(s, e) for s, e in u)
            active = 0.0
            for iv in self.intervals[i["item_id"]]:
                if iv["kind"] != "active":
                    continue
                a, b = iv["entered_at"], iv["exited_at"] or self.as_of
                for s, e in u:
                    lo, hi = max(a, s), min(b, e)
                    if hi > lo:
                        active += days(lo, hi)
            lead = self.lead(i)
            proc = self.kind_time(i["item_id"], "active")
            out[(i["item_id"],)] = {
                "blocked_time_days": total,
                "blocked_active_days": active,
                "flow_efficiency_net": (proc - active) / lead if lead else None,
            }
        return out

    def blocked_work(self, blocked: list[dict]) -> dict[tuple, dict]:
        by_item = defaultdict(list)
        for b in blocked:
            by_item[b["item_id"]].append(b)
        out = {}
        for vs in [*self.streams(), "all"]:
            win = [i for i in self.of_stream(vs) if self.in_window(i)]
            lead_total = sum(self.lead(i) for i in win)
            per_reason = defaultdict(list)
            for i in win:
                for reason in {b["reason"] for b in by_item[i["item_id"]]}:
                    u = union(
                        [
                            (
                                max(b["started_at"], i["created_at"]),
                                min(b["ended_at"] or self.as_of, i["done_at"]),
                            )
                            for b in by_item[i["item_id"]]
                            if b["reason"] == reason
                        ]
                    )
                    t = sum(days(s, e) for s, e in u)
                    if t > 0:
                        per_reason[reason].append(t)
            for reason, vals in per_reason.items():
                out[(vs, reason)] = {
                    "items": len(vals),
                    "total_blocked_days": sum(vals),
                    "mean_blocked_days": sum(vals) / len(vals),
                    "p85_blocked_days": quantile_cont(vals, 0.85),
                    "share_of_lead_time": sum(vals) / lead_total if lead_total > 0 else None,
                }
        return out

    # -- core.assignments and metrics.handoffs ----------------------------------------------
    def assignments(self) -> list[dict]:
        groups = {
            r["sys_id"]: r["name"] for r in _rows(self.con, "select * from raw.servicenow_groups")
        }
        recs, changes = self._snow_changes("assignment_group")
        steps = self._snow_steps(recs, changes, lambda r: r["assignment_group_id"])
        names = {
            r["item_id"]: (r["assignment_group_id"], r["assignment_group_name"])
            for r in recs.values()
        }

        def name(item, v):
            if not v:
                return None
            if groups.get(v):
                return groups[v]
            cur_id, cur_name = names[item]
            return cur_name if (v == cur_id and cur_name) else v

        per_item = {item: [(t, name(item, v)) for t, v in st] for item, st in steps.items()}
        if self.jira_field:
            want = self.jira_field.lower()
            fields = {
                r["field_id"]: r["name"] for r in _rows(self.con, "select * from raw.jira_fields")
            }
            ids = [f for f, n in fields.items() if n.lower() == want or f.lower() == want]
            chg = self._jira_changes(
                lambda c, nm: (c["field"] or "").lower() == want or (c["field_id"] or "") in ids
            )
            for r in _rows(self.con, "select issue_key, payload from raw.jira_issues"):
                item = "jira:" + r["issue_key"]
                if item not in self.all_items:
                    continue
                cs = chg.get(item, [])

                def owner(s, v):
                    return (s or None) or (v or None)

                if cs:
                    first = owner(cs[0]["from_string"], cs[0]["from_value"])
                else:
                    payload = json.loads(r["payload"])
                    first = None
                    for f in sorted(ids):
                        v = payload.get("fields", {}).get(f)
                        if isinstance(v, dict):
                            v = v.get("name") or v.get("value") or v.get("title")
                        if v:
                            first = v
                            break
                per_item[item] = [(self.all_items[item]["created_at"], first)] + [
                    (c["changed_at"], owner(c["to_string"], c["to_value"]))
                    for c in cs
                    if not c["late"]
                ]
        rows = []
        for item, st in per_item.items():
            for k, (t, v) in enumerate(st):
                end = st[k + 1][0] if k + 1 < len(st) else None
                rows.append(
                    {
                        "item_id": item,
                        "seq": k + 1,
                        "owner": v or None,
                        "started_at": t,
                        "ended_at": end,
                        "duration_days": days(t, end or self.as_of),
                    }
                )
        return rows

    def handoffs(self, assignments: list[dict]) -> dict[tuple, dict]:
        by_item = defaultdict(list)
        for a in assignments:
            by_item[a["item_id"]].append(a)
        out = {}
        for vs in [*self.streams(), "all"]:
            owner_days = defaultdict(dict)  # owner -> item -> days
            handoffs_in = defaultdict(int)
            per_item_reassign = []
            for i in self.of_stream(vs):
                if not self.in_window(i):
                    continue
                # stretches before done_at: the first (at created_at) and changes before done_at
                st = [
                    a
                    for a in sorted(by_item[i["item_id"]], key=lambda a: a["seq"])
                    if a["seq"] == 1 or a["started_at"] < i["done_at"]
                ]
                if not any(a["owner"] for a in st):
                    continue
                n = 0
                for k, a in enumerate(st):
                    end = min(a["ended_at"] or self.as_of, i["done_at"])
                    if k + 1 < len(st):
                        end = min(end, st[k + 1]["started_at"])
                    if a["owner"]:
                        d = owner_days[a["owner"]]
                        d[i["item_id"]] = d.get(i["item_id"], 0.0) + max(
                            0.0, days(a["started_at"], end)
                        )
                    if (
                        k > 0
                        and a["owner"]
                        and st[k - 1]["owner"]
                        and a["owner"] != st[k - 1]["owner"]
                    ):
                        handoffs_in[a["owner"]] += 1
                        n += 1
                per_item_reassign.append(n)
            for owner, d in owner_days.items():
                out[(vs, owner)] = {
                    "items": len(d),
                    "total_days": sum(d.values()),
                    "mean_days": sum(d.values()) / len(d),
                    "handoffs_in": handoffs_in[owner],
                }
            if per_item_reassign:
                n = len(per_item_reassign)
                out[(vs, None)] = {
                    "items": n,
                    "reassignments_per_item": sum(per_item_reassign) / n,
                    "first_owner_resolution_rate": sum(1 for x in per_item_reassign if x == 0) / n,
                }
        return out


def agreement(got: dict[tuple, dict], want: dict[tuple, dict], tol: float = 1e-9) -> dict:
    """Rows and cells of a SQL table (keyed like the reference) that agree with the reference."""
    shared = set(got) & set(want)
    cells = bad = 0
    examples = []
    for key in shared:
        for col, value in want[key].items():
            cells += 1
            g = got[key][col]
            if isinstance(g, float) or isinstance(value, float):
                ok = (g is None) == (value is None) and (
                    g is None or abs(g - value) <= tol * max(1.0, abs(value))
                )
            else:
                ok = g == value
            if not ok:
                bad += 1
                if len(examples) < 3:
                    examples.append((key, col, g, value))
    return {
        "rows_sql": len(got),
        "rows_ref": len(want),
        "rows_missing": len(set(want) - shared),
        "rows_extra": len(set(got) - shared),
        "cells": cells,
        "cells_differ": bad,
        "examples": examples,
    }


def _hold_reason(record: dict) -> str:
    payload = record["payload"]
    payload = json.loads(payload) if isinstance(payload, str) else payload
    value = payload.get("hold_reason")
    if isinstance(value, dict):
        value = value.get("value")
    return value or ""


def first_day(as_of: datetime, window_days: int) -> date:
    return (as_of - timedelta(days=window_days)).date()
