"""Encoded-query builders for the Table API: pure functions, tested as exact strings.

Why by hand rather than `pysnow.QueryBuilder`: the keyset condition needs `^NQ` (a new OR
group), which the builder cannot express, and `QueryBuilder.between` emits `gs.dateGenerate`
in the caller's time zone (docs/api-facts.md §2.5). Literals here are always UTC
`YYYY-MM-DD HH:MM:SS`, the form the instance reads as UTC (docs/api-facts.md §3).

The instance silently drops any part of a query it cannot read (docs/api-facts.md §2.1), so every
value that goes in is checked: a stray `^` in a value would start a new condition.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime

from connectors.result import SourceError

#: Keyset position: (order-field value as returned by the instance, sys_id).
Cursor = tuple[str, str]

#: Operators that would let the configured scope escape the AND chain the sync builds.
_WIDENING = ("^OR", "^NQ", "^EQ", "^RLQUERY")
_SAFE_VALUE = re.compile(r"^[^\^\n\r]*$")
_SYS_ID = re.compile(r"^[0-9A-Za-z_\-]+$")

#: Default budget for a documentkeyIN list: URLs beyond ~8 KB are refused by proxies and the
#: instance's servlet container; the rest of the query and the other params stay well below.
DEFAULT_KEYS_BUDGET = 4000


class UnsafeQueryError(SourceError):
    """The configured `sources.servicenow.query` could widen the sync's own filter."""


def snow_datetime(value: datetime) -> str:
    """A UTC literal `YYYY-MM-DD HH:MM:SS` (whole seconds, floored) for an aware datetime."""
    if value.tzinfo is None:
        raise ValueError("ServiceNow query bounds must be timezone-aware datetimes")
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def validate_scope(scope: str | None) -> str:
    """The configured scope as one AND-able chunk, or '' when empty.

    Raises:
        UnsafeQueryError: the scope contains `^OR`, `^NQ`, `^EQ`, `^RLQUERY` or starts with
            `OR`/`NQ`/`ORDERBY`: appended to the sync's window it would OR a condition with the
            window (or end the query early) and could turn an incremental read into a full
            table scan, or break the keyset order.
    """
    text = (scope or "").strip().strip("^")
    if not text:
        return ""
    probe = "^" + text
    for marker in _WIDENING:
        at = probe.find(marker)
        if at >= 0:
            raise UnsafeQueryError(
                f"sources.servicenow.query {text!r} contains {marker!r} at position "
                f"{max(at - 1, 0)}: the scope is AND-ed into every query the sync sends, and "
                f"{marker!r} would OR a condition into (or cut off) the sync's own time window "
                "and keyset, widening it up to the whole table; ORDERBY would break the keyset "
                "order. Use AND-only conditions, e.g. 'priorityIN1,2' instead of "
                "'priority=1^ORpriority=2'."
            )
    if "\n" in text or "\r" in text:
        raise UnsafeQueryError("sources.servicenow.query must be a single line")
    return text


def keyset_query(
    order_field: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    filters: Sequence[str] = (),
    after: Cursor | None = None,
) -> str:
    """Window + filters, then the compound keyset condition on (order_field, sys_id).

    `start`/`end` bound `order_field` to `[start, end)`. With `after`, the query reads
    `(window AND filters AND f > last) OR (window AND filters AND f = last AND sys_id > id)`:
    the window and filters are carried into both OR groups, since `^NQ` starts a fresh group
    that would otherwise see no window at all. Ties on whole-second timestamps are broken by
    sys_id, so no row is skipped or read twice.
    """
    base: list[str] = []
    if start is not None:
        base.append(f"{order_field}>={snow_datetime(start)}")
    if end is not None:
        base.append(f"{order_field}<{snow_datetime(end)}")
    base.extend(f for f in filters if f)
    order = f"ORDERBY{order_field}^ORDERBYsys_id"
    if after is None:
        return "^".join([*base, order])
    last, last_id = _checked_value(after[0]), _checked_sys_id(after[1])
    first = "^".join([*base, f"{order_field}>{last}"])
    second = "^".join([*base, f"{order_field}={last}", f"sys_id>{last_id}"])
    return f"{first}^NQ{second}^{order}"


def sys_id_query(filters: Sequence[str] = (), after: str | None = None) -> str:
    """Keyset on sys_id alone, for small catalogues (sys_choice, sys_user_group, metrics)."""
    parts = [f for f in filters if f]
    if after is not None:
        parts.append(f"sys_id>{_checked_sys_id(after)}")
    parts.append("ORDERBYsys_id")
    return "^".join(parts)


