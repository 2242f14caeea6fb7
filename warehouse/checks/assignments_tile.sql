-- An item's owner stretches tile [created_at, as_of] with no gap and no overlap, for every item
-- whose owner is known (at least one non-NULL owner stretch).
-- name: assignments_tile
-- blocking: true
-- attach: core.assignments
--
-- Offending rows: owner stretches that do not tile the item's life (first not at created_at,
-- a gap or overlap with the previous one, a closed last one, an open one before the last).
with settings as (
    select as_of from core.build_settings
),

known as (
    select distinct item_id from core.assignments where owner is not null
),

ordered as (
    select
        a.item_id,
        a.seq,
        a.started_at,
        a.ended_at,
        w.created_at,
        lag(a.ended_at) over (partition by a.item_id order by a.seq) as previous_end,
        lead(a.seq) over (partition by a.item_id order by a.seq) as next_seq
    from core.assignments as a
    semi join known as k on k.item_id = a.item_id
    inner join core.work_items as w on w.item_id = a.item_id
),

final as (
    select
        o.item_id,
        o.seq,
        case
            when o.seq = 1 and o.started_at <> o.created_at then 'first stretch not at created_at'
            when o.seq > 1 and o.started_at <> o.previous_end then 'gap or overlap'
            when o.next_seq is null and o.ended_at is not null then 'last stretch closed'
            when o.next_seq is not null and o.ended_at is null then 'open stretch not last'
            when coalesce(o.ended_at, s.as_of) < o.started_at then 'ends before it starts'
        end as problem
    from ordered as o, settings as s
)

select * from final where problem is not null
