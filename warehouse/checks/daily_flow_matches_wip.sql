-- The cumulative flow diagram agrees with core.work_items on as_of's day: per value stream
-- (and 'all') and stage, metrics.daily_flow's items on the day holding as_of equal the
-- not-deleted items whose status at as_of is in that stage and not dropped (WIP by stage, plus
-- the done items in the last stage).
-- name: daily_flow_matches_wip
-- blocking: false
--
-- Offending rows: a stream and stage where the two counts differ.
with settings as (
    select cast(make_timestamp(epoch_us(as_of)) as date) as as_of_day from core.build_settings
),

expected as (
    select
        case when grouping(value_stream) = 1 then 'all' else value_stream end as value_stream,
        stage,
        count(*) as items
    from core.work_items
    where not is_deleted and status_kind in ('wait', 'active', 'done')
    group by grouping sets ((value_stream, stage), (stage))
),

actual as (
    select d.value_stream, d.stage, d.items
    from metrics.daily_flow as d, settings as s
    where d.day = s.as_of_day
)

select
    coalesce(a.value_stream, e.value_stream) as value_stream,
    coalesce(a.stage, e.stage) as stage,
    a.items as daily_flow_items,
    coalesce(e.items, 0) as work_items
from actual as a
full outer join expected as e on e.value_stream = a.value_stream and e.stage = a.stage
where a.items is distinct from coalesce(e.items, 0)
order by 1, 2
