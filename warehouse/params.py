"""Parameter tables that the core and metrics SQL join on.

Why tables: values never enter SQL text (no f-strings), every SQL file stays one plain SELECT
that can be read and run by hand, and the mapping decisions are inspectable in the warehouse.
The status mapping is decided here, once per distinct raw status, by `models.mapping` ("one
mapping, used everywhere"); the SQL only joins on the answers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb

from models.config import FlowConfig
from models.mapping import (
    DEBT_REGEX,
    RISK_TYPES,
    resolve_jira_status,
    resolve_servicenow_state,
)
from warehouse.db import transaction

#: Targets whose actual must stay at or below the target; all others are minimums.
MAX_TARGETS = frozenset({"lead_time_p95_days", "unplanned_ratio_max"})

_DDL = """
create or replace table core.build_settings (
    as_of timestamptz not null, window_days integer not null, window_start timestamptz not null,
    period varchar not null, done_stage varchar not null, built_at timestamptz not null,
    debt_regex varchar not null, risk_types varchar[] not null, lead_time_target_days double);
create or replace table core.stages (stage varchar primary key, stage_order integer not null);
create or replace table core.value_streams (value_stream varchar primary key,
    stream_order integer not null);
create or replace table core.status_map (
    source varchar not null, scope varchar not null, status_key varchar not null,
    status varchar, stage varchar not null, stage_order integer not null, kind varchar not null,
    category varchar, is_default boolean not null, primary key (source, scope, status_key));
create or replace table core.value_stream_rules (
    rule_order integer not null, value_stream varchar not null, source varchar not null,
    projects varchar[] not null, components varchar[] not null, labels varchar[] not null,
    assignment_groups varchar[] not null, tables varchar[] not null);
create or replace table core.flow_type_rules (
    rule_order integer not null, flow_type varchar not null, source varchar not null,
    issue_types varchar[] not null, labels varchar[] not null, components varchar[] not null,
    priorities varchar[] not null, tables varchar[] not null, categories varchar[] not null);
create or replace table core.targets (target varchar primary key, target_value double not null,
    direction varchar not null);
create or replace table core.forecast_settings (history_days integer not null,
    horizons_days integer[] not null, trials integer not null, seed bigint not null);
create or replace table core.handoff_settings (jira_field varchar);
create or replace table core.link_settings (change_request_fields varchar[] not null,
    search_text boolean not null);
"""

# Every JIRA status the raw layer knows: the catalogue first, then names recorded on issues and
# in history (a status deleted from the catalogue still shows under its last recorded name).
_JIRA_SEEN = """
with seen as (
    select status_id as id, name, category_key as category, 1 as pri, synced_at as seen_at
    from raw.jira_statuses
    union all
    select status_id, status_name, status_category, 2, max(updated_at)
    from raw.jira_issues group by all
    union all
    select from_status_id, from_status, null, 3, max(changed_at)
    from raw.jira_status_changes group by all
    union all
    select to_status_id, to_status, null, 3, max(changed_at)
    from raw.jira_status_changes group by all
),
keyed as (
    select coalesce(nullif(id, ''), name) as status_key, nullif(id, '') as id, name,
        case when category in ('new', 'indeterminate', 'done') then category end as category,
        pri, seen_at
    from seen
    where coalesce(nullif(id, ''), name) is not null
)
select status_key, any_value(id) as id,
    first(name order by pri, seen_at desc nulls last) as name,
    first(category order by pri, seen_at desc nulls last) filter (where category is not null)
from keyed group by status_key order by status_key
"""

_SERVICENOW_SEEN = """
with seen as (
    select table_name, state as value from raw.servicenow_records
    union select table_name, from_value from raw.servicenow_state_changes
    union select table_name, to_value from raw.servicenow_state_changes
    union select table_name, value from raw.servicenow_choices where element = 'state'
)
select s.table_name, s.value, c.label
from seen as s
left join raw.servicenow_choices as c
    on c.table_name = s.table_name and c.element = 'state' and c.value = s.value
where nullif(s.value, '') is not null
order by 1, 2
"""


def _lower(values: list[str]) -> list[str]:
    return [v.casefold() for v in values]


def status_map_rows(con: duckdb.DuckDBPyConnection, cfg: FlowConfig) -> list[tuple]:
    """One row per distinct raw status with the mapping's answer (one Python call each)."""
    rows: list[tuple] = []
    for key, _id, name, category in con.execute(_JIRA_SEEN).fetchall():
        res = resolve_jira_status(cfg, _id, name or key, category)
        rows.append(
            (
                "jira",
                "jira",
                key,
                name or key,
                res.stage,
                cfg.stage_order(res.stage),
                res.kind.value,
                category,
                res.is_default,
            )
        )
    for table, value, label in con.execute(_SERVICENOW_SEEN).fetchall():
        res = resolve_servicenow_state(cfg, table, value, label)
        rows.append(
            (
                "servicenow",
                table,
                value,
                label or value,
                res.stage,
                cfg.stage_order(res.stage),
                res.kind.value,
                res.category.value if res.category else None,
                res.is_default,
            )
        )
    return rows


