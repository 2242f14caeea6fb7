-- metrics.handoff_loops: one row per value stream x reassignment loop (an item handed from one
-- owner to another and back: A -> B -> A), over the window's items, changes before done_at:
-- `owner` (A, where the work came back to), `via_owner` (B), `loops` (times it happened),
-- `items` (items it happened to). Names the ping-pong that metrics.handoffs counts as `loops`.
-- sort: value_stream, loops desc, owner, via_owner
with settings as (
    select window_start, as_of from core.build_settings
),

window_items as (
    select f.item_id, f.value_stream, f.done_at
    from metrics.item_flow as f, settings as s
    where f.done_at > s.window_start and f.done_at <= s.as_of
),

-- Owner stretches before done_at (the first, and those a change started strictly before it, as
-- in metrics.handoffs), in order, with the two before each.
ordered as (
    select
        a.item_id,
        w.value_stream,
        a.owner,
        lag(a.owner, 1) over (partition by a.item_id order by a.seq) as owner_1,
        lag(a.owner, 2) over (partition by a.item_id order by a.seq) as owner_2
    from core.assignments as a
    inner join window_items as w on w.item_id = a.item_id
    where a.seq = 1 or a.started_at < w.done_at
),

-- A -> B -> A with three non-NULL owners (two reassignments in a row).
loops as (
    select item_id, value_stream, owner, owner_1 as via_owner
    from ordered
    where owner is not null and owner_1 is not null and owner_2 is not null
        and owner = owner_2 and owner <> owner_1
),

source as (
    select value_stream, owner, via_owner, item_id from loops
    union all
    select 'all', owner, via_owner, item_id from loops
),

final as (
    select
        value_stream,
        owner,
        via_owner,
        count(*) as loops,
        count(distinct item_id) as items
    from source
    group by all
)

select * from final
