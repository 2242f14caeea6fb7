-- core.work_items: one row per item created by as_of (deleted ones kept, flagged is_deleted).
-- Status, stage and kind come from the last status interval; value stream and flow type from
-- the configured rules (first match wins), then the flow-type defaults of docs/contract.md §2.1.
--
-- `jira` and `source` are read three times each (rule matching, type/label defaults, the final
-- row). They are NOT MATERIALIZED on purpose: a materialised CTE copies every column of 1M
-- items (titles, urls, label lists) once more before anything reads it, while each inlined read
-- scans raw with only the columns it needs (1M items: work_items ~10 % less CPU, same rows).
with settings as (
    select as_of, debt_regex, risk_types from core.build_settings
),

jira as not materialized (
    select
        'jira:' || i.issue_key as item_id,
        'jira' as source,
        i.issue_key as source_key,
        i.issue_type as source_type,
        i.summary as title,
        i.url,
        i.project_key as team,
        i.priority,
        coalesce(i.labels, []::varchar[]) as labels,
        i.parent_key,
        i.created_at,
        i.updated_at,
        i.is_deleted and coalesce(i.deleted_at <= s.as_of, true) as is_deleted,
        -- rule-matching fields, lower-cased once
        lower(i.project_key) as m_project,
        list_transform(coalesce(i.components, []::varchar[]), lambda x: lower(x)) as m_components,
        list_transform(coalesce(i.labels, []::varchar[]), lambda x: lower(x)) as m_labels,
        lower(i.issue_type) as m_type,
        lower(i.priority) as m_priority,
        null::varchar as m_group_name,
        null::varchar as m_group_id,
        null::varchar as m_table,
        null::varchar as m_category
    from raw.jira_issues as i, settings as s
    where i.created_at <= s.as_of
),

servicenow as (
    select
        'servicenow:' || r.number as item_id,
        'servicenow' as source,
        r.number as source_key,
        r.table_name as source_type,
        r.short_description as title,
        r.url,
        r.assignment_group_name as team,
        r.priority,
        []::varchar[] as labels,
        r.parent_key,
        coalesce(r.opened_at, r.created_at, r.updated_at) as created_at,
        r.updated_at,
        r.is_deleted and coalesce(r.deleted_at <= s.as_of, true) as is_deleted,
        null::varchar as m_project,
        []::varchar[] as m_components,
        []::varchar[] as m_labels,
        null::varchar as m_type,
        lower(r.priority) as m_priority,
        lower(r.assignment_group_name) as m_group_name,
        lower(r.assignment_group_id) as m_group_id,
        lower(r.table_name) as m_table,
        lower(r.category) as m_category
    from raw.servicenow_records as r, settings as s
    where coalesce(r.opened_at, r.created_at, r.updated_at) <= s.as_of
),

source as not materialized (
    select * from jira
    union all
    select * from servicenow
),

value_stream_match as (
    select i.item_id, arg_min(r.value_stream, r.rule_order) as value_stream
    from source as i
    inner join core.value_stream_rules as r on r.source = i.source
    where (len(r.projects) = 0 or list_contains(r.projects, i.m_project))
        and (len(r.components) = 0 or list_has_any(r.components, i.m_components))
        and (len(r.labels) = 0 or list_has_any(r.labels, i.m_labels))
        and (len(r.assignment_groups) = 0
            or list_contains(r.assignment_groups, i.m_group_name)
            or list_contains(r.assignment_groups, i.m_group_id))
        and (len(r.tables) = 0 or list_contains(r.tables, i.m_table))
    group by i.item_id
),

flow_type_match as (
    select i.item_id, arg_min(r.flow_type, r.rule_order) as flow_type
    from source as i
    inner join core.flow_type_rules as r on r.source = i.source
    where (len(r.issue_types) = 0 or list_contains(r.issue_types, i.m_type))
        and (len(r.labels) = 0 or list_has_any(r.labels, i.m_labels))
        and (len(r.components) = 0 or list_has_any(r.components, i.m_components))
        and (len(r.priorities) = 0 or list_contains(r.priorities, i.m_priority))
        and (len(r.tables) = 0 or list_contains(r.tables, i.m_table))
        and (len(r.categories) = 0 or list_contains(r.categories, i.m_category))
    group by i.item_id
),

-- The defaults of docs/contract.md §2.1. The debt pattern is evaluated once per distinct
-- type / label (a pattern held in a column is compiled per row, which would not scale), then
-- joined back.
jira_types as (
    select distinct source_type from jira where source_type is not null
),

default_types as (
    select
        t.source_type,
        case
            when lower(t.source_type) = 'bug' then 'defect'
            when regexp_matches(t.source_type, s.debt_regex, 'i') then 'debt'
            when list_contains(s.risk_types, lower(t.source_type)) then 'risk'
        end as flow_type
    from jira_types as t, settings as s
),

debt_labels as (
    select coalesce(list(l.label), []::varchar[]) as labels
    from (select distinct unnest(labels) as label from jira) as l, settings as s
    where regexp_matches(l.label, s.debt_regex, 'i')
),

-- Timeline facts per item: one grouped pass over core.status_intervals. The current status is
-- the open interval (exited_at NULL, exactly one per item, the last by seq), read by a filtered
-- any_value in the same pass rather than arg_max over every interval or a second scan + join.
intervals as (
    select
        item_id,
        any_value(status) filter (where exited_at is null) as status,
        any_value(stage) filter (where exited_at is null) as stage,
        any_value(kind) filter (where exited_at is null) as status_kind,
        min(entered_at) filter (where kind = 'active') as started_at,
        max(exited_at) filter (where kind is distinct from 'done') as last_not_done_at,
        max(entered_at) as last_change_at
    from core.status_intervals
    group by item_id
),

reopens as (
    select item_id, count(*) as reopen_count
    from core.transitions
    where from_kind = 'done' and to_kind not in ('done', 'dropped')
    group by item_id
),

final as (
    select
        i.item_id,
        i.source,
        i.source_key,
        i.source_type,
        i.title,
        i.url,
        coalesce(v.value_stream, 'unassigned') as value_stream,
        coalesce(
            f.flow_type,
            case
                when i.source = 'servicenow' and i.source_type = 'incident' then 'incident'
                when i.source = 'servicenow' and i.source_type = 'problem' then 'defect'
                when i.source = 'servicenow' then 'feature'
                when d.flow_type in ('defect', 'debt') then d.flow_type
                when list_has_any(i.labels, dl.labels) then 'debt'
                else coalesce(d.flow_type, 'feature')
            end
        ) as flow_type,
        i.team,
        i.priority,
        i.labels,
        i.parent_key,
        t.status,
        t.stage,
        t.status_kind,
        i.created_at,
        t.started_at,
        case
            when t.status_kind = 'done' then coalesce(t.last_not_done_at, i.created_at)
        end as done_at,
        case
            when i.updated_at <= s.as_of then i.updated_at
            else greatest(i.created_at, t.last_change_at)
        end as updated_at,
        coalesce(r.reopen_count, 0) as reopen_count,
        i.is_deleted
    from source as i
    cross join settings as s
    cross join debt_labels as dl
    left join intervals as t on t.item_id = i.item_id
    left join reopens as r on r.item_id = i.item_id
    left join value_stream_match as v on v.item_id = i.item_id
    left join flow_type_match as f on f.item_id = i.item_id
    left join default_types as d on d.source_type = i.source_type and i.source = 'jira'
)

select * from final
