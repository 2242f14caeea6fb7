-- metrics.rework: one row per value stream x stage, over the window's items: how often work that left
-- a stage came back to it (%C/A, "percent complete and accurate"), and where rework was found.
-- sort: value_stream, stage_order, stage
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

window_items as (
    select f.item_id, f.value_stream
    from metrics.item_flow as f, settings as s
    where f.done_at > s.window_start and f.done_at <= s.as_of
),

transitions as (
    select t.item_id, t.seq, t.from_stage, t.to_stage, t.from_kind, t.to_kind, t.direction
    from core.transitions as t
    inner join window_items as w on w.item_id = t.item_id
),

-- One row per transition end: the stage it leaves and the stage it enters.
ends as (
    select item_id, seq, from_stage as stage, 'leave' as side, direction, from_kind, to_kind
    from transitions
    where from_stage is not null
    union all
    select item_id, seq, to_stage, 'enter', direction, from_kind, to_kind
    from transitions
    where to_stage is not null
),

per_item as (
    select
        item_id,
        stage,
        min(seq) filter (where side = 'leave' and direction = 'forward') as first_pass_seq,
        max(seq) filter (where side = 'enter' and direction = 'backward') as last_back_in_seq,
        bool_or(side = 'leave' and direction = 'backward') as returned_from,
        bool_or(side = 'enter' and from_kind = 'done' and to_kind not in ('done', 'dropped'))
            as reopened_into
    from ends
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
        count(*) filter (where first_pass_seq is not null) as items_passed,
        count(*) filter (where last_back_in_seq > first_pass_seq) as items_sent_back,
        count(*) filter (where returned_from) as items_returned_from,
        count(*) filter (where reopened_into) as reopened_items
    from source
    group by all
),

final as (
    select
        st.value_stream,
        sg.stage,
        sg.stage_order,
        coalesce(g.items_passed, 0) as items_passed,
        coalesce(g.items_sent_back, 0) as items_sent_back,
        coalesce(g.items_returned_from, 0) as items_returned_from,
        case
            when g.items_passed > 0 then 1 - g.items_sent_back / g.items_passed
        end as pct_complete_accurate,
        coalesce(g.reopened_items, 0) as reopened_items
    from streams as st
    cross join core.stages as sg
    left join grouped as g on g.value_stream = st.value_stream and g.stage = sg.stage
)

select * from final
