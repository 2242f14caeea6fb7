-- metrics.stability: one row per value stream x period (the periods of metrics.flow_distribution):
-- change requests done, how many of them caused an incident (change failure rate), incidents
-- opened and restored, and the time to restore the ones restored in the period.
--
-- A change request belongs to the value stream its own rules give, and to the period of its
-- done_at: a change that caused an incident weeks later is a failed change of the period it
-- was done in (so a link added tonight updates that older row). It is failed when a
-- not-deleted incident created by as_of names it in caused_by (core.item_links holds only
-- items created by as_of). Links are ServiceNow's own, never guessed from deploy times.
-- Dropped (cancelled) changes are never done. Time to restore is the incident's lead time.
-- Extra column: failed_change_keys, the failed changes' numbers (sorted), for the report.
-- sort: value_stream, period_start
with settings as (
    select period from core.build_settings
),

-- Not-deleted ServiceNow changes and incidents (metrics.item_flow holds exactly those).
items as (
    select w.item_id, w.source_key, w.source_type, f.value_stream, f.created_at, f.done_at,
        f.lead_time_days
    from core.work_items as w
    inner join metrics.item_flow as f on f.item_id = w.item_id
    where w.source = 'servicenow' and w.source_type in ('change_request', 'incident')
),

failed as (
    select distinct l.to_item as item_id
    from core.item_links as l
    inner join items as i on i.item_id = l.from_item and i.source_type = 'incident'
    where l.kind = 'caused_by'
),

events as (
    select value_stream, done_at as at, 'change_done' as event,
        item_id in (select item_id from failed) as failed, source_key, null::double as ttr
    from items
    where source_type = 'change_request' and done_at is not null
    union all
    select value_stream, created_at, 'incident_opened', false, source_key, null
    from items
    where source_type = 'incident'
    union all
    select value_stream, done_at, 'incident_restored', false, source_key, lead_time_days
    from items
    where source_type = 'incident' and done_at is not null
),

bucketed as (
    select
        e.*,
        timezone('UTC', case s.period
            when 'month' then date_trunc('month', make_timestamp(epoch_us(e.at)))
            when '2weeks' then time_bucket(
                interval '2 weeks', make_timestamp(epoch_us(e.at)), timestamp '2000-01-03')
            else date_trunc('week', make_timestamp(epoch_us(e.at)))
        end) as period_start
    from events as e, settings as s
),

-- Each event counts in its own stream and in 'all' (computed, never summed).
per_period as (
    select
        case when grouping(value_stream) = 1 then 'all' else value_stream end as value_stream,
        period_start,
        count(*) filter (where event = 'change_done') as changes_done,
        count(*) filter (where event = 'change_done' and failed) as failed_changes,
        count(*) filter (where event = 'incident_opened') as incidents_opened,
        count(*) filter (where event = 'incident_restored') as incidents_restored,
        quantile_cont(ttr, 0.5) filter (where event = 'incident_restored')
            as time_to_restore_p50_days,
        quantile_cont(ttr, 0.85) filter (where event = 'incident_restored')
            as time_to_restore_p85_days,
        list(source_key order by source_key) filter (where event = 'change_done' and failed)
            as failed_change_keys
    from bucketed
    group by grouping sets ((value_stream, period_start), (period_start))
)

select
    d.value_stream,
    d.period_start,
    coalesce(p.changes_done, 0) as changes_done,
    coalesce(p.failed_changes, 0) as failed_changes,
    case when p.changes_done > 0 then p.failed_changes / p.changes_done end
        as change_failure_rate,
    coalesce(p.incidents_opened, 0) as incidents_opened,
    coalesce(p.incidents_restored, 0) as incidents_restored,
    p.time_to_restore_p50_days,
    p.time_to_restore_p85_days,
    coalesce(p.failed_change_keys, []::varchar[]) as failed_change_keys
from metrics.flow_distribution as d
left join per_period as p on p.value_stream = d.value_stream and p.period_start = d.period_start
