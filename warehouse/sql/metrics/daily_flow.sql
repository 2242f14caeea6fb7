-- metrics.daily_flow: one row per value stream x day (UTC) x stage: the cumulative flow diagram.
-- Days: every day whose end, min(day + 1 day, as_of), lies in (as_of - window_days, as_of],
-- plus the day holding as_of; that is every date from date(as_of - window_days) to date(as_of).
-- Every stage of every day has a row (zeros included), so a chart has no holes.
-- items: items created by the day's end whose status at the day's end (the last one entered by
-- then: the interval with entered_at <= end < exited_at) is in the stage and not `dropped`.
-- entered: items with an interval in the stage that began in [day, day + 1 day), zero-length
-- ones and dropped items included, each item once per day and stage.
--
-- Cost (1M items, ~11M intervals): no interval is expanded into days. Each interval that is
-- still present after the first day's start adds +1 on the first day whose end reaches its
-- entered_at and -1 on the one whose end reaches its exited_at (the day holding the instant
-- just before, clamped to the first day); a running sum per stream and stage turns the deltas
-- into counts. GROUPING SETS give the 'all' rows over all items in the same pass.
-- sort: value_stream, day, stage_order
with settings as (
    select
        as_of,
        cast(make_timestamp(epoch_us(as_of) - window_days * 86400000000) as date) as first_day,
        cast(make_timestamp(epoch_us(as_of)) as date) as last_day,
        epoch_us(cast(cast(make_timestamp(epoch_us(as_of) - window_days * 86400000000) as date)
            as timestamp)) as first_day_us
    from core.build_settings
),

items as (
    select item_id, value_stream from core.work_items where not is_deleted
),

streams as (
    select value_stream from core.value_streams
    union
    select value_stream from items
    union
    select 'all'
),

-- The intervals either count needs, joined to their stream once (read by both below): not over
-- before the first day starts. Done items stay in their final interval, so most items are here.
recent as materialized (
    select i.value_stream, si.item_id, si.stage, si.kind, si.entered_at, si.exited_at
    from core.status_intervals as si
    inner join items as i on i.item_id = si.item_id
    cross join settings as s
    where si.exited_at is null or epoch_us(si.exited_at) >= s.first_day_us
),

-- Intervals an item can be in at some day's end: not dropped, not zero-length, and not over
-- before the first day starts (such an interval's +1 and -1 would both land on the first day).
present as (
    select
        si.value_stream,
        si.stage,
        greatest(cast(make_timestamp(epoch_us(si.entered_at) - 1) as date), s.first_day)
            as day_in,
        cast(make_timestamp(epoch_us(si.exited_at) - 1) as date) as day_out
    from recent as si
    cross join settings as s
    where si.kind <> 'dropped'
        and (si.exited_at is null
            or (epoch_us(si.exited_at) > s.first_day_us and si.exited_at > si.entered_at))
),

deltas as (
    select value_stream, stage, day_in as day, 1 as delta from present
    union all
    select value_stream, stage, day_out, -1 from present where day_out is not null
),

per_day as (
    select
        case when grouping(value_stream) = 1 then 'all' else value_stream end as value_stream,
        stage,
        day,
        sum(delta) as delta
    from deltas
    group by grouping sets ((value_stream, stage, day), (stage, day))
),

-- Each item once per day and stage, however many intervals it began there that day.
entries as (
    select distinct si.value_stream, si.item_id, si.stage,
        cast(make_timestamp(epoch_us(si.entered_at)) as date) as day
    from recent as si
    cross join settings as s
    where epoch_us(si.entered_at) >= s.first_day_us
),

entered as (
    select
        case when grouping(value_stream) = 1 then 'all' else value_stream end as value_stream,
        stage,
        day,
        count(*) as entered
    from entries
    group by grouping sets ((value_stream, stage, day), (stage, day))
),

grid as (
    select st.value_stream, cast(d.day as date) as day, g.stage, g.stage_order
    from streams as st
    cross join core.stages as g
    cross join settings as s
    cross join unnest(generate_series(
        cast(s.first_day as timestamp), cast(s.last_day as timestamp), interval '1 day'
    )) as d (day)
),

final as (
    select
        g.value_stream,
        g.day,
        g.stage,
        g.stage_order,
        coalesce(sum(p.delta) over (
            partition by g.value_stream, g.stage order by g.day
            rows between unbounded preceding and current row
        ), 0)::bigint as items,
        coalesce(e.entered, 0)::bigint as entered
    from grid as g
    left join per_day as p
        on p.value_stream = g.value_stream and p.stage = g.stage and p.day = g.day
    left join entered as e
        on e.value_stream = g.value_stream and e.stage = g.stage and e.day = g.day
)

select * from final
