-- metrics.delivery: one row per value stream (the JIRA item's, plus 'all'), over the JIRA items
-- whose first implementing change request (by done_at) was done in the window: idea to
-- production (that change's done_at - the item's created_at) and done to production (that
-- change's done_at - the item's done_at, over the items done no later than the change).
--
-- "Implementing" is core.item_links kind `implements`; only done, not-deleted change requests
-- count (a cancelled change shipped nothing). Dropped JIRA items never enter the window (the contract
-- 4). An item still open, or done after its change (the change went out first), is in
-- idea-to-production only; done_to_production_items says how many are in the other one.
-- Extra columns: idea_to_production_mean_days, done_to_production_items,
-- done_to_production_mean_days (the report's value stream map draws the mean).
-- sort: value_stream
with settings as (
    select window_start, as_of from core.build_settings
),

streams as (
    select value_stream from core.value_streams
    union
    select value_stream from metrics.item_flow
    union
    select 'all'
),

jira as (
    select f.item_id, f.value_stream, f.created_at, f.done_at
    from metrics.item_flow as f
    inner join core.work_items as w on w.item_id = f.item_id
    where w.source = 'jira' and w.status_kind is distinct from 'dropped'
),

changes as (
    select f.item_id, f.done_at
    from metrics.item_flow as f
    inner join core.work_items as w on w.item_id = f.item_id
    where w.source = 'servicenow' and w.source_type = 'change_request' and f.done_at is not null
),

first_change as (
    select l.to_item as item_id, min(c.done_at) as production_at
    from core.item_links as l
    inner join changes as c on c.item_id = l.from_item
    where l.kind = 'implements'
    group by l.to_item
),

delivered as (
    select
        j.value_stream,
        (epoch_us(fc.production_at) - epoch_us(j.created_at)) / 86400000000.0 as idea_days,
        case
            when j.done_at <= fc.production_at
                then (epoch_us(fc.production_at) - epoch_us(j.done_at)) / 86400000000.0
        end as done_days
    from jira as j
    inner join first_change as fc on fc.item_id = j.item_id
    cross join settings as s
    where fc.production_at > s.window_start and fc.production_at <= s.as_of
),

grouped as (
    select
        case when grouping(value_stream) = 1 then 'all' else value_stream end as value_stream,
        count(*) as items,
        quantile_cont(idea_days, 0.5) as idea_to_production_p50_days,
        quantile_cont(idea_days, 0.85) as idea_to_production_p85_days,
        avg(idea_days) as idea_to_production_mean_days,
        count(done_days) as done_to_production_items,
        quantile_cont(done_days, 0.5) as done_to_production_p50_days,
        quantile_cont(done_days, 0.85) as done_to_production_p85_days,
        avg(done_days) as done_to_production_mean_days
    from delivered
    group by grouping sets ((value_stream), ())
)

select
    st.value_stream,
    coalesce(g.items, 0) as items,
    g.idea_to_production_p50_days,
    g.idea_to_production_p85_days,
    g.done_to_production_p50_days,
    g.done_to_production_p85_days,
    g.idea_to_production_mean_days,
    coalesce(g.done_to_production_items, 0) as done_to_production_items,
    g.done_to_production_mean_days
from streams as st
left join grouped as g on g.value_stream = st.value_stream
