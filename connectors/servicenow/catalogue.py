"""The ServiceNow catalogue: state labels (`sys_choice`) and assignment groups, and when
they are due to be read again (the *catalogue* part of a sync; the reads themselves are
`fetch.TableReader._choices` / `groups`, one scan each, run with the tables' scans)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import duckdb

from connectors.state import read_state

if TYPE_CHECKING:
    from connectors.servicenow.fetch import TableFetch

SOURCE = "servicenow"


@dataclass(frozen=True)
class Catalogue:
    """What the warehouse already holds of the labels and groups, to decide whether to re-read.

    Attributes:
        choice_values: per table, the state values landed in raw.servicenow_choices.
        group_ids: the sys_ids landed in raw.servicenow_groups.
        read_at: per table, when its labels (and, for the first table, the groups) were last
            read (raw.sync_state.last_census_at, on the same clock as `now` below).
        now: the instant to age them against.
        max_age: `sync.census_days`.
    """

    choice_values: Mapping[str, frozenset[str]] = field(default_factory=dict)
    group_ids: frozenset[str] = frozenset()
    read_at: Mapping[str, datetime | None] = field(default_factory=dict)
    now: datetime | None = None
    max_age: timedelta = timedelta(days=7)

    def stale(self, table: str) -> bool:
        last = self.read_at.get(table)
        return last is None or self.now is None or self.now - last >= self.max_age


def catalogue_due(fetches: Sequence[TableFetch], catalogue: Catalogue) -> tuple[list[str], bool]:
    """(tables whose state labels to read, whether to read the groups) for this run.

    Labels of a table are due on its full sync, when never read or older than
    `sync.census_days`, or when a fetched record carries a state value the stored labels lack
    (a new state, e.g. after an upgrade). Groups likewise, aged with the first table, or when a
    fetched record names a group sys_id not landed yet. A stored catalogue that is empty (the
    table is forbidden or not served) is only retried when it is stale, not every night.
    """
    tables: list[str] = []
    for f in fetches:
        known = catalogue.choice_values.get(f.table)
        if (
            f.window.is_full
            or catalogue.stale(f.table)
            or (known and any(r.state is not None and r.state not in known for r in f.records))
        ):
            tables.append(f.table)
    groups = bool(fetches) and (
        any(f.window.is_full for f in fetches)
        or catalogue.stale(fetches[0].table)
        or bool(
            catalogue.group_ids
            and any(
                r.assignment_group_id is not None
                and r.assignment_group_id not in catalogue.group_ids
                for f in fetches
                for r in f.records
            )
        )
    )
    return tables, groups


def load_catalogue(
    con: duckdb.DuckDBPyConnection, tables: Sequence[str], max_age: timedelta, now: datetime
) -> Catalogue:
    """The labels and groups already landed, and when each table's were last read.

    `last_census_at` is written with the run clock, so it is aged against that clock (`now`).
    """
    values: dict[str, set[str]] = {}
    for table, value in con.execute(
        "select table_name, value from raw.servicenow_choices where element = 'state'"
    ).fetchall():
        values.setdefault(table, set()).add(value)
    group_ids: set[str] = {
        r[0] for r in con.execute("select sys_id from raw.servicenow_groups").fetchall()
    }
    if values or group_ids:
        # Values already landed on records were checked when they first came (a state
        # sys_choice lacks, a group the user may not read): they trigger no re-read each night.
        for table, value, group in con.execute(
            "select distinct table_name, state, assignment_group_id from raw.servicenow_records"
        ).fetchall():
            if value is not None and table in values:
                values[table].add(value)
            if group is not None and group_ids:
                group_ids.add(group)
    read_at = {t: read_state(con, SOURCE, t).get("last_census_at") for t in tables}
    return Catalogue(
        choice_values={t: frozenset(v) for t, v in values.items()},
        group_ids=frozenset(group_ids),
        read_at={t: v if isinstance(v, datetime) else None for t, v in read_at.items()},
        now=now,
        max_age=max_age,
    )
