-- Every ratio of the flow-over-time tables lies in [0, 1] (flow_trends.flow_efficiency,
-- aging_wip.age_percentile).
-- name: flow_over_time_ratios_in_range
-- blocking: true
--
-- Offending rows: a ratio outside [0, 1] (NULL is allowed: a zero denominator).
with ratios as (
    select 'metrics.flow_trends' as tbl, value_stream || '/' || period_start::varchar as row_key,
        'flow_efficiency' as col, flow_efficiency as value
    from metrics.flow_trends
    union all
    select 'metrics.aging_wip', item_id, 'age_percentile', age_percentile
    from metrics.aging_wip
)

select * from ratios where value < 0 or value > 1 + 1e-9
