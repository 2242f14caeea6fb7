-- core.unmapped_statuses: one row per status that a default rule mapped (no explicit config), with
-- the kind and stage chosen and how many items (deleted included) had an interval in it.
with defaults as (
    select source, scope, status_key, status, kind, stage
    from core.status_map
    where is_default
),

visits as (
    select w.source, case when w.source = 'jira' then 'jira' else w.source_type end as scope,
        i.status, count(distinct i.item_id) as items
    from core.status_intervals as i
    inner join core.work_items as w on w.item_id = i.item_id
    -- only defaulted statuses are reported: drop every other interval before the join (a
    -- semi-join on a handful of names instead of joining 10M+ intervals to work_items)
    where i.status in (select status from defaults)
    group by all
),

final as (
    select d.source, d.scope, d.status_key, d.status, d.kind, d.stage,
        coalesce(v.items, 0) as items
    from defaults as d
    left join visits as v
        on v.source = d.source and v.scope = d.scope and v.status = d.status
)

select * from final
