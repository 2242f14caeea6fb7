-- Each blocked stretch lies inside its item's life: it starts no earlier than created_at, ends
-- no later than as_of and not before it starts, and belongs to an item of the warehouse.
-- name: blocked_within_life
-- blocking: true
-- attach: core.blocked_intervals
--
-- Offending rows: blocked stretches outside [created_at, as_of] or ending before they start.
with settings as (
    select as_of from core.build_settings
),

final as (
    select
        b.item_id,
        b.seq,
        b.reason,
        case
            when w.item_id is null then 'item not in core.work_items'
            when b.started_at < w.created_at then 'starts before created_at'
            when b.ended_at > s.as_of then 'ends after as_of'
            when coalesce(b.ended_at, s.as_of) < b.started_at then 'ends before it starts'
        end as problem
    from core.blocked_intervals as b
    cross join settings as s
    left join core.work_items as w on w.item_id = b.item_id
)

select * from final where problem is not null
