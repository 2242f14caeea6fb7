-- A raw layer for scale, generated in DuckDB with SQL only (range() + hash() pseudo-random, no
-- Python loop per row). sandbox/warehouse_gen.py runs it statement by statement on a
-- bootstrapped warehouse. A template, not a model: the brace placeholders (the status
-- catalogue and the two sizes) are filled in by the generator from its own constants, never
-- from user input; $as_of is a bound parameter.
create or replace table raw.jira_statuses as
select * from (values {statuses}) as s(status_id, name, category_key),
    lateral (select null::json as payload, $as_of::timestamptz as synced_at);

create or replace temp table path as
select * from (values (0, '1'), (1, '3'), (2, '4'), (3, '7'), (4, '8'), (5, '9'), (6, '10'),
                      (7, '11')) as p(pos, status_id);

-- one row per issue: its shape
create or replace temp table gen_issue as
select
    i,
    (hash(i, 'k') % 19)::bigint + 1 as k,                                   -- 1..19 transitions, mean 10
    ['PAY', 'WEB', 'PLAT', 'OPS'][(hash(i, 'p') % 4)::bigint + 1] as project,
    ['Story', 'Story', 'Story', 'Bug', 'Bug', 'Task', 'Tech Debt', 'Vulnerability']
        [(hash(i, 't') % 8)::bigint + 1] as issue_type,
    (hash(i, 'o') % 100)::bigint as fate,                       -- < 25 open, 25..27 dropped, else done
    $as_of::timestamptz - to_microseconds(((hash(i, 'c') % (400 * 86400000000))::bigint)::bigint)
        as created_at,
    to_microseconds(((hash(i, 'd') % (60 * 86400000000))::bigint + 3600000000)::bigint) as span
from range({n_jira}) as r(i);

