-- metrics.wait_states: one row per value stream x stage x wait status, over the window's items: where
-- work waits. Only statuses where some window item spent time (> 0 s) get a row.
-- sort: value_stream, rank, stage, status
with settings as (
    select window_start, as_of from core.build_settings
),

window_items as (
    select f.item_id, f.value_stream, f.lead_time_days
    from metrics.item_flow as f, settings as s
    where f.done_at > s.window_start and f.done_at <= s.as_of
),

-- Wait intervals of a done item all end by done_at, so no clipping is needed.
item_waits as (
    select i.item_id, i.stage, i.status, sum(i.duration_days) as wait_days
    from core.status_intervals as i
    inner join window_items as w on w.item_id = i.item_id
    where i.kind = 'wait'
    group by all
    having sum(i.duration_days) > 0
),

source as (
    select w.value_stream, iw.stage, iw.status, iw.wait_days
    from item_waits as iw inner join window_items as w on w.item_id = iw.item_id
    union all
    select 'all', iw.stage, iw.status, iw.wait_days
    from item_waits as iw
),

lead_totals as (
    select value_stream, sum(lead_time_days) as total_lead_days from window_items group by all
    union all
    select 'all', sum(lead_time_days) from window_items
),

grouped as (
    select
        value_stream,
        stage,
        status,
        count(*) as items,
        sum(wait_days) as total_wait_days,
        sum(wait_days) / count(*) as mean_wait_days,
        quantile_cont(wait_days, 0.85) as p85_wait_days
    from source
    group by all
),

final as (
    select
        g.value_stream,
        g.stage,
        g.status,
        g.items,
        g.total_wait_days,
        g.mean_wait_days,
        g.p85_wait_days,
        case when l.total_lead_days > 0 then g.total_wait_days / l.total_lead_days end
            as share_of_lead_time,
        row_number() over (
            partition by g.value_stream
            order by g.total_wait_days desc, st.stage_order, g.status
        ) as rank
    from grouped as g
    left join lead_totals as l on l.value_stream = g.value_stream
    left join core.stages as st on st.stage = g.stage
)

select * from final
