-- metrics.value_stream_map: one row per value stream x stage (stage order, the final done stage left
-- out), over the window's items: the mean time a window item spent in the stage's non-done
-- intervals (0 for items that never visited it, so the blocks add up to the mean lead time),
-- the active part of it, how many items visited, and the stage's %C/A.
-- sort: value_stream, stage_order, stage
with settings as (
    select window_start, as_of, done_stage from core.build_settings
),

streams as (
    select value_stream from core.value_streams
    union
    select value_stream from metrics.item_flow
    union
    select 'all'
),

window_items as (
    select f.item_id, f.value_stream
    from metrics.item_flow as f, settings as s
    where f.done_at > s.window_start and f.done_at <= s.as_of
),

item_counts as (
    select value_stream, count(*) as window_items from window_items group by all
    union all
    select 'all', count(*) from window_items
),

-- Non-done intervals of a done item all end by done_at: nothing to clip.
per_item as (
    select
        i.item_id,
        i.stage,
        sum(i.duration_days) filter (where i.kind <> 'done') as lead_days,
        sum(i.duration_days) filter (where i.kind = 'active') as process_days
    from core.status_intervals as i
    inner join window_items as w on w.item_id = i.item_id
    group by all
),

source as (
    select w.value_stream, p.* from per_item as p inner join window_items as w using (item_id)
    union all
    select 'all', p.* from per_item as p
),

grouped as (
    select
        value_stream,
        stage,
        count(*) as items_visited,
        coalesce(sum(lead_days), 0) as lead_days,
        coalesce(sum(process_days), 0) as process_days
    from source
    group by all
),

final as (
    select
        st.value_stream,
        sg.stage,
        sg.stage_order,
        coalesce(g.items_visited, 0) as items_visited,
        case when c.window_items > 0 then coalesce(g.lead_days, 0) / c.window_items end
            as lead_time_days,
        case when c.window_items > 0 then coalesce(g.process_days, 0) / c.window_items end
            as process_time_days,
        r.pct_complete_accurate
    from streams as st
    cross join core.stages as sg
    cross join settings as s
    left join item_counts as c on c.value_stream = st.value_stream
    left join grouped as g on g.value_stream = st.value_stream and g.stage = sg.stage
    left join metrics.rework as r on r.value_stream = st.value_stream and r.stage = sg.stage
    where sg.stage <> s.done_stage
)

select * from final
