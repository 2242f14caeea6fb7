-- metrics.item_flow: one row per (not deleted) item, done or not: its lead, cycle, process and
-- wait time, flow efficiency, backward moves and reopens, and the age of open items; blocked
-- time (the union of its core.blocked_intervals up to done_at, or as_of while open), the part of
-- it inside active intervals, and flow efficiency net of that part (docs/contract.md §6).
-- sort: value_stream, item_id
with settings as (
    select as_of from core.build_settings
),

items as (
    select item_id, value_stream, flow_type, status_kind, created_at, started_at, done_at,
        reopen_count
    from core.work_items
    where not is_deleted
),

-- Time by kind. For a done item every active/wait interval ends by done_at (done_at opens the
-- final done run), so "up to done_at" and "up to as_of" are the same sum.
times as (
    select
        item_id,
        coalesce(sum(duration_days) filter (where kind = 'active'), 0) as process_time_days,
        coalesce(sum(duration_days) filter (where kind = 'wait'), 0) as wait_time_days
    from core.status_intervals
    group by item_id
),

moves as (
    select item_id, count(*) as backward_moves
    from core.transitions
    where direction = 'backward'
    group by item_id
),

-- Blocked stretches clipped to [created_at, done_at or as_of], merged into their union
-- (islands: a stretch starts a new island when it begins after every earlier one has ended).
blocked_clipped as (
    select
        b.item_id,
        greatest(b.started_at, i.created_at) as b_start,
        least(coalesce(b.ended_at, s.as_of), coalesce(i.done_at, s.as_of)) as b_end
    from core.blocked_intervals as b
    inner join items as i on i.item_id = b.item_id
    cross join settings as s
),

blocked_islands as (
    select item_id, min(b_start) as u_start, max(b_end) as u_end
    from (
        select *, sum(case when b_start > prev_end then 1 else 0 end) over (
            partition by item_id order by b_start, b_end
            rows between unbounded preceding and current row) as island
        from (
            select *, max(b_end) over (
                partition by item_id order by b_start, b_end
                rows between unbounded preceding and 1 preceding) as prev_end
            from blocked_clipped
            where b_end > b_start
        )
    )
    group by item_id, island
),

-- The union's total per item.
blocked_total as (
    select item_id,
        sum(epoch_us(u_end) - epoch_us(u_start)) / 86400000000.0 as blocked_time_days
    from blocked_islands
    group by item_id
),

-- The part of the union that overlaps the item's active intervals (islands are disjoint and
-- so are intervals, so the pairwise overlaps add up without double counting).
blocked_active as (
    select u.item_id,
        sum(epoch_us(least(u.u_end, coalesce(a.exited_at, s.as_of)))
            - epoch_us(greatest(u.u_start, a.entered_at))) / 86400000000.0
            as blocked_active_days
    from blocked_islands as u
    cross join settings as s
    inner join core.status_intervals as a
        on a.item_id = u.item_id and a.kind = 'active'
        and a.entered_at < u.u_end and coalesce(a.exited_at, s.as_of) > u.u_start
    group by u.item_id
),

renamed as (
    select
        i.*,
        (epoch_us(i.done_at) - epoch_us(i.created_at)) / 86400000000.0 as lead_time_days,
        (epoch_us(i.done_at) - epoch_us(i.started_at)) / 86400000000.0 as cycle_time_days,
        coalesce(t.process_time_days, 0) as process_time_days,
        coalesce(t.wait_time_days, 0) as wait_time_days,
        coalesce(m.backward_moves, 0) as backward_moves,
        coalesce(bt.blocked_time_days, 0) as blocked_time_days,
        coalesce(ba.blocked_active_days, 0) as blocked_active_days,
        case
            when i.status_kind in ('wait', 'active')
                then (epoch_us(s.as_of) - epoch_us(i.created_at)) / 86400000000.0
        end as age_days
    from items as i
    cross join settings as s
    left join times as t on t.item_id = i.item_id
    left join moves as m on m.item_id = i.item_id
    left join blocked_total as bt on bt.item_id = i.item_id
    left join blocked_active as ba on ba.item_id = i.item_id
),

final as (
    select
        item_id,
        value_stream,
        flow_type,
        created_at,
        started_at,
        done_at,
        lead_time_days,
        cycle_time_days,
        process_time_days,
        wait_time_days,
        case when lead_time_days > 0 then process_time_days / lead_time_days end
            as flow_efficiency,
        backward_moves,
        reopen_count as reopens,
        age_days,
        blocked_time_days,
        blocked_active_days,
        case when lead_time_days > 0 then (process_time_days - blocked_active_days) / lead_time_days
        end as flow_efficiency_net
    from renamed
)

select * from final