def _value_stream_rows(cfg: FlowConfig) -> list[tuple]:
    rows: list[tuple] = []
    for order, vs in enumerate(cfg.value_streams, start=1):
        if vs.jira is not None:
            j = vs.jira
            rows.append(
                (
                    order,
                    vs.name,
                    "jira",
                    _lower(j.projects),
                    _lower(j.components),
                    _lower(j.labels),
                    [],
                    [],
                )
            )
        if vs.servicenow is not None:
            s = vs.servicenow
            rows.append(
                (
                    order,
                    vs.name,
                    "servicenow",
                    [],
                    [],
                    [],
                    _lower(s.assignment_groups),
                    _lower(s.tables),
                )
            )
    return rows


def _flow_type_rows(cfg: FlowConfig) -> list[tuple]:
    rows: list[tuple] = []
    for order, rule in enumerate(cfg.flow_types, start=1):
        if rule.jira is not None:
            j = rule.jira
            rows.append(
                (
                    order,
                    rule.type.value,
                    "jira",
                    _lower(j.issue_types),
                    _lower(j.labels),
                    _lower(j.components),
                    _lower(j.priorities),
                    [],
                    [],
                )
            )
        if rule.servicenow is not None:
            s = rule.servicenow
            rows.append(
                (
                    order,
                    rule.type.value,
                    "servicenow",
                    [],
                    [],
                    [],
                    _lower(s.priorities),
                    _lower(s.tables),
                    _lower(s.categories),
                )
            )
    return rows


def write_build_params(con: duckdb.DuckDBPyConnection, cfg: FlowConfig, as_of: datetime) -> None:
    """(Re)create every `core` parameter table for one build, in one transaction.

    Args:
        con: a bootstrapped warehouse connection.
        cfg: the validated config.
        as_of: the instant the build describes; naive values are read as UTC.
    """
    as_of = as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of.astimezone(UTC)
    targets = cfg.targets.configured()
    status_rows = status_map_rows(con, cfg)
    with transaction(con):
        for statement in _DDL.split(";"):
            if statement.strip():
                con.execute(statement)
        con.execute(
            "insert into core.build_settings values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                as_of,
                cfg.window_days,
                as_of - timedelta(days=cfg.window_days),
                cfg.period,
                cfg.done_stage,
                datetime.now(UTC),
                DEBT_REGEX,
                list(RISK_TYPES),
                targets.get("lead_time_p95_days"),
            ],
        )
        con.executemany(
            "insert into core.stages values (?, ?)",
            [(s, i) for i, s in enumerate(cfg.stages, start=1)],
        )
        vs_names = [(vs.name, i) for i, vs in enumerate(cfg.value_streams, start=1)]
        if vs_names:
            con.executemany("insert into core.value_streams values (?, ?)", vs_names)
        if status_rows:
            con.executemany(
                "insert into core.status_map values (?, ?, ?, ?, ?, ?, ?, ?, ?)", status_rows
            )
        vs_rows = _value_stream_rows(cfg)
        if vs_rows:
            con.executemany(
                "insert into core.value_stream_rules values (?, ?, ?, ?, ?, ?, ?, ?)", vs_rows
            )
        ft_rows = _flow_type_rows(cfg)
        if ft_rows:
            con.executemany(
                "insert into core.flow_type_rules values (?, ?, ?, ?, ?, ?, ?, ?, ?)", ft_rows
            )
        fc = cfg.forecast
        con.execute(
            "insert into core.forecast_settings values (?, ?, ?, ?)",
            [fc.history_days, list(fc.horizons_days), fc.trials, fc.seed],
        )
        # docs/contract.md §6 hand-offs: the JIRA owner field (NULL: no JIRA rows in core.assignments).
        con.execute("insert into core.handoff_settings values (?)", [cfg.handoffs.jira_field])
        if targets:
            con.executemany(
                "insert into core.targets values (?, ?, ?)",
                [(k, v, "max" if k in MAX_TARGETS else "min") for k, v in targets.items()],
            )
        con.execute(
            "insert into core.link_settings values (?, ?)",
            [list(cfg.links.change_request_fields), cfg.links.search_text],
        )
