-- The metrics benchmark's like-for-like query (benchmarks/bench_metrics.py, same_work_child):
-- exactly what its pandas side computes, as plain SQL over the raw and parameter tables.
with s as (
    select as_of, window_start from core.build_settings
),
streams as (
    select 'jira' as src, unnest(projects) as team, value_stream, rule_order
    from core.value_stream_rules where source = 'jira'
    union all
    select 'servicenow', unnest(assignment_groups), value_stream, rule_order
    from core.value_stream_rules where source = 'servicenow'
),
items as (
    select 'jira:' || i.issue_id as item, i.created_at as created, 'jira' as src,
        lower(i.project_key) as team
    from raw.jira_issues as i
    union all
    select 'servicenow:' || r.sys_id, r.opened_at, 'servicenow', lower(r.assignment_group_name)
    from raw.servicenow_records as r
),
items_vs as (
    select i.item, i.created, coalesce(arg_max(v.value_stream, v.rule_order), 'unassigned') as vs
    from items as i left join streams as v on v.src = i.src and v.team = i.team
    group by all
),
lookup as (
    select source as src, case when source = 'jira' then lower(status) else status_key end as key,
        stage, kind
    from core.status_map
),
ch as (
    select 'jira:' || issue_id as item, changed_at as "at", source_order as ord,
        from_status as frm, to_status as "to", 'jira' as src
    from raw.jira_status_changes
    union all
    select 'servicenow:' || record_sys_id, changed_at, record_checkpoint, from_value, to_value,
        'servicenow'
    from raw.servicenow_state_changes
),
numbered as (
    select c.item, c.src, c.frm, c."to", i.created, greatest(c."at", i.created) as "at",
        row_number() over w as n,
        lead(greatest(c."at", i.created)) over w as next_at
    from ch as c inner join items_vs as i on i.item = c.item, s
    where c."at" <= s.as_of
    window w as (partition by c.item order by greatest(c."at", i.created), c.ord)
),
iv as (
    select item, src, frm as status, created as entered, "at" as exited, 0 as k
    from numbered where n = 1
    union all
    select item, src, "to", "at", next_at, n from numbered
),
mapped as (
    select iv.*, coalesce(l.stage, '?') as stage, coalesce(l.kind, '?') as kind,
        (epoch_us(coalesce(iv.exited, s.as_of)) - epoch_us(iv.entered)) / 86400000000.0 as days,
        lag(coalesce(l.kind, '?')) over (partition by iv.item order by iv.k) as prev_kind,
        iv.exited is null as is_last
    from iv
    left join lookup as l on l.src = iv.src and l.key = lower(iv.status), s
),
flow as (
    select i.item, i.vs,
        case when bool_or(m.is_last and m.kind = 'done') then
            max(m.entered) filter (where m.kind = 'done' and m.prev_kind is distinct from 'done')
        end as done_at,
        i.created
    from items_vs as i inner join mapped as m on m.item = i.item
    group by all
),
win as (
    select item, vs, (epoch_us(done_at) - epoch_us(created)) / 86400000000.0 as lead_days
    from flow, s where done_at > s.window_start and done_at <= s.as_of
),
per_item as (
    select w.vs, m.stage, m.status, m.item, sum(m.days) as days
    from mapped as m inner join win as w on w.item = m.item
    where m.kind = 'wait'
    group by all
    having sum(m.days) > 0
),
both_ as (
    select vs, stage, status, days from per_item
    union all
    select 'all', stage, status, days from per_item
),
lead_total as (
    select vs, sum(lead_days) as total from win group by vs
    union all
    select 'all', sum(lead_days) from win
),
waits as (
    select b.vs, b.stage, b.status, count(*) as items, sum(days) as total_wait_days,
        avg(days) as mean_wait_days, quantile_cont(days, 0.85) as p85_wait_days,
        sum(days) / any_value(l.total) as share_of_lead_time
    from both_ as b inner join lead_total as l on l.vs = b.vs
    group by all
)
select
    (select count(*) from flow where done_at is not null) as done_items,
    (select count(*) from waits) as wait_rows,
    (select count(*) from win) as window_items,
    (select sum(lead_days) from win) as window_lead_days,
    (select sum(items) from waits where vs = 'all') as all_wait_items,
    (select sum(total_wait_days) from waits where vs = 'all') as all_wait_days
