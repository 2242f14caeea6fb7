-- metrics.flow_trends: one row per value stream x period (the periods of
-- metrics.flow_distribution): lead and cycle time percentiles, flow efficiency and backward
-- moves of the items done in the period, WIP at the period's end and the mean age of that WIP.
-- A period's done items have done_at in [period start, next period start). flow_efficiency is
-- sum of process / sum of lead time of those items; backward_moves_per_item is their backward
-- moves / items_done; both NULL when the period has no done item (or no lead time).
-- items_done and wip_at_end are those of metrics.flow_distribution. mean_wip_age_days is the
-- mean of (T - created_at) over the items open (wait or active) at T, the period's end, or
-- as_of for the period that holds it; NULL when nothing was open.
--
-- Cost (1M items, ~9M open intervals): as in flow_distribution, each open interval adds +1 (and
-- its item's created_at) to the period whose end first reaches its start and takes it off where
-- its end is reached (an interval that starts and ends in one period cancels out and is skipped);
-- per-period sums are then accumulated over at most a few hundred periods.
-- sort: value_stream, period_start
with settings as (
    select
        as_of,
        period,
        epoch_us(as_of) as as_of_us
    from core.build_settings
),

grid as (
    select
        value_stream,
        period_start,
        items_done,
        wip_at_end,
        coalesce(
            lead(period_start) over (partition by value_stream order by period_start),
            s.as_of
        ) as period_end
    from metrics.flow_distribution, settings as s
),

done_items as (
    select
        f.value_stream,
        f.lead_time_days,
        f.cycle_time_days,
        f.process_time_days,
        f.backward_moves,
        case s.period
            when 'month' then date_trunc('month', make_timestamp(epoch_us(f.done_at)))
            when '2weeks' then time_bucket(
                interval '2 weeks', make_timestamp(epoch_us(f.done_at)), timestamp '2000-01-03')
            else date_trunc('week', make_timestamp(epoch_us(f.done_at)))
        end as bucket
    from metrics.item_flow as f, settings as s
    where f.done_at is not null
),

done_stats as (
    select
        case when grouping(value_stream) = 1 then 'all' else value_stream end as value_stream,
        timezone('UTC', bucket) as period_start,
        count(*) as items,
        quantile_cont(lead_time_days, 0.5) as lead_time_p50_days,
        quantile_cont(lead_time_days, 0.85) as lead_time_p85_days,
        quantile_cont(lead_time_days, 0.95) as lead_time_p95_days,
        quantile_cont(cycle_time_days, 0.85) as cycle_time_p85_days,
        sum(process_time_days) as process_days,
        sum(lead_time_days) as lead_days,
        sum(backward_moves) as backward_moves
    from done_items
    group by grouping sets ((value_stream, bucket), (bucket))
),

-- Open-kind intervals of not-deleted items, with the item's creation instant.
open_intervals as (
    select f.value_stream, i.entered_at, i.exited_at, epoch_us(f.created_at) as created_us
    from core.status_intervals as i
    inner join metrics.item_flow as f on f.item_id = i.item_id
    where i.kind in ('wait', 'active')
        and (i.exited_at is null or i.exited_at > i.entered_at)
),

-- An interval counts at T when entered_at <= T < exited_at: +1 from the period holding the
-- instant just before entered_at, -1 from the one holding the instant just before exited_at.
-- An interval whose two deltas fall in the same period cancels out: it is dropped here.
spans as (
    select
        o.value_stream,
        o.created_us,
        case s.period
            when 'month' then date_trunc('month', make_timestamp(epoch_us(o.entered_at) - 1))
            when '2weeks' then time_bucket(interval '2 weeks',
                make_timestamp(epoch_us(o.entered_at) - 1), timestamp '2000-01-03')
            else date_trunc('week', make_timestamp(epoch_us(o.entered_at) - 1))
        end as bucket_in,
        case s.period
            when 'month' then date_trunc('month', make_timestamp(epoch_us(o.exited_at) - 1))
            when '2weeks' then time_bucket(interval '2 weeks',
                make_timestamp(epoch_us(o.exited_at) - 1), timestamp '2000-01-03')
            else date_trunc('week', make_timestamp(epoch_us(o.exited_at) - 1))
        end as bucket_out
    from open_intervals as o, settings as s
),

events as (
    select value_stream, bucket_in as bucket, 1 as n, created_us
    from spans
    where bucket_out is null or bucket_out <> bucket_in
    union all
    select value_stream, bucket_out, -1, -created_us
    from spans
    where bucket_out <> bucket_in
),

per_bucket as (
    select
        case when grouping(value_stream) = 1 then 'all' else value_stream end as value_stream,
        timezone('UTC', bucket) as bucket,
        sum(n) as n,
        sum(created_us::hugeint) as created_us
    from events
    group by grouping sets ((value_stream, bucket), (bucket))
),

-- Running sums: everything that happened in a period up to and including this one (a delta
-- stamped before the stream's first period, only at its very start, falls into it).
open_at_end as (
    select
        g.value_stream,
        g.period_start,
        sum(b.n) as n,
        sum(b.created_us) as created_us
    from grid as g
    inner join per_bucket as b on b.value_stream = g.value_stream and b.bucket <= g.period_start
    group by g.value_stream, g.period_start
),

final as (
    select
        g.value_stream,
        g.period_start,
        g.items_done,
        d.lead_time_p50_days,
        d.lead_time_p85_days,
        d.lead_time_p95_days,
        d.cycle_time_p85_days,
        case when d.lead_days > 0 then d.process_days / d.lead_days end as flow_efficiency,
        case when d.items > 0 then d.backward_moves / d.items end as backward_moves_per_item,
        g.wip_at_end,
        case
            when o.n > 0
                then ((o.n * epoch_us(g.period_end)::hugeint - o.created_us) / o.n)::double
                    / 86400000000.0
        end as mean_wip_age_days
    from grid as g
    left join done_stats as d
        on d.value_stream = g.value_stream and d.period_start = g.period_start
    left join open_at_end as o
        on o.value_stream = g.value_stream and o.period_start = g.period_start
)

select * from final
