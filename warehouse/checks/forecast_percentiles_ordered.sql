-- The forecast's percentiles are in order: the days to finish today's WIP grow with
-- confidence (p50 <= p85 <= p95); "at least N items" shrinks with it (items_p95 <= items_p85
-- <= items_p50); and a longer horizon never promises fewer items at 85%.
-- name: forecast_percentiles_ordered
-- blocking: false
--
-- Offending rows: the forecast rows out of order.
with ordered as (
    select
        *,
        lag(items_p85) over (partition by value_stream order by horizon_days)
            as shorter_items_p85
    from metrics.forecast
    where horizon_days is not null
)

select value_stream, horizon_days, items_p50, items_p85, items_p95, null as wip_done_days_p50,
    null as wip_done_days_p85, null as wip_done_days_p95
from ordered
where items_p95 > items_p85 or items_p85 > items_p50 or items_p85 < shorter_items_p85
union all
select value_stream, horizon_days, null, null, null, wip_done_days_p50, wip_done_days_p85,
    wip_done_days_p95
from metrics.forecast
where horizon_days is null
    and (wip_done_days_p50 > wip_done_days_p85 or wip_done_days_p85 > wip_done_days_p95)
order by 1, 2
