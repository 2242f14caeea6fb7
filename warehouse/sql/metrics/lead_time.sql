-- metrics.lead_time: one row per value stream x flow type (plus flow_type 'all'), over the window's
-- items: lead and cycle time percentiles and the share done within the lead-time target.
-- sort: value_stream, flow_type
with settings as (
    select window_start, as_of, lead_time_target_days from core.build_settings
),

streams as (
    select value_stream from core.value_streams
    union
    select value_stream from metrics.item_flow
    union
    select 'all'
),

window_items as (
    select f.item_id, f.value_stream, f.flow_type, f.lead_time_days, f.cycle_time_days
    from metrics.item_flow as f, settings as s
    where f.done_at > s.window_start and f.done_at <= s.as_of
),

-- Each item counts in its own stream and in 'all' (so 'all' is computed, never summed).
source as (
    select value_stream, flow_type, lead_time_days, cycle_time_days from window_items
    union all
    select 'all', flow_type, lead_time_days, cycle_time_days from window_items
),

grouped as (
    select
        value_stream,
        coalesce(flow_type, 'all') as flow_type,
        count(*) as items,
        quantile_cont(lead_time_days, 0.5) as lead_time_p50_days,
        quantile_cont(lead_time_days, 0.85) as lead_time_p85_days,
        quantile_cont(lead_time_days, 0.95) as lead_time_p95_days,
        avg(lead_time_days) as lead_time_mean_days,
        quantile_cont(cycle_time_days, 0.5) as cycle_time_p50_days,
        quantile_cont(cycle_time_days, 0.85) as cycle_time_p85_days,
        avg((lead_time_days <= s.lead_time_target_days)::double) as share_within_target
    from source, settings as s
    group by grouping sets ((value_stream, flow_type), (value_stream))
),

-- Every stream gets its flow_type 'all' row, with items = 0 when nothing was done.
final as (
    select
        g.value_stream,
        g.flow_type,
        g.items,
        g.lead_time_p50_days,
        g.lead_time_p85_days,
        g.lead_time_p95_days,
        g.lead_time_mean_days,
        g.cycle_time_p50_days,
        g.cycle_time_p85_days,
        g.share_within_target
    from grouped as g
    union all
    select st.value_stream, 'all', 0, null, null, null, null, null, null, null
    from streams as st
    where st.value_stream not in (select value_stream from grouped)
)

select * from final
