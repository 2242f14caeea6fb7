"""Asset checks: the numbers are published only when the timeline they come from is sound.

Blocking (ERROR) where a failure would publish wrong numbers: unique ids, intervals that tile,
no negative durations. Warnings where a person should look but the numbers stand: statuses that
fell back to defaults, stale syncs, quarantined records, approximate history, missed targets.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from pipelines.resources import FlowConfigResource, WarehouseResource
from warehouse import registry
from warehouse.build import run_check
from warehouse.raw_schema import duplicate_keys

#: A sync older than this is stale (nightly schedule plus a day of slack).
FRESHNESS_HOURS = 36
_SAMPLE = 20


def _query(
    flow_config: FlowConfigResource, warehouse: WarehouseResource, *statements: str
) -> list[tuple[list[tuple], list[str]]]:
    """Run read-only statements against the warehouse: (rows, column names) for each."""
    cfg = flow_config.load()
    out = []
    with warehouse.connect(cfg, read_only=True) as con:
        for sql in statements:
            cur = con.execute(sql)
            out.append((cur.fetchall(), [d[0] for d in cur.description]))
    return out


def _rows_md(rows: list[tuple], columns: list[str] | None = None) -> dg.MetadataValue:
    lines = []
    if columns:
        lines.append("| " + " | ".join(columns) + " |")
        lines.append("|" + "---|" * len(columns))
    lines += [
        "| " + " | ".join("" if v is None else str(v) for v in r) + " |" for r in rows[:_SAMPLE]
    ]
    return dg.MetadataValue.md("\n".join(lines) if lines else "_none_")


def _warn_on_rows(
    flow_config: FlowConfigResource,
    warehouse: WarehouseResource,
    sql: str,
    *,
    count: str,
    sample: str,
) -> dg.AssetCheckResult:
    """The shape of the Python warnings that list what a person should look at: any row
    fails the check; metadata `count` is how many rows, `sample` a table of them."""
    ((rows, columns),) = _query(flow_config, warehouse, sql)
    return dg.AssetCheckResult(
        passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={count: dg.MetadataValue.int(len(rows)), sample: _rows_md(rows, columns)},
    )


_BUILD_ORDER = [m.key for m in registry.models()]


def check_targets(name: str) -> tuple[dg.AssetKey, list[dg.AssetKey]]:
    """The asset a SQL check is attached to (its `-- attach:` line, else the last table it
    reads in build order) and the other tables it reads, which must be built first."""
    spec = _check_spec(name)
    ordered = [ref for ref in _BUILD_ORDER if ref in spec.reads]
    if spec.attach is not None:
        ordered = [ref for ref in ordered if ref != spec.attach] + [spec.attach]
    if not ordered:
        raise ValueError(f"check {name} reads no core or metrics table")
    *before, last = ordered
    return dg.AssetKey(list(last)), [dg.AssetKey(list(ref)) for ref in before]


def _check_spec(name: str) -> registry.Check:
    for spec in registry.checks():
        if spec.name == name:
            return spec
    raise ValueError(f"unknown check {name!r}")


def _sql_check(spec: registry.Check) -> dg.AssetChecksDefinition:
    """One Dagster check per `warehouse/checks/*.sql` file: offending rows fail it."""
    asset, others = check_targets(spec.name)

    @dg.asset_check(
        asset=asset,
        name=spec.check_name,
        description=spec.description,
        blocking=spec.blocking,
        additional_deps=others,
    )
    def _check(
        flow_config: FlowConfigResource, warehouse: WarehouseResource
    ) -> dg.AssetCheckResult:
        cfg = flow_config.load()
        with warehouse.connect(cfg, read_only=True) as con:
            bad = run_check(con, spec.name)
        return dg.AssetCheckResult(
            passed=not bad,
            severity=dg.AssetCheckSeverity.ERROR if spec.blocking else dg.AssetCheckSeverity.WARN,
            metadata={"offending_rows": dg.MetadataValue.int(len(bad)), "sample": _rows_md(bad)},
        )

    return _check


SQL_CHECKS = [_sql_check(spec) for spec in registry.checks()]


@dg.asset_check(
    asset=dg.AssetKey(["core", "unmapped_statuses"]),
    name="statuses_use_defaults",
    description=(
        "Statuses that fell back to the default mapping (docs/contract.md §2.1): "
        "configure them in flow.yaml."
    ),
)
def statuses_use_defaults(
    flow_config: FlowConfigResource, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    return _warn_on_rows(
        flow_config,
        warehouse,
        "select source, scope, status, kind, stage, items from core.unmapped_statuses"
        " order by items desc, source, scope, status",
        count="defaulted_statuses",
        sample="statuses",
    )


@dg.asset_check(
    asset=dg.AssetKey(["core", "work_items"]),
    name="history_complete",
    description=(
        "Changelog completeness: each item's last recorded transition ends in its current "
        "status (a missing tail of history would misplace every later interval)."
    ),
    blocking=False,
)
def history_complete(
    flow_config: FlowConfigResource, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    (rows, _), (approximate, _) = _query(
        flow_config,
        warehouse,
        """
            with last_change as (
                select issue_id, arg_max(to_status_id, (changed_at, source_order)) as to_id
                from raw.jira_status_changes group by issue_id
            )
            select 'jira' as source, i.issue_key, i.status_id, l.to_id
            from raw.jira_issues i join last_change l using (issue_id)
            where not i.is_deleted and l.to_id is distinct from i.status_id
            union all
            select 'servicenow', r.number, r.state, l.to_value
            from raw.servicenow_records r join (
                select record_sys_id, arg_max(to_value, (changed_at, record_checkpoint, change_id)) as to_value
                from raw.servicenow_state_changes group by record_sys_id
            ) l on l.record_sys_id = r.sys_id
            where not r.is_deleted and l.to_value is distinct from r.state
        """,
        "select source, stream, history_approximate_since from raw.sync_state"
        " where history_approximate_since is not null",
    )
    return dg.AssetCheckResult(
        passed=not rows and not approximate,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "items_with_incomplete_history": dg.MetadataValue.int(len(rows)),
            "sample": _rows_md(rows, ["source", "key", "current", "last_transition_to"]),
            "history_approximate_since": _rows_md(approximate, ["source", "stream", "since"]),
        },
    )


@dg.asset_check(
    asset=dg.AssetKey(["core", "work_items"]),
    name="sync_fresh",
    description=f"Every configured source synced successfully within the last {FRESHNESS_HOURS} h.",
)
def sync_fresh(
    flow_config: FlowConfigResource, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    (rows, _), (((quarantined,),), _) = _query(
        flow_config,
        warehouse,
        "select source, stream, last_success_at from raw.sync_state order by source, stream",
        "select count(*) from raw.quarantine",
    )
    now = datetime.now(UTC)
    stale = [r for r in rows if r[2] is None or now - r[2] > timedelta(hours=FRESHNESS_HOURS)]
    return dg.AssetCheckResult(
        passed=bool(rows) and not stale,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "streams": _rows_md(rows, ["source", "stream", "last_success_at"]),
            "stale_streams": dg.MetadataValue.int(len(stale)),
            "quarantined_records": dg.MetadataValue.int(int(quarantined)),
        },
    )


@dg.asset_check(
    asset=dg.AssetKey(["metrics", "scorecard"]),
    name="targets_met",
    description="The target condition: warns on every target a value stream misses.",
)
def targets_met(
    flow_config: FlowConfigResource, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    return _warn_on_rows(
        flow_config,
        warehouse,
        "select value_stream, target, target_value, actual_value, gap from metrics.scorecard"
        " where not coalesce(met, false) order by value_stream, target",
        count="missed",
        sample="targets_missed",
    )


@dg.asset_check(
    asset=dg.AssetKey(["core", "work_items"]),
    name="no_quarantined_records",
    description="Records the connectors could not land (raw.quarantine), with the reason.",
)
def no_quarantined_records(
    flow_config: FlowConfigResource, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    (rows, columns), (((total,),), _) = _query(
        flow_config,
        warehouse,
        "select source, stream, record_key, reason, seen_at from raw.quarantine"
        " order by seen_at desc limit 50",
        "select count(*) from raw.quarantine",
    )
    return dg.AssetCheckResult(
        passed=total == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "quarantined": dg.MetadataValue.int(int(total)),
            "latest": _rows_md(rows, columns),
        },
    )


@dg.asset_check(
    asset=dg.AssetKey(["core", "work_items"]),
    name="matches_source",
    description=(
        "Incremental equals full: the items in core (not deleted, created before the last "
        "sync's scope end) are as many as the source itself counted in scope at that sync, "
        "less those quarantined -- what a full re-sync would hold. JIRA: the id census, else "
        "the scope count of issues also last updated before the scope end (approximate on "
        "Cloud, exact on Data Center)."
    ),
    blocking=False,
)
def matches_source(
    flow_config: FlowConfigResource, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    ((rows, columns),) = _query(
        flow_config,
        warehouse,
        """
            with latest as (
                select * from raw.source_counts
            )
            select l.source, l.stream, l.scope_end, l.source_count, l.counted_by,
                l.quarantined_absent,
                (select count(*) from core.work_items as w
                 where w.source = l.source and not w.is_deleted
                     and w.created_at < l.scope_end
                     -- a count (not the census) covers issues updated before scope_end too
                     and (l.counted_by = 'census' or w.updated_at < l.scope_end)) as in_core,
                (select as_of from core.build_settings) >= l.scope_end as comparable
            from latest as l
            order by l.source, l.stream
        """,
    )
    compared = [r for r in rows if r[7]]
    off = [r for r in compared if r[6] + r[5] != r[3]]
    return dg.AssetCheckResult(
        passed=not off,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "streams_compared": dg.MetadataValue.int(len(compared)),
            "streams_off": dg.MetadataValue.int(len(off)),
            "counts": _rows_md(rows, columns),
        },
    )


@dg.asset_check(
    asset=dg.AssetKey(["core", "work_items"]),
    name="raw_keys_unique",
    description=(
        "Each record and history row is held once in raw (the big raw tables carry no "
        "primary-key index, to keep a sync's memory flat; the landing keeps their keys and "
        "this proves it): two versions of a record would count an item or a transition twice."
    ),
    blocking=True,
)
def raw_keys_unique(
    flow_config: FlowConfigResource, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    cfg = flow_config.load()
    with warehouse.connect(cfg, read_only=True) as con:
        rows = duplicate_keys(con, limit=_SAMPLE)
    return dg.AssetCheckResult(
        passed=not rows,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "duplicate_keys_shown": dg.MetadataValue.int(len(rows)),  # at most _SAMPLE
            "sample": _rows_md(rows, ["table", "key", "copies"]),
        },
    )


ASSET_CHECKS = [
    *SQL_CHECKS,
    statuses_use_defaults,
    history_complete,
    sync_fresh,
    targets_met,
    no_quarantined_records,
    matches_source,
    raw_keys_unique,
]
