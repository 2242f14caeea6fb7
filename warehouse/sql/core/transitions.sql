-- core.transitions: one row per status change up to as_of, in time order per item.
-- A change stamped before the item's created_at counts at created_at (clock skew); ties keep
-- the source's order (JIRA source_order; ServiceNow record_checkpoint, then change_id).
-- A change with no `from` is not a transition (docs/contract.md §4): on ServiceNow instances that audit
-- inserts, sys_audit records each creation as a row with an empty `oldvalue` whose `newvalue`
-- is the initial state. raw keeps those rows as read (raw stays faithful to the source); they
-- are left out here, so no transition has a NULL from_status, and status_intervals still starts
-- interval 1 at created_at in the initial state (the `from` of the first real transition).
--
-- Cost (10M changes): the one sort is the window that numbers each item's changes. It is kept
-- narrow on purpose: it partitions on a BIGINT item number (the raw table's rowid, interleaved
-- by source) instead of the text item_id, and carries status_map row numbers instead of status,
-- stage and kind names; the text columns are joined back after it, on integer keys.
-- At 100M changes that window no longer fits a 2-8 GB memory limit and spills (4 min): each
-- item's rows depend on its own changes only, so the runner builds the table in parts of items
-- (part `$part` of `$parts`, by the raw table's rowid), one INSERT each inside one transaction
-- (warehouse.runner.build_parts; one part below ~12M changes per 2 GB).
-- parts: true
with settings as (
    select as_of from core.build_settings
),

-- status_map with a compact number per row (the table is tiny: one row per raw status).
statuses as (
    select rowid as status_no, source, scope, status_key, status, stage, stage_order, kind
    from core.status_map
),

jira_items as (
    select i.rowid * 2 as item_no, i.issue_id, 'jira:' || i.issue_key as item_id, i.created_at
    from raw.jira_issues as i, settings as s
    where i.created_at <= s.as_of and ($parts = 1 or i.rowid % $parts = $part)
),

servicenow_items as (
    select r.rowid * 2 + 1 as item_no, r.sys_id, 'servicenow:' || r.number as item_id,
        r.table_name, coalesce(r.opened_at, r.created_at, r.updated_at) as created_at
    from raw.servicenow_records as r, settings as s
    where coalesce(r.opened_at, r.created_at, r.updated_at) <= s.as_of
        and ($parts = 1 or r.rowid % $parts = $part)
),

jira_changes as (
    select
        i.item_no,
        greatest(c.changed_at, i.created_at) as "at",
        c.changed_at as recorded_at,
        f.status_no as from_no,
        t.status_no as to_no,
        c.author,
        c.source_order as tie_1,
        c.item_index::bigint as tie_2,
        null::varchar as tie_3
    from raw.jira_status_changes as c
    inner join jira_items as i on i.issue_id = c.issue_id
    cross join settings as s
    left join statuses as f
        on f.source = 'jira' and f.scope = 'jira'
        and f.status_key = coalesce(nullif(c.from_status_id, ''), nullif(c.from_status, ''))
    left join statuses as t
        on t.source = 'jira' and t.scope = 'jira'
        and t.status_key = coalesce(nullif(c.to_status_id, ''), nullif(c.to_status, ''))
    where c.changed_at <= s.as_of
        and coalesce(nullif(c.from_status_id, ''), nullif(c.from_status, '')) is not null
),

servicenow_changes as (
    select
        i.item_no,
        greatest(c.changed_at, i.created_at) as "at",
        c.changed_at as recorded_at,
        f.status_no as from_no,
        t.status_no as to_no,
        c.author,
        c.record_checkpoint as tie_1,
        null::bigint as tie_2,
        c.change_id as tie_3
    from raw.servicenow_state_changes as c
    inner join servicenow_items as i on i.sys_id = c.record_sys_id
    cross join settings as s
    left join statuses as f
        on f.source = 'servicenow' and f.scope = i.table_name
        and f.status_key = nullif(c.from_value, '')
    left join statuses as t
        on t.source = 'servicenow' and t.scope = i.table_name
        and t.status_key = nullif(c.to_value, '')
    where c.changed_at <= s.as_of
        and nullif(c.from_value, '') is not null
),

changes as (
    select * from jira_changes
    union all
    select * from servicenow_changes
),

numbered as (
    select
        item_no,
        row_number() over (
            partition by item_no
            order by "at", recorded_at, tie_1 nulls last, tie_2 nulls last, tie_3
        ) as seq,
        "at",
        from_no,
        to_no,
        author
    from changes
),

items as (
    select item_no, item_id from jira_items
    union all
    select item_no, item_id from servicenow_items
),

final as (
    select
        i.item_id,
        n.seq,
        n."at",
        f.status as from_status,
        t.status as to_status,
        f.stage as from_stage,
        t.stage as to_stage,
        f.kind as from_kind,
        t.kind as to_kind,
        case
            when t.stage_order > coalesce(f.stage_order, 0) then 'forward'
            when t.stage_order < f.stage_order then 'backward'
            else 'lateral'
        end as direction,
        n.author
    from numbered as n
    inner join items as i on i.item_no = n.item_no
    left join statuses as f on f.status_no = n.from_no
    left join statuses as t on t.status_no = n.to_no
)

select * from final
