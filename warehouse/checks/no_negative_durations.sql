-- No interval, lead, cycle, process or wait time is negative.
-- name: no_negative_durations
-- blocking: true
--
-- Offending rows: any negative duration in core or metrics.
select 'core.status_intervals' as tbl, item_id, 'duration_days' as col, duration_days as value
from core.status_intervals where duration_days < 0
union all
select 'metrics.item_flow', item_id, 'lead_time_days', lead_time_days
from metrics.item_flow where lead_time_days < 0
union all
select 'metrics.item_flow', item_id, 'cycle_time_days', cycle_time_days
from metrics.item_flow where cycle_time_days < 0
union all
select 'metrics.item_flow', item_id, 'process_time_days', process_time_days
from metrics.item_flow where process_time_days < 0
union all
select 'metrics.item_flow', item_id, 'wait_time_days', wait_time_days
from metrics.item_flow where wait_time_days < 0
union all
select 'metrics.item_flow', item_id, 'age_days', age_days
from metrics.item_flow where age_days < 0
union all
select 'metrics.value_stream_map', value_stream || '/' || stage, 'lead_time_days', lead_time_days
from metrics.value_stream_map where lead_time_days < 0 or process_time_days < 0
union all
select 'metrics.wait_states', value_stream || '/' || status, 'total_wait_days', total_wait_days
from metrics.wait_states where total_wait_days <= 0
