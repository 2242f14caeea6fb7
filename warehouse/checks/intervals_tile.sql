-- Each item's status intervals tile [created_at, as_of] with no gap and no overlap.
-- name: intervals_tile
-- blocking: true
--
-- Offending rows: status intervals that do not tile [created_at, as_of] (a gap or an overlap
-- with the previous interval, a first interval not at created_at, a last one still closed).
with settings as (
    select as_of from core.build_settings
),

ordered as (
    select
        i.item_id,
        i.seq,
        i.entered_at,
        i.exited_at,
        w.created_at,
        lag(i.exited_at) over (partition by i.item_id order by i.seq) as previous_exit,
        lead(i.seq) over (partition by i.item_id order by i.seq) as next_seq
    from core.status_intervals as i
    inner join core.work_items as w on w.item_id = i.item_id
),

final as (
    select
        o.item_id,
        o.seq,
        case
            when o.seq = 1 and o.entered_at <> o.created_at then 'first interval not at created_at'
            when o.seq > 1 and o.entered_at <> o.previous_exit then 'gap or overlap'
            when o.next_seq is null and o.exited_at is not null then 'last interval closed'
            when o.next_seq is not null and o.exited_at is null then 'open interval not last'
            when coalesce(o.exited_at, s.as_of) < o.entered_at then 'ends before it starts'
        end as problem
    from ordered as o, settings as s
)

select * from final where problem is not null
union all
select w.item_id, null, 'item without intervals'
from core.work_items as w
anti join core.status_intervals as i on i.item_id = w.item_id
