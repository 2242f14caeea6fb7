-- metrics.stability and metrics.delivery hold together: failed changes are a subset of the
-- done ones, rates lie in [0, 1], no time is negative where the contract rules it out.
-- name: stability_sound
-- blocking: true
--
-- Offending rows: the table, the row's key and what is wrong.
select 'metrics.stability' as tbl, value_stream || '/' || period_start as row_key,
    'failed_changes > changes_done or rate outside [0, 1] or negative time to restore'
        as problem
from metrics.stability
where failed_changes > changes_done
    or change_failure_rate not between 0 and 1
    or time_to_restore_p50_days < 0
    or time_to_restore_p85_days < time_to_restore_p50_days
union all
select 'metrics.delivery', value_stream,
    'done_to_production_items > items or negative done to production'
from metrics.delivery
where done_to_production_items > items
    or done_to_production_p50_days < 0
    or done_to_production_p85_days < done_to_production_p50_days
    or idea_to_production_p85_days < idea_to_production_p50_days
