-- core.transitions: one row per status change up to as_of, in time order per item.
-- A change stamped before the item's created_at counts at created_at (clock skew); ties keep
-- the source's order (JIRA source_order; ServiceNow record_checkpoint, then change_id).
with settings as (
    select as_of from core.build_settings
),

jira_items as (
    select i.issue_id, 'jira:' || i.issue_key as item_id, i.created_at
    from raw.jira_issues as i, settings as s
    where i.created_at <= s.as_of
),

servicenow_items as (
    select r.sys_id, 'servicenow:' || r.number as item_id, r.table_name,
        coalesce(r.opened_at, r.created_at, r.updated_at) as created_at
    from raw.servicenow_records as r, settings as s
    where coalesce(r.opened_at, r.created_at, r.updated_at) <= s.as_of
),

jira_changes as (
    select
        i.item_id,
        'jira' as source,
        'jira' as scope,
        greatest(c.changed_at, i.created_at) as "at",
        c.changed_at as recorded_at,
        coalesce(nullif(c.from_status_id, ''), nullif(c.from_status, '')) as from_key,
        coalesce(nullif(c.to_status_id, ''), nullif(c.to_status, '')) as to_key,
        c.author,
        c.source_order as tie_1,
        c.item_index::bigint as tie_2,
        null::varchar as tie_3
    from raw.jira_status_changes as c
    inner join jira_items as i on i.issue_id = c.issue_id
    cross join settings as s
    where c.changed_at <= s.as_of
),

servicenow_changes as (
    select
        i.item_id,
        'servicenow' as source,
        i.table_name as scope,
        greatest(c.changed_at, i.created_at) as "at",
        c.changed_at as recorded_at,
        nullif(c.from_value, '') as from_key,
        nullif(c.to_value, '') as to_key,
        c.author,
        c.record_checkpoint as tie_1,
        null::bigint as tie_2,
        c.change_id as tie_3
    from raw.servicenow_state_changes as c
    inner join servicenow_items as i on i.sys_id = c.record_sys_id
    cross join settings as s
    where c.changed_at <= s.as_of
),

changes as (
    select * from jira_changes
    union all
    select * from servicenow_changes
),

renamed as (
    select
        c.item_id,
        row_number() over (
            partition by c.item_id
            order by c."at", c.recorded_at, c.tie_1 nulls last, c.tie_2 nulls last, c.tie_3
        ) as seq,
        c."at",
        f.status as from_status,
        t.status as to_status,
        f.stage as from_stage,
        t.stage as to_stage,
        f.stage_order as from_stage_order,
        t.stage_order as to_stage_order,
        f.kind as from_kind,
        t.kind as to_kind,
        c.author
    from changes as c
    left join core.status_map as f
        on f.source = c.source and f.scope = c.scope and f.status_key = c.from_key
    left join core.status_map as t
        on t.source = c.source and t.scope = c.scope and t.status_key = c.to_key
),

final as (
    select
        item_id,
        seq,
        "at",
        from_status,
        to_status,
        from_stage,
        to_stage,
        from_kind,
        to_kind,
        case
            when to_stage_order > coalesce(from_stage_order, 0) then 'forward'
            when to_stage_order < from_stage_order then 'backward'
            else 'lateral'
        end as direction,
        author
    from renamed
)

select * from final
