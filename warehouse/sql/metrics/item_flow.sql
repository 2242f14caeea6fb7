-- metrics.item_flow: one row per (not deleted) item, done or not: its lead, cycle, process and
-- wait time, flow efficiency, backward moves and reopens, and the age of open items.
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

renamed as (
    select
        i.*,
        (epoch_us(i.done_at) - epoch_us(i.created_at)) / 86400000000.0 as lead_time_days,
        (epoch_us(i.done_at) - epoch_us(i.started_at)) / 86400000000.0 as cycle_time_days,
        coalesce(t.process_time_days, 0) as process_time_days,
        coalesce(t.wait_time_days, 0) as wait_time_days,
        coalesce(m.backward_moves, 0) as backward_moves,
        case
            when i.status_kind in ('wait', 'active')
                then (epoch_us(s.as_of) - epoch_us(i.created_at)) / 86400000000.0
        end as age_days
    from items as i
    cross join settings as s
    left join times as t on t.item_id = i.item_id
    left join moves as m on m.item_id = i.item_id
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
        age_days
    from renamed
)

select * from final
