-- core.status_intervals: one row per interval an item spent in one status: the timeline of
-- each item, tiling [created_at, as_of].
-- Interval 1 starts at created_at in the initial status (the `from` of the first transition,
-- even one after as_of; the current raw status when there is none); interval k + 1 starts at
-- transition k in its `to` status. The last interval is open (exited_at NULL) and runs to as_of.
--
-- Cost (10M transitions): no window. Each later interval's end is the next transition, read by
-- a hash join on (item_id, seq + 1); the initial interval ends at the first transition, read by
-- a join on seq = 1. (A lead() over item_id sorted the 10M rows by text: 9.4 s -> ~6 s.)
-- At 100M transitions that hash join no longer fits 8 GB and DuckDB's external join runs out
-- of memory: an item's intervals depend on its own rows only, so the runner builds the table in
-- parts of items (part `$part` of `$parts`, by hash(item_id); ubigint, as hash() returns:
-- a BIGINT parameter made it HUGEINT arithmetic, 13 s a scan at 2M). `$parts = 1 or` skips
-- the hash in the usual one-part build (without it the 1M build held ~140 MiB more).
-- parts: true
with settings as (
    select as_of from core.build_settings
),

items as (
    select 'jira:' || i.issue_key as item_id, i.issue_id as raw_id, 'jira' as source,
        'jira' as scope, i.created_at,
        coalesce(nullif(i.status_id, ''), nullif(i.status_name, '')) as current_key
    from raw.jira_issues as i, settings as s
    where i.created_at <= s.as_of
        and ($parts = 1 or hash('jira:' || i.issue_key) % $parts::ubigint = $part::ubigint)
    union all
    select 'servicenow:' || r.number, r.sys_id, 'servicenow', r.table_name,
        coalesce(r.opened_at, r.created_at, r.updated_at), nullif(r.state, '')
    from raw.servicenow_records as r, settings as s
    where coalesce(r.opened_at, r.created_at, r.updated_at) <= s.as_of
        and ($parts = 1 or hash('servicenow:' || r.number) % $parts::ubigint = $part::ubigint)
),

-- The status before the first transition up to as_of (NULL `from` falls back to its `to`).
first_transition as (
    select item_id,
        "at",
        coalesce(from_status, to_status) as status,
        case when from_status is null then to_stage else from_stage end as stage,
        case when from_status is null then to_kind else from_kind end as kind
    from core.transitions
    where seq = 1 and ($parts = 1 or hash(item_id) % $parts::ubigint = $part::ubigint)
),

-- Items with no transition up to as_of: the first later change names their status then.
later_first as (
    select 'jira' as source, c.issue_id as raw_id,
        first(coalesce(nullif(c.from_status_id, ''), nullif(c.from_status, ''),
                       nullif(c.to_status_id, ''), nullif(c.to_status, ''))
              order by c.changed_at, c.source_order, c.item_index) as status_key
    from raw.jira_status_changes as c, settings as s
    where c.changed_at > s.as_of
    group by c.issue_id
    union all
    select 'servicenow', c.record_sys_id,
        first(coalesce(nullif(c.from_value, ''), nullif(c.to_value, ''))
              order by c.changed_at, c.record_checkpoint nulls last, c.change_id)
    from raw.servicenow_state_changes as c, settings as s
    where c.changed_at > s.as_of
    group by c.record_sys_id
),

-- Interval 1 of every item: it ends at the first transition (open when there is none).
initial as (
    select
        i.item_id,
        1 as seq,
        coalesce(f.status, m.status) as status,
        coalesce(f.stage, m.stage) as stage,
        coalesce(f.kind, m.kind) as kind,
        i.created_at as entered_at,
        f."at" as exited_at
    from items as i
    left join first_transition as f on f.item_id = i.item_id
    left join later_first as l on f.item_id is null and l.source = i.source and l.raw_id = i.raw_id
    left join core.status_map as m
        on f.item_id is null
        and m.source = i.source and m.scope = i.scope
        and m.status_key = coalesce(l.status_key, i.current_key)
),

-- Interval k + 1 starts at transition k and ends at transition k + 1, found by a hash join on
-- (item_id, seq + 1) rather than lead() over item_id: the window sorted all 10M rows (with their
-- status/stage/kind text) by the text item_id, ~8 s of CPU; the join probes with no sort.
later as (
    select
        t.item_id,
        t.seq + 1 as seq,
        t.to_status as status,
        t.to_stage as stage,
        t.to_kind as kind,
        t."at" as entered_at,
        n."at" as exited_at
    from core.transitions as t
    left join (
        select item_id, seq, "at"
        from core.transitions
        where $parts = 1 or hash(item_id) % $parts::ubigint = $part::ubigint
    ) as n on n.item_id = t.item_id and n.seq = t.seq + 1
    where $parts = 1 or hash(t.item_id) % $parts::ubigint = $part::ubigint
),

timed as (
    select * from initial
    union all
    select * from later
),

final as (
    select
        t.item_id,
        t.seq,
        t.status,
        t.stage,
        t.kind,
        t.entered_at,
        t.exited_at,
        (epoch_us(coalesce(t.exited_at, s.as_of)) - epoch_us(t.entered_at)) / 86400000000.0
            as duration_days
    from timed as t, settings as s
)

select * from final
