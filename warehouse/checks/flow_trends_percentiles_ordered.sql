-- Every period's lead-time percentiles are in order: p50 <= p85 <= p95.
-- name: flow_trends_percentiles_ordered
-- blocking: false
--
-- Offending rows: a period whose percentiles are out of order.
select value_stream, period_start, lead_time_p50_days, lead_time_p85_days, lead_time_p95_days
from metrics.flow_trends
where lead_time_p50_days > lead_time_p85_days + 1e-9
    or lead_time_p85_days > lead_time_p95_days + 1e-9
order by value_stream, period_start
