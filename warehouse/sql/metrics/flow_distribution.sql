-- metrics.flow_distribution: one row per value stream x period (week | 2weeks | month, UTC), from the
-- period holding the stream's earliest created_at to the one holding as_of, empty periods
-- included: items done by flow type, debt and unplanned ratios, WIP at the period's end (at
-- as_of for the last period) and arrivals.
--
-- Cost (1M items, ~9M open intervals): every dated event is read once, bucketed once and
-- aggregated once with GROUPING SETS, which yields each stream's rows and the 'all' rows (over
-- all items, not summed from the streams) without copying the events per stream. Instants are
-- made naive UTC with integer arithmetic (make_timestamp(epoch_us(...))) rather than a
-- time-zone conversion per row.
-- sort: value_stream, period_start
with settings as (
    select
        as_of,
        period,
        make_timestamp(epoch_us(as_of)) as as_of_utc,
        case period
            when 'month' then interval '1 month'
            when '2weeks' then interval '14 days'
            else interval '7 days'
        end as step
    from core.build_settings
),

-- Not-deleted items (metrics.item_flow holds exactly those) and their current kind.
flow as (
    select f.item_id, f.value_stream, f.flow_type, f.created_at, f.done_at, f.process_time_days,
        w.status_kind
    from metrics.item_flow as f
    inner join core.work_items as w on w.item_id = f.item_id
),

-- Open-kind intervals (wait / active) of those items: an item is WIP at an instant T inside one.
open_intervals as (
    select f.value_stream, i.entered_at, i.exited_at
    from core.status_intervals as i
    inner join metrics.item_flow as f on f.item_id = i.item_id
    where i.kind in ('wait', 'active')
        and (i.exited_at is null or i.exited_at > i.entered_at)
),

-- Every dated event, as naive UTC microseconds, with what it adds to which count.
-- WIP at the end T of period P counts intervals with entered_at <= T < exited_at: a +1 that
-- applies from the first period whose end is >= entered_at (the period holding the instant
-- just before entered_at), a -1 likewise from exited_at; a running sum turns them into counts.
events as (
    select value_stream, epoch_us(done_at) as us, 'done' as event, flow_type,
        process_time_days, 0 as wip_delta
    from flow
    where done_at is not null
    union all
    select value_stream, epoch_us(created_at), 'arrival', flow_type, null, 0
    from flow
    union all
    select value_stream, epoch_us(entered_at) - 1, 'wip', null, null, 1
    from open_intervals
    union all
    select value_stream, epoch_us(exited_at) - 1, 'wip', null, null, -1
    from open_intervals
    where exited_at is not null
),

bucketed as (
    select
        e.value_stream,
        e.event,
        e.flow_type,
        e.process_time_days,
        e.wip_delta,
        case s.period
            when 'month' then date_trunc('month', make_timestamp(e.us))
            when '2weeks'
                then time_bucket(interval '2 weeks', make_timestamp(e.us), timestamp '2000-01-03')
            else date_trunc('week', make_timestamp(e.us))
        end as bucket
    from events as e, settings as s
),

-- One pass: per stream x bucket, and per bucket over all items (the 'all' rows).
per_bucket as (
    select
        case when grouping(value_stream) = 1 then 'all' else value_stream end as value_stream,
        bucket,
        count(*) filter (where event = 'done') as items_done,
        count(*) filter (where event = 'done' and flow_type = 'feature') as feature_items,
        count(*) filter (where event = 'done' and flow_type = 'defect') as defect_items,
        count(*) filter (where event = 'done' and flow_type = 'debt') as debt_items,
        count(*) filter (where event = 'done' and flow_type = 'risk') as risk_items,
        count(*) filter (where event = 'done' and flow_type = 'incident') as incident_items,
        sum(process_time_days) filter (where event = 'done') as process_days,
        sum(process_time_days) filter (where event = 'done' and flow_type = 'debt')
            as debt_process_days,
        count(*) filter (where event = 'arrival') as arrivals,
        sum(wip_delta) as wip_delta
    from bucketed
    group by grouping sets ((value_stream, bucket), (bucket))
),

bounds as (
    select
        so.value_stream,
        case s.period
            when 'month' then date_trunc('month', so.first_created)
            when '2weeks' then time_bucket(
                interval '2 weeks', so.first_created, timestamp '2000-01-03')
            else date_trunc('week', so.first_created)
        end as first_period,
        case s.period
            when 'month' then date_trunc('month', s.as_of_utc)
            when '2weeks' then time_bucket(interval '2 weeks', s.as_of_utc, timestamp '2000-01-03')
            else date_trunc('week', s.as_of_utc)
        end as last_period,
        s.step
    from (
        select
            case when grouping(value_stream) = 1 then 'all' else value_stream end
                as value_stream,
            make_timestamp(epoch_us(min(created_at))) as first_created
        from flow
        group by grouping sets ((value_stream), ())
        having min(created_at) is not null
    ) as so, settings as s
),

periods as (
    select b.value_stream, unnest(generate_series(b.first_period, b.last_period, b.step))
        as period_start, b.first_period, b.last_period
    from bounds as b
),

-- A delta stamped before the first period (only at its very start) belongs to it.
counts as (
    select
        b.value_stream,
        greatest(b.bucket, p.first_period) as period_start,
        sum(b.items_done)::bigint as items_done,
        sum(b.feature_items)::bigint as feature_items,
        sum(b.defect_items)::bigint as defect_items,
        sum(b.debt_items)::bigint as debt_items,
        sum(b.risk_items)::bigint as risk_items,
        sum(b.incident_items)::bigint as incident_items,
        sum(b.process_days) as process_days,
        sum(b.debt_process_days) as debt_process_days,
        sum(b.arrivals)::bigint as arrivals,
        sum(b.wip_delta) as wip_delta
    from per_bucket as b
    inner join bounds as p on p.value_stream = b.value_stream
    group by all
),

current_wip as (
    select
        case when grouping(value_stream) = 1 then 'all' else value_stream end as value_stream,
        count(*) as wip
    from flow
    where status_kind in ('wait', 'active')
    group by grouping sets ((value_stream), ())
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