-- one row per status change: a walk along the path with detours
create or replace temp table gen_change as
with steps as (
    select g.i, j, g.k, g.fate, g.created_at, g.span, (hash(g.i, j, 'n') % 100)::bigint as noise
    from gen_issue as g, range(1, g.k + 1) as s(j)
),
walk as (
    select *,
        case
            when j = k and fate >= 28 then 7                        -- ends in Done
            when j = k and fate between 25 and 27 then -2           -- ends in Won't Do
            else least(6, (j * 7) // (k + 1))
        end as base_pos
    from steps
),
named as (
    select w.*,
        case
            when base_pos = -2 then '12'
            when base_pos < 7 and noise < 8 then '5'                 -- Blocked
            when base_pos between 2 and 6 and noise between 8 and 13
                then (select status_id from path where pos = w.base_pos - 1)  -- backward
            when base_pos = 7 and noise < 4 and j < k then '6'      -- (unused; keeps shape)
            else (select status_id from path where pos = w.base_pos)
        end as to_id
    from walk as w
)
select
    i, j,
    least(created_at + to_microseconds((epoch_us(created_at + span) - epoch_us(created_at))
                                       * j // (k + 1)), $as_of::timestamptz) as changed_at,
    to_id,
    coalesce(lag(to_id) over (partition by i order by j), '1') as from_id
from named;

-- reopens: 3% of done issues get Done -> Reopened -> In Progress -> ... -> Done at the end
insert into gen_change
select c.i, c.j + d.n, c.changed_at + to_microseconds(d.n * 3600000000), d.to_id, d.from_id
from gen_change as c
join gen_issue as g on g.i = c.i and c.j = g.k
cross join (values (1, '6', '11'), (2, '4', '6'), (3, '11', '4')) as d(n, to_id, from_id)
where g.fate >= 97 and c.changed_at < $as_of::timestamptz - interval 4 hour;

create or replace table raw.jira_status_changes as
select
    (c.i + 10000)::varchar as issue_id,
    (c.i * 100 + c.j)::varchar as history_id,
    0 as item_index,
    c.changed_at,
    'user ' || ((hash(c.i, c.j, 'a') % 50)::bigint)::varchar as author,
    c.from_id as from_status_id, fs.name as from_status,
    c.to_id as to_status_id, ts.name as to_status,
    c.j::bigint as source_order,
    null::json as payload
from gen_change as c
join raw.jira_statuses as fs on fs.status_id = c.from_id
join raw.jira_statuses as ts on ts.status_id = c.to_id;

create or replace table raw.jira_issues as
with last as (
    select i, arg_max(to_id, j) as status_id from gen_change group by i
)
select
    (g.i + 10000)::varchar as issue_id,
    g.project || '-' || (g.i + 1)::varchar as issue_key,
    g.project as project_key,
    g.issue_type,
    'Generated issue ' || g.i::varchar as summary,
    l.status_id,
    s.name as status_name,
    s.category_key as status_category,
    ['Low', 'Medium', 'High'][(hash(g.i, 'pr') % 3)::bigint + 1] as priority,
    case when (hash(g.i, 'l') % 10)::bigint = 0 then ['tech-debt'] else []::varchar[] end as labels,
    []::varchar[] as components,
    null::varchar as parent_key,
    g.created_at,
    least(g.created_at + g.span, $as_of::timestamptz) as updated_at,
    'https://example.atlassian.net/browse/' || g.project || '-' || (g.i + 1)::varchar as url,
    g.k::integer as changelog_total,
    g.k::integer as status_histories,
    '{{}}'::json as payload,
    $as_of::timestamptz as synced_at,
    false as is_deleted,
    null::timestamptz as deleted_at
from gen_issue as g
join last as l on l.i = g.i
join raw.jira_statuses as s on s.status_id = l.status_id;

-- ServiceNow incidents: New -> In Progress (<-> On Hold) -> Resolved -> Closed / Canceled
create or replace temp table gen_inc as
select
    i,
    (hash(i, 'sk') % 6)::bigint + 1 as holds,                                 -- 1..6 hold detours
    (hash(i, 'sf') % 100)::bigint as fate,
    ['Payments Ops', 'Web Ops', 'Platform Ops', 'Database', 'Service Desk']
        [(hash(i, 'sg') % 5)::bigint + 1] as grp,
    $as_of::timestamptz - to_microseconds(((hash(i, 'sc') % (200 * 86400000000))::bigint)::bigint)
        as created_at,
    to_microseconds(((hash(i, 'sd') % (20 * 86400000000))::bigint + 600000000)::bigint) as span
from range({n_snow}) as r(i);

create or replace temp table gen_inc_change as
with seqs as (
    select g.*, j, 2 * g.holds + 3 as k from gen_inc as g, range(1, 2 * g.holds + 4) as s(j)
),
named as (
    select *,
        case
            when j = 1 then '2'
            when j < k - 1 then case when j % 2 = 0 then '3' else '2' end
            when j = k - 1 then case when fate < 20 then '2' when fate < 23 then '8' else '6' end
            else case when fate < 20 then '3' when fate < 23 then null else '7' end
        end as to_value
    from seqs
)
select i, j, grp,
    least(created_at + to_microseconds((epoch_us(created_at + span) - epoch_us(created_at))
                                       * j // (k + 1)), $as_of::timestamptz) as changed_at,
    to_value,
    coalesce(lag(to_value) over (partition by i order by j), '1') as from_value
from named
where to_value is not null;

create or replace table raw.servicenow_state_changes as
select
    md5('audit' || i::varchar || '-' || j::varchar) as change_id,
    'incident' as table_name,
    md5('inc' || i::varchar) as record_sys_id,
    changed_at, from_value, to_value,
    'agent ' || ((hash(i, j) % 40)::bigint)::varchar as author,
    j::bigint as record_checkpoint,
    'sys_audit' as history_source,
    null::json as payload
from gen_inc_change;

create or replace table raw.servicenow_records as
with last as (select i, arg_max(to_value, j) as state, max(changed_at) as upd
              from gen_inc_change group by i)
select
    md5('inc' || g.i::varchar) as sys_id,
    'incident' as table_name,
    'INC' || lpad((g.i + 1)::varchar, 7, '0') as number,
    'Generated incident ' || g.i::varchar as short_description,
    l.state,
    ((hash(g.i, 'spr') % 4)::bigint + 1)::varchar as priority,
    'software' as category,
    md5(g.grp) as assignment_group_id,
    g.grp as assignment_group_name,
    null::varchar as parent_key,
    g.created_at as opened_at,
    g.created_at,
    l.upd as updated_at,
    'https://example.service-now.com/nav_to.do?uri=incident.do?sys_id=' || md5('inc' || g.i::varchar) as url,
    '{{}}'::json as payload,
    $as_of::timestamptz as synced_at,
    false as is_deleted,
    null::timestamptz as deleted_at
from gen_inc as g join last as l on l.i = g.i;

insert into raw.servicenow_choices
select 'incident', 'state', v, lbl, s, false, $as_of::timestamptz
from (values ('1', 'New', 1), ('2', 'In Progress', 2), ('3', 'On Hold', 3), ('6', 'Resolved', 6),
             ('7', 'Closed', 7), ('8', 'Canceled', 8)) as t(v, lbl, s);
