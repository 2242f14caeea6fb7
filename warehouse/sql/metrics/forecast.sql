-- metrics.forecast: one row per value stream x horizon (each of forecast.horizons_days): at
-- least how many items are done within the horizon in 50 / 85 / 95 % of forecast.trials Monte
-- Carlo trials; and one row per value stream with horizon_days NULL: today's WIP and the days
-- within which it is done in 50 / 85 / 95 % of trials (NULL when history has no throughput).
-- Each trial sums, day by day, samples drawn with replacement from the items done on each of
-- the forecast.history_days UTC days ending with the day before as_of's day (zero days
-- included; an item counts on the day of its done_at). Seeded with forecast.seed: the same
-- warehouse, config and seed give the same numbers.
--
-- This SELECT yields the simulation's inputs, one row per value stream (the streams of
-- metrics.value_stream_summary, 'all' over all items): the daily samples in day order, the WIP
-- and the settings; warehouse/forecast.py runs the trials (numpy, vectorised) and the runner
-- writes its rows in the same transaction.
-- transform: warehouse.forecast
-- sort: value_stream, horizon_days
with settings as (
    select
        cast(make_timestamp(epoch_us(b.as_of)) as date) as as_of_day,
        f.history_days,
        f.horizons_days,
        f.trials,
        f.seed
    from core.build_settings as b, core.forecast_settings as f
),

days as (
    select cast(unnest(generate_series(
        cast(s.as_of_day - s.history_days as timestamp),
        cast(s.as_of_day - 1 as timestamp),
        interval '1 day'
    )) as date) as day
    from settings as s
),

done_per_day as (
    select
        case when grouping(f.value_stream) = 1 then 'all' else f.value_stream end
            as value_stream,
        cast(make_timestamp(epoch_us(f.done_at)) as date) as day,
        count(*) as items
    from metrics.item_flow as f, settings as s
    where f.done_at >= timezone('UTC', cast(s.as_of_day - s.history_days as timestamp))
        and f.done_at < timezone('UTC', cast(s.as_of_day as timestamp))
    group by grouping sets ((f.value_stream, day), (day))
),

streams as (
    select value_stream, wip from metrics.value_stream_summary
),

final as (
    select
        st.value_stream,
        list(coalesce(d.items, 0) order by dy.day) as samples,
        any_value(st.wip) as wip,
        any_value(s.horizons_days) as horizons_days,
        any_value(s.trials) as trials,
        any_value(s.seed) as seed
    from streams as st
    cross join days as dy
    cross join settings as s
    left join done_per_day as d on d.value_stream = st.value_stream and d.day = dy.day
    group by st.value_stream
)

select * from final
