-- Every ratio in the metrics tables lies in [0, 1].
-- name: ratios_in_range
-- blocking: true
--
-- Offending rows: a ratio outside [0, 1] (NULL is allowed: a zero denominator).
with ratios as (
    select 'metrics.item_flow' as tbl, item_id as row_key, 'flow_efficiency' as col,
        flow_efficiency as value
    from metrics.item_flow
    union all
    select 'metrics.lead_time', value_stream || '/' || flow_type, 'share_within_target',
        share_within_target
    from metrics.lead_time
    union all
    select 'metrics.wait_states', value_stream || '/' || stage || '/' || status,
        'share_of_lead_time', share_of_lead_time
    from metrics.wait_states
    union all
    select 'metrics.rework', value_stream || '/' || stage, 'pct_complete_accurate',
        pct_complete_accurate
    from metrics.rework
    union all
    select 'metrics.value_stream_map', value_stream || '/' || stage, 'pct_complete_accurate',
        pct_complete_accurate
    from metrics.value_stream_map
    union all
    select 'metrics.value_stream_summary', value_stream, unnest(['activity_ratio',
        'rolled_pct_complete_accurate', 'tech_debt_ratio', 'unplanned_ratio']),
        unnest([activity_ratio, rolled_pct_complete_accurate, tech_debt_ratio, unplanned_ratio])
    from metrics.value_stream_summary
    union all
    select 'metrics.flow_distribution', value_stream || '/' || period_start::varchar,
        unnest(['debt_ratio_items', 'debt_ratio_effort', 'unplanned_ratio']),
        unnest([debt_ratio_items, debt_ratio_effort, unplanned_ratio])
    from metrics.flow_distribution
)

select * from ratios where value < 0 or value > 1 + 1e-9