def records_query(
    start: datetime | None, end: datetime, scope: str = "", after: Cursor | None = None
) -> str:
    """Records of one table updated in `[start, end)`, scoped, keyset-paged."""
    return keyset_query("sys_updated_on", start=start, end=end, filters=[scope], after=after)


def _tables_filter(table: str | Sequence[str]) -> str:
    """`tablename=t` for one table, `tablenameINa,b` for several (one scan for all)."""
    names = [table] if isinstance(table, str) else list(table)
    if not names:
        raise ValueError("at least one table name is needed")
    if len(names) == 1:
        return f"tablename={_checked_value(names[0])}"
    return f"tablenameIN{','.join(_checked_sys_id(n) for n in names)}"


def audit_query(
    table: str | Sequence[str],
    fieldname: str | Sequence[str],
    documentkeys: Sequence[str] | None,
    start: datetime | None,
    end: datetime,
    after: Cursor | None = None,
) -> str:
    """sys_audit rows of the named fields of these records: `state` (not also
    `incident_state`), and with several names one scan for all (`fieldnameINstate,hold_reason,
    assignment_group`: docs/contract.md §6 reads them in the same pass, no extra request per record).

    `documentkeys=None` reads the whole window of the table(s) as one keyset scan (docs/api-facts.md
    §2.4: `tablename` + `fieldname` + a `sys_created_on` window), the cheap way to read the
    history of many records; a list restricts it to those records (`documentkeyIN`).
    """
    names = [fieldname] if isinstance(fieldname, str) else list(fieldname)
    field_filter = (
        f"fieldname={_checked_value(names[0])}"
        if len(names) == 1
        else f"fieldnameIN{','.join(_checked_sys_id(n) for n in names)}"
    )
    filters = [_tables_filter(table), field_filter]
    if documentkeys is not None:
        filters.append(f"documentkeyIN{','.join(_checked_sys_id(k) for k in documentkeys)}")
    return keyset_query("sys_created_on", start=start, end=end, filters=filters, after=after)


def audit_delete_query(
    table: str | Sequence[str],
    start: datetime | None,
    end: datetime,
    after: Cursor | None = None,
) -> str:
    """sys_audit_delete rows (deleted records) of one or several tables in the window."""
    return keyset_query(
        "sys_created_on",
        start=start,
        end=end,
        filters=[_tables_filter(table)],
        after=after,
    )


def choices_query(
    table: str | Sequence[str],
    element: str | Sequence[str] = "state",
    after: str | None = None,
) -> str:
    """sys_choice labels of one field or several (`elementINstate,hold_reason`; inactive ones
    too: old records still carry them), for one table (`name=t`) or several in one scan
    (`nameINa,b`)."""
    names = [table] if isinstance(table, str) else list(table)
    if len(names) == 1:
        name = f"name={_checked_value(names[0])}"
    else:
        name = f"nameIN{','.join(_checked_sys_id(n) for n in names)}"
    elements = [element] if isinstance(element, str) else list(element)
    element_filter = (
        f"element={_checked_value(elements[0])}"
        if len(elements) == 1
        else f"elementIN{','.join(_checked_sys_id(e) for e in elements)}"
    )
    return sys_id_query([name, element_filter], after)


def metric_query(
    table: str, documentkeys: Sequence[str], field: str = "state", after: str | None = None
) -> str:
    """metric_instance rows of the state-duration metric for these records."""
    return sys_id_query(
        [
            f"table={_checked_value(table)}",
            f"field={_checked_value(field)}",
            f"idIN{','.join(_checked_sys_id(k) for k in documentkeys)}",
        ],
        after,
    )


def batch_keys(keys: Iterable[str], budget: int = DEFAULT_KEYS_BUDGET) -> Iterator[list[str]]:
    """Split sys_ids into lists whose comma-joined length stays within `budget` characters."""
    batch: list[str] = []
    size = 0
    for key in keys:
        cost = len(key) + (1 if batch else 0)
        if batch and size + cost > budget:
            yield batch
            batch, size = [], 0
            cost = len(key)
        batch.append(key)
        size += cost
    if batch:
        yield batch


def _checked_value(value: str) -> str:
    if not _SAFE_VALUE.match(value):
        raise UnsafeQueryError(f"refusing to put {value!r} into an encoded query ('^' in a value)")
    return value


def _checked_sys_id(value: str) -> str:
    if not _SYS_ID.match(value):
        raise UnsafeQueryError(f"refusing to put {value!r} into an encoded query as a sys_id")
    return value
