-- metrics.flow_distribution: per value stream x period (week | 2weeks | month, UTC), from the
-- period holding the stream's earliest created_at to the one holding as_of, empty periods
-- included: items done by flow type, debt and unplanned ratios, WIP at the period's end (at
-- as_of for the last period) and arrivals.
with settings as (
    select
        as_of,
        period,
        timezone('UTC', as_of) as as_of_utc,
        case period
            when 'month' then interval '1 month'
            when '2weeks' then interval '14 days'
            else interval '7 days'
        end as step
    from core.build_settings
),

flow as (
    select f.*, w.status_kind
    from metrics.item_flow as f
    inner join core.work_items as w on w.item_id = f.item_id
),

source as (
    select item_id, value_stream, flow_type, created_at, done_at, process_time_days,
        status_kind
    from flow
    union all
    select item_id, 'all', flow_type, created_at, done_at, process_time_days, status_kind
    from flow
),

-- Open-kind intervals (wait / active): an item is WIP at an instant T inside one of them.
open_intervals as (
    select i.item_id, i.entered_at, i.exited_at
    from core.status_intervals as i
    inner join core.work_items as w on w.item_id = i.item_id
    where i.kind in ('wait', 'active') and not w.is_deleted
        and (i.exited_at is null or i.exited_at > i.entered_at)
),

-- Every dated event, as a naive UTC timestamp, with what it adds to which count.
-- WIP at the end T of period P counts intervals with entered_at <= T < exited_at: a +1 that
-- applies from the first period whose end is >= entered_at (the period holding the instant
-- just before entered_at), a -1 likewise from exited_at; a running sum turns them into counts.
events as (
    select so.value_stream, timezone('UTC', so.done_at) as ts, 'done' as event,
        so.flow_type, so.process_time_days, 0 as wip_delta
    from source as so
    where so.done_at is not null
    union all
    select value_stream, timezone('UTC', created_at), 'arrival', flow_type, null, 0
    from source
    union all
    select so.value_stream, timezone('UTC', o.entered_at) - interval '1 microsecond', 'wip',
        null, null, 1
    from open_intervals as o inner join source as so on so.item_id = o.item_id
    union all
    select so.value_stream, timezone('UTC', o.exited_at) - interval '1 microsecond', 'wip',
        null, null, -1
    from open_intervals as o inner join source as so on so.item_id = o.item_id
    where o.exited_at is not null
),

bucketed as (
    select
        e.*,
        case s.period
            when 'month' then date_trunc('month', e.ts)
            when '2weeks' then time_bucket(interval '2 weeks', e.ts, timestamp '2000-01-03')
            else date_trunc('week', e.ts)
        end as bucket
    from events as e, settings as s
),

bounds as (
    select
        so.value_stream,
        case s.period
            when 'month' then date_trunc('month', timezone('UTC', min(so.created_at)))
            when '2weeks' then time_bucket(
                interval '2 weeks', timezone('UTC', min(so.created_at)), timestamp '2000-01-03')
            else date_trunc('week', timezone('UTC', min(so.created_at)))
        end as first_period,
        case s.period
            when 'month' then date_trunc('month', s.as_of_utc)
            when '2weeks' then time_bucket(interval '2 weeks', s.as_of_utc, timestamp '2000-01-03')
            else date_trunc('week', s.as_of_utc)
        end as last_period,
        s.step
    from source as so, settings as s
    group by so.value_stream, s.period, s.as_of_utc, s.step
),

periods as (
    select b.value_stream, unnest(generate_series(b.first_period, b.last_period, b.step))
        as period_start, b.first_period, b.last_period
    from bounds as b
),

counts as (
    select
        b.value_stream,
        -- a delta stamped before the first period (only at its very start) belongs to it
        greatest(b.bucket, p.first_period) as period_start,
        count(*) filter (where b.event = 'done') as items_done,
        count(*) filter (where b.event = 'done' and b.flow_type = 'feature') as feature_items,
        count(*) filter (where b.event = 'done' and b.flow_type = 'defect') as defect_items,
        count(*) filter (where b.event = 'done' and b.flow_type = 'debt') as debt_items,
        count(*) filter (where b.event = 'done' and b.flow_type = 'risk') as risk_items,
        count(*) filter (where b.event = 'done' and b.flow_type = 'incident') as incident_items,
        sum(b.process_time_days) filter (where b.event = 'done') as process_days,
        sum(b.process_time_days) filter (where b.event = 'done' and b.flow_type = 'debt')
            as debt_process_days,
        count(*) filter (where b.event = 'arrival') as arrivals,
        sum(b.wip_delta) as wip_delta
    from bucketed as b
    inner join bounds as p on p.value_stream = b.value_stream
    group by all
),

current_wip as (
    select value_stream, count(*) as wip from source
    where status_kind in ('wait', 'active')
    group by all
),

final as (
    select
        p.value_stream,
        timezone('UTC', p.period_start) as period_start,
        coalesce(c.items_done, 0) as items_done,
        coalesce(c.feature_items, 0) as feature_items,
        coalesce(c.defect_items, 0) as defect_items,
        coalesce(c.debt_items, 0) as debt_items,
        coalesce(c.risk_items, 0) as risk_items,
        coalesce(c.incident_items, 0) as incident_items,
        case when c.items_done > 0 then c.debt_items / c.items_done end as debt_ratio_items,
        case when c.process_days > 0 then coalesce(c.debt_process_days, 0) / c.process_days end
            as debt_ratio_effort,
        case
            when c.items_done > 0 then (c.defect_items + c.incident_items) / c.items_done
        end as unplanned_ratio,
        case
            when p.period_start = p.last_period then coalesce(w.wip, 0)
            else coalesce(sum(c.wip_delta) over (
                partition by p.value_stream order by p.period_start
                rows between unbounded preceding and current row
            ), 0)
        end::bigint as wip_at_end,
        coalesce(c.arrivals, 0) as arrivals
    from periods as p
    left join counts as c on c.value_stream = p.value_stream and c.period_start = p.period_start
    left join current_wip as w on w.value_stream = p.value_stream
)

select * from final
