-- metrics.aging_wip: one row per (not deleted) item open at as_of (status kind wait or active):
-- its age, how long it has been in its current stage and since its last transition, against
-- its value stream's service-level expectation (the window's p85 lead time).
-- The value stream is the item's own: an item is one row, so the 'all' view is the whole
-- table; sle_days and age_percentile still come from the item's stream, not from 'all'.
-- stage_age_days runs from the start of the current run of consecutive intervals in the
-- current stage (a lateral move keeps it; leaving the stage, even for a zero-length interval,
-- starts a new run). days_since_last_transition runs from the current interval's start: the
-- last transition, or created_at when there is none (a transition stamped before created_at
-- counts at created_at, as in core.status_intervals).
-- stage_order (extra) is the current stage's 1-based position in stages.
-- sort: value_stream, stage_order, item_id
with settings as (
    select as_of, window_start from core.build_settings
),

open_items as (
    select w.item_id, w.value_stream, w.flow_type, w.stage, w.status, w.status_kind,
        w.created_at
    from core.work_items as w
    where not w.is_deleted and w.status_kind in ('wait', 'active')
),

-- One pass over the open items' intervals. The intervals tile the timeline, so the current run
-- in the current stage starts where the last interval in another stage ended (its exited_at,
-- the latest such); the current interval is the one entered last.
starts as (
    select
        si.item_id,
        max(si.entered_at) as current_entered_at,
        max(si.exited_at) filter (where si.stage is distinct from o.stage) as stage_entered_at
    from core.status_intervals as si
    inner join open_items as o on o.item_id = si.item_id
    group by si.item_id
),

window_leads as (
    select value_stream, lead_time_days
    from metrics.item_flow, settings as s
    where done_at > s.window_start and done_at <= s.as_of
),

sle as (
    select value_stream, lead_time_p85_days as sle_days
    from metrics.lead_time
    where flow_type = 'all'
),

aged as (
    select
        o.*,
        (epoch_us(s.as_of) - epoch_us(o.created_at)) / 86400000000.0 as age_days,
        (epoch_us(s.as_of) - epoch_us(coalesce(st.stage_entered_at, o.created_at)))
            / 86400000000.0 as stage_age_days,
        (epoch_us(s.as_of) - epoch_us(coalesce(st.current_entered_at, o.created_at)))
            / 86400000000.0 as days_since_last_transition
    from open_items as o
    cross join settings as s
    left join starts as st on st.item_id = o.item_id
),

-- Share of the stream's window items whose lead time <= the item's age (NULL: none done).
-- An ASOF join on the stream's cumulative lead-time counts, not a join of every open item with
-- every window item (200k x 100k pairs at 1M items).
cdf as (
    select
        value_stream,
        lead_time_days,
        sum(count(*)) over (partition by value_stream order by lead_time_days) as at_or_below
    from window_leads
    group by value_stream, lead_time_days
),

totals as (
    select value_stream, count(*) as window_items from window_leads group by value_stream
),

percentiles as (
    select
        a.item_id,
        coalesce(c.at_or_below, 0) / t.window_items as age_percentile
    from aged as a
    inner join totals as t on t.value_stream = a.value_stream
    asof left join cdf as c
        on c.value_stream = a.value_stream and a.age_days >= c.lead_time_days
),

final as (
    select
        a.item_id,
        a.value_stream,
        a.flow_type,
        a.stage,
        g.stage_order,
        a.status,
        a.status_kind,
        a.age_days,
        a.stage_age_days,
        a.days_since_last_transition,
        l.sle_days,
        p.age_percentile,
        a.age_days > l.sle_days as over_sle
    from aged as a
    left join sle as l on l.value_stream = a.value_stream
    left join percentiles as p on p.item_id = a.item_id
    left join core.stages as g on g.stage = a.stage
)

select * from final
