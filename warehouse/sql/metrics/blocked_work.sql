-- metrics.blocked_work: one row per value stream x block reason, over the window's items: how
-- much of their lead time they spent blocked for that reason (docs/contract.md §6). Per item and reason the
-- stretches are merged into their union before done_at, so overlapping stretches count once.
-- Only reasons with at least one item blocked for more than zero time get a row.
-- sort: value_stream, reason
with settings as (
    select window_start, as_of from core.build_settings
),

window_items as (
    select f.item_id, f.value_stream, f.created_at, f.done_at, f.lead_time_days
    from metrics.item_flow as f, settings as s
    where f.done_at > s.window_start and f.done_at <= s.as_of
),

clipped as (
    select
        b.item_id,
        b.reason,
        greatest(b.started_at, w.created_at) as b_start,
        least(coalesce(b.ended_at, s.as_of), w.done_at) as b_end
    from core.blocked_intervals as b
    inner join window_items as w on w.item_id = b.item_id
    cross join settings as s
),

-- Islands per item and reason: a stretch opens a new island when it starts after every
-- earlier one of the same reason has ended.
islands as (
    select item_id, reason, min(b_start) as u_start, max(b_end) as u_end
    from (
        select *, sum(case when b_start > prev_end then 1 else 0 end) over (
            partition by item_id, reason order by b_start, b_end
            rows between unbounded preceding and current row) as island
        from (
            select *, max(b_end) over (
                partition by item_id, reason order by b_start, b_end
                rows between unbounded preceding and 1 preceding) as prev_end
            from clipped
            where b_end > b_start
        )
    )
    group by item_id, reason, island
),

item_reasons as (
    select item_id, reason,
        sum(epoch_us(u_end) - epoch_us(u_start)) / 86400000000.0 as blocked_days
    from islands
    group by item_id, reason
),

source as (
    select w.value_stream, r.reason, r.blocked_days
    from item_reasons as r inner join window_items as w on w.item_id = r.item_id
    union all
    select 'all', reason, blocked_days
    from item_reasons
),

lead_totals as (
    select value_stream, sum(lead_time_days) as total_lead_days from window_items group by all
    union all
    select 'all', sum(lead_time_days) from window_items
),

grouped as (
    select
        value_stream,
        reason,
        count(*) as items,
        sum(blocked_days) as total_blocked_days,
        sum(blocked_days) / count(*) as mean_blocked_days,
        quantile_cont(blocked_days, 0.85) as p85_blocked_days
    from source
    group by all
),

final as (
    select
        g.value_stream,
        g.reason,
        g.items,
        g.total_blocked_days,
        g.mean_blocked_days,
        g.p85_blocked_days,
        case when l.total_lead_days > 0 then g.total_blocked_days / l.total_lead_days end
            as share_of_lead_time
    from grouped as g
    left join lead_totals as l on l.value_stream = g.value_stream
)

select * from final
