-- metrics.value_stream_summary: one row per value stream (and 'all'): the window's totals.
-- sort: value_stream
with settings as (
    select window_start, as_of, window_days from core.build_settings
),

streams as (
    select value_stream from core.value_streams
    union
    select value_stream from metrics.item_flow
    union
    select 'all'
),

flow as (
    select f.*, w.status_kind
    from metrics.item_flow as f
    inner join core.work_items as w on w.item_id = f.item_id
),

source as (
    select value_stream, flow_type, done_at, process_time_days, status_kind from flow
    union all
    select 'all', flow_type, done_at, process_time_days, status_kind from flow
),

window_totals as (
    select
        so.value_stream,
        count(*) filter (where so.done_at > s.window_start and so.done_at <= s.as_of)
            as items_done,
        count(*) filter (where so.status_kind in ('wait', 'active')) as wip,
        sum(so.process_time_days) filter (
            where so.done_at > s.window_start and so.done_at <= s.as_of and so.flow_type = 'debt'
        ) as debt_process_days,
        sum(so.process_time_days) filter (
            where so.done_at > s.window_start and so.done_at <= s.as_of
        ) as process_days,
        count(*) filter (
            where so.done_at > s.window_start and so.done_at <= s.as_of
                and so.flow_type in ('defect', 'incident')
        ) as unplanned_items
    from source as so, settings as s
    group by all
),

blocks as (
    select
        value_stream,
        sum(lead_time_days) as total_lead_time_days,
        sum(process_time_days) as total_process_time_days,
        product(pct_complete_accurate) as rolled_pct_complete_accurate
    from metrics.value_stream_map
    group by all
),

final as (
    select
        st.value_stream,
        coalesce(t.items_done, 0) as items_done,
        coalesce(t.wip, 0) as wip,
        coalesce(t.items_done, 0) / (s.window_days / 7.0) as throughput_per_week,
        b.total_lead_time_days,
        b.total_process_time_days,
        case
            when b.total_lead_time_days > 0
                then b.total_process_time_days / b.total_lead_time_days
        end as activity_ratio,
        b.rolled_pct_complete_accurate,
        l.lead_time_p50_days,
        l.lead_time_p95_days,
        case when t.process_days > 0 then coalesce(t.debt_process_days, 0) / t.process_days end
            as tech_debt_ratio,
        case when t.items_done > 0 then t.unplanned_items / t.items_done end as unplanned_ratio
    from streams as st
    cross join settings as s
    left join window_totals as t on t.value_stream = st.value_stream
    left join blocks as b on b.value_stream = st.value_stream
    left join metrics.lead_time as l on l.value_stream = st.value_stream and l.flow_type = 'all'
)

select * from final
