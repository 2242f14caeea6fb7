-- metrics.scorecard: one row per value stream x configured target: the actual value, whether the target
-- is met and the gap, signed so that positive is better (a NULL actual is not met).
-- sort: value_stream, target
with summary as (
    select * from metrics.value_stream_summary
),

actuals as (
    select value_stream, 'lead_time_p95_days' as target, lead_time_p95_days as actual_value
    from summary
    union all
    select value_stream, 'tech_debt_ratio_min', tech_debt_ratio from summary
    union all
    select value_stream, 'unplanned_ratio_max', unplanned_ratio from summary
    union all
    select value_stream, 'flow_efficiency_min', activity_ratio from summary
    union all
    select value_stream, 'pct_complete_accurate_min', rolled_pct_complete_accurate from summary
),

final as (
    select
        a.value_stream,
        t.target,
        t.target_value,
        a.actual_value,
        coalesce(
            case t.direction
                when 'max' then a.actual_value <= t.target_value
                else a.actual_value >= t.target_value
            end,
            false
        ) as met,
        case t.direction
            when 'max' then t.target_value - a.actual_value
            else a.actual_value - t.target_value
        end as gap
    from core.targets as t
    inner join actuals as a on a.target = t.target
)

select * from final
