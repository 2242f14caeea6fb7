-- metrics.blocked_stages: one row per value stream x stage of metrics.value_stream_map, over the
-- window's items: the blocked part of each block of the value stream map. `blocked_time_days`
-- is the mean over the window's items (0 for items never blocked there, the same denominator as
-- the map's lead_time_days, so it is a share of that block) of the union of an item's blocked
-- stretches that lies in the stage's non-done intervals before done_at; `blocked_active_days`
-- the part of it in active intervals (touch time that was not touch time); `items_blocked`
-- the items blocked there for more than zero time.
-- sort: value_stream, stage_order, stage
with settings as (
    select window_start, as_of from core.build_settings
),

window_items as (
    select f.item_id, f.value_stream, f.created_at, f.done_at
    from metrics.item_flow as f, settings as s
    where f.done_at > s.window_start and f.done_at <= s.as_of
),

item_counts as (
    select value_stream, count(*) as window_items from window_items group by all
    union all
    select 'all', count(*) from window_items
),

clipped as (
    select
        b.item_id,
        greatest(b.started_at, w.created_at) as b_start,
        least(coalesce(b.ended_at, s.as_of), w.done_at) as b_end
    from core.blocked_intervals as b
    inner join window_items as w on w.item_id = b.item_id
    cross join settings as s
),

-- The union per item (islands), as in metrics.item_flow.
islands as (
    select item_id, min(b_start) as u_start, max(b_end) as u_end
    from (
        select *, sum(case when b_start > prev_end then 1 else 0 end) over (
            partition by item_id order by b_start, b_end
            rows between unbounded preceding and current row) as island
        from (
            select *, max(b_end) over (
                partition by item_id order by b_start, b_end
                rows between unbounded preceding and 1 preceding) as prev_end
            from clipped
            where b_end > b_start
        )
    )
    group by item_id, island
),

-- Overlap of the islands with the item's non-done intervals (they end by done_at).
per_item as (
    select
        i.item_id,
        i.stage,
        sum(epoch_us(least(u.u_end, i.exited_at)) - epoch_us(greatest(u.u_start, i.entered_at)))
            / 86400000000.0 as blocked_days,
        coalesce(sum(epoch_us(least(u.u_end, i.exited_at))
                     - epoch_us(greatest(u.u_start, i.entered_at)))
                 filter (where i.kind = 'active'), 0) / 86400000000.0 as blocked_active_days
    from islands as u
    inner join core.status_intervals as i
        on i.item_id = u.item_id and i.kind <> 'done'
        and i.entered_at < u.u_end and i.exited_at > u.u_start
    group by all
),

source as (
    select w.value_stream, p.* from per_item as p inner join window_items as w using (item_id)
    union all
    select 'all', p.* from per_item as p
),

grouped as (
    select
        value_stream,
        stage,
        count(*) filter (where blocked_days > 0) as items_blocked,
        sum(blocked_days) as blocked_days,
        sum(blocked_active_days) as blocked_active_days
    from source
    group by all
),

final as (
    select
        m.value_stream,
        m.stage,
        m.stage_order,
        coalesce(g.items_blocked, 0) as items_blocked,
        case when c.window_items > 0 then coalesce(g.blocked_days, 0) / c.window_items end
            as blocked_time_days,
        case when c.window_items > 0 then coalesce(g.blocked_active_days, 0) / c.window_items end
            as blocked_active_days
    from metrics.value_stream_map as m
    left join grouped as g on g.value_stream = m.value_stream and g.stage = m.stage
    left join item_counts as c on c.value_stream = m.value_stream
)

select * from final
