-- metrics.handoffs: one row per value stream x owner, plus one row per value stream with owner
-- NULL, over the window's items that had at least one non-NULL owner stretch, counting only time
-- and changes before each item's done_at (docs/contract.md §6). A reassignment is a change from one non-NULL
-- owner to another; `loops` (more than the contract) counts reassignments back to an owner the item had
-- already left (A -> B -> A is one loop, into A).
-- sort: value_stream, owner
with settings as (
    select window_start, as_of from core.build_settings
),

window_items as (
    select f.item_id, f.value_stream, f.done_at
    from metrics.item_flow as f, settings as s
    where f.done_at > s.window_start and f.done_at <= s.as_of
),

-- Stretches before done_at, clipped to it: the first one (from created_at) and those started by
-- a change strictly before done_at (a change in the same instant as the resolution is not
-- "before done_at": no time, no reassignment).
stretches as (
    select
        a.item_id,
        w.value_stream,
        a.seq,
        a.owner,
        a.started_at,
        least(coalesce(a.ended_at, s.as_of), w.done_at) as ended_at
    from core.assignments as a
    inner join window_items as w on w.item_id = a.item_id
    cross join settings as s
    where a.seq = 1 or a.started_at < w.done_at
),

owned_items as (
    select distinct item_id from stretches where owner is not null
),

-- Each owner change before done_at, with the owner it changed from: a reassignment goes from
-- one non-NULL owner straight to another (A -> empty -> B is an unassignment, then a first
-- assignment, not a reassignment).
changes as (
    select
        t.item_id,
        t.value_stream,
        t.owner,
        t.started_at,
        t.seq,
        lag(t.owner) over (partition by t.item_id order by t.seq) as previous_owner
    from stretches as t
    semi join owned_items as o on o.item_id = t.item_id
),

reassignments as (
    select
        c.*,
        exists (
            select 1 from changes as e
            where e.item_id = c.item_id and e.seq < c.seq and e.owner = c.owner
        ) as is_loop
    from changes as c
    where c.owner is not null and c.previous_owner is not null
        and c.owner <> c.previous_owner and c.seq > 1
),

per_owner_item as (
    select
        item_id,
        value_stream,
        owner,
        sum(epoch_us(ended_at) - epoch_us(started_at)) / 86400000000.0 as owner_days
    from stretches
    where owner is not null
    group by all
),

owner_source as (
    select value_stream, owner, item_id, owner_days from per_owner_item
    union all
    select 'all', owner, item_id, owner_days from per_owner_item
),

handoffs_source as (
    select value_stream, owner, is_loop from reassignments
    union all
    select 'all', owner, is_loop from reassignments
),

handoffs_in as (
    select value_stream, owner, count(*) as handoffs_in,
        count(*) filter (where is_loop) as loops
    from handoffs_source
    group by all
),

by_owner as (
    select
        o.value_stream,
        o.owner,
        count(distinct o.item_id) as items,
        sum(o.owner_days) as total_days,
        sum(o.owner_days) / count(distinct o.item_id) as mean_days,
        coalesce(any_value(h.handoffs_in), 0) as handoffs_in,
        coalesce(any_value(h.loops), 0) as loops
    from owner_source as o
    left join handoffs_in as h on h.value_stream = o.value_stream and h.owner = o.owner
    group by o.value_stream, o.owner
),

item_counts as (
    select w.item_id, w.value_stream,
        (select count(*) from reassignments as r where r.item_id = w.item_id) as reassigned,
        (select count(*) from reassignments as r where r.item_id = w.item_id and r.is_loop)
            as looped
    from window_items as w
    semi join owned_items as o on o.item_id = w.item_id
),

stream_source as (
    select value_stream, reassigned, looped from item_counts
    union all
    select 'all', reassigned, looped from item_counts
),

by_stream as (
    select
        value_stream,
        null::varchar as owner,
        count(*) as items,
        null::double as total_days,
        null::double as mean_days,
        sum(reassigned) as handoffs_in,
        sum(looped) as loops,
        sum(reassigned) / count(*) as reassignments_per_item,
        count(*) filter (where reassigned = 0) / count(*) as first_owner_resolution_rate
    from stream_source
    group by value_stream
),

final as (
    select value_stream, owner, items, total_days, mean_days, handoffs_in, loops,
        null::double as reassignments_per_item, null::double as first_owner_resolution_rate
    from by_owner
    union all
    select value_stream, owner, items, total_days, mean_days, handoffs_in, loops,
        reassignments_per_item, first_owner_resolution_rate
    from by_stream
)

select * from final
