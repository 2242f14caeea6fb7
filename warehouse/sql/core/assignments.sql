-- core.assignments: one row per stretch an item spent with one owner (docs/contract.md §6), up to as_of.
-- ServiceNow: the assignment_group's name (sys_user_group; its sys_id when the name is
-- unknown); the first stretch starts at created_at with the insert row's value, else the oldest
-- change's old value, else the current value; each audited change starts the next stretch.
-- JIRA: the field named by handoffs.jira_field, the same way from its changelog (no rows when it
-- is not configured). An empty value is a stretch with owner NULL. The stretches of an item tile
-- [created_at, as_of]: the last one is open (ended_at NULL).
-- export: true
-- sort: item_id, seq
with settings as (
    select as_of from core.build_settings
),

servicenow_items as (
    select r.sys_id, 'servicenow:' || r.number as item_id,
        coalesce(r.opened_at, r.created_at, r.updated_at) as created_at,
        r.created_at as sys_created_on,
        r.assignment_group_id as current_value,
        r.assignment_group_name as current_name
    from raw.servicenow_records as r, settings as s
    where coalesce(r.opened_at, r.created_at, r.updated_at) <= s.as_of
),

-- assignment_group audit rows, the whole history: the first value comes from it even when its
-- change is after as_of (a past as_of reproduces the owner as it stood); `late` rows start no
-- stretch. An insert row (empty oldvalue, written at creation: checkpoint 0 or stamped no later
-- than sys_created_on) holds the initial value, not a change (docs/contract.md §4).
group_rows as (
    select
        i.item_id,
        c.changed_at,
        c.from_value,
        c.to_value,
        c.record_checkpoint,
        c.change_id,
        coalesce(c.from_value, '') = ''
            -- unknown (no checkpoint, no sys_created_on) is not an insert: the row stays a change
            and coalesce(c.record_checkpoint = 0 or c.changed_at <= i.sys_created_on, false)
            as is_insert,
        c.changed_at > s.as_of as late
    from raw.servicenow_field_changes as c
    inner join servicenow_items as i on i.sys_id = c.record_sys_id
    cross join settings as s
    where c.field_name = 'assignment_group'
),

servicenow_first as (
    select item_id,
        first(to_value order by changed_at, record_checkpoint, change_id)
            filter (where is_insert) as insert_value,
        first(from_value order by changed_at, record_checkpoint, change_id)
            filter (where not is_insert) as oldest_old_value
    from group_rows
    group by item_id
),

servicenow_steps as (
    select i.item_id, i.created_at as "at", 0 as k, null::timestamptz as recorded_at,
        null::bigint as tie_1, null::bigint as tie_2, null::varchar as tie_3,
        coalesce(f.insert_value, f.oldest_old_value, i.current_value) as owner_value
    from servicenow_items as i
    left join servicenow_first as f on f.item_id = i.item_id
    union all
    select r.item_id, greatest(r.changed_at, i.created_at), 1, r.changed_at,
        r.record_checkpoint, null, r.change_id, r.to_value
    from group_rows as r
    inner join servicenow_items as i on i.item_id = r.item_id
    where not r.is_insert and not r.late
),

-- A group's name: the catalogue's, else the name the record carries for its current group.
servicenow_named as (
    select
        t.item_id, t."at", t.k, t.recorded_at, t.tie_1, t.tie_2, t.tie_3,
        case
            when nullif(t.owner_value, '') is not null
                then coalesce(nullif(g.name, ''),
                              case when t.owner_value = i.current_value
                                   then nullif(i.current_name, '') end,
                              t.owner_value)
        end as owner
    from servicenow_steps as t
    inner join servicenow_items as i on i.item_id = t.item_id
    left join raw.servicenow_groups as g on g.sys_id = t.owner_value
),

jira_items as (
    select i.issue_id, 'jira:' || i.issue_key as item_id, i.created_at, i.payload
    from raw.jira_issues as i, settings as s
    where i.created_at <= s.as_of
),

-- The configured owner field's ids: the value itself when it is an id, and every catalogue
-- field of that name.
owner_fields as (
    select lower(h.jira_field) as wanted, f.field_id
    from core.handoff_settings as h
    left join raw.jira_fields as f
        on lower(f.name) = lower(h.jira_field) or lower(f.field_id) = lower(h.jira_field)
    where h.jira_field is not null
),

owner_rows as (
    select
        i.item_id,
        i.created_at,
        greatest(c.changed_at, i.created_at) as "at",
        c.changed_at as recorded_at,
        c.source_order,
        c.item_index,
        coalesce(nullif(c.from_string, ''), nullif(c.from_value, '')) as from_owner,
        coalesce(nullif(c.to_string, ''), nullif(c.to_value, '')) as to_owner,
        c.changed_at > s.as_of as late
    from raw.jira_field_changes as c
    inner join jira_items as i on i.issue_id = c.issue_id
    cross join settings as s
    where exists (
            select 1 from owner_fields as o
            where lower(c.field) = o.wanted or lower(c.field_id) = o.wanted
                or c.field_id = o.field_id
        )
),

-- The current value from the landed issue: an object's name/value, or a plain string.
jira_current as (
    select
        i.item_id,
        first(coalesce(
            json_extract_string(i.payload, '$.fields."' || o.field_id || '".name'),
            json_extract_string(i.payload, '$.fields."' || o.field_id || '".value'),
            json_extract_string(i.payload, '$.fields."' || o.field_id || '".title'),
            case when json_type(json_extract(i.payload, '$.fields."' || o.field_id || '"'))
                = 'VARCHAR'
                then json_extract_string(i.payload, '$.fields."' || o.field_id || '"') end
        ) order by o.field_id) as current_owner
    from jira_items as i
    cross join owner_fields as o
    where o.field_id is not null
    group by i.item_id
),

jira_first as (
    select item_id,
        first(from_owner order by recorded_at, source_order, item_index) as oldest_old_value,
        count(*) as changes
    from owner_rows
    group by item_id
),

jira_steps as (
    select i.item_id, i.created_at as "at", 0 as k, null::timestamptz as recorded_at,
        null::bigint as tie_1, null::bigint as tie_2, null::varchar as tie_3,
        case when f.changes > 0 then f.oldest_old_value else c.current_owner end as owner
    from jira_items as i
    left join jira_first as f on f.item_id = i.item_id
    left join jira_current as c on c.item_id = i.item_id
    where exists (select 1 from core.handoff_settings where jira_field is not null)
    union all
    select item_id, "at", 1, recorded_at, source_order, item_index, null, to_owner
    from owner_rows
    where not late
),

steps as (
    select * from servicenow_named
    union all
    select * from jira_steps
),

ordered as (
    select
        item_id,
        row_number() over w as seq,
        nullif(owner, '') as owner,
        "at" as started_at,
        lead("at") over w as ended_at
    from steps
    window w as (
        partition by item_id
        order by "at", k, recorded_at, tie_1 nulls last, tie_2 nulls last, tie_3
    )
),

final as (
    select
        o.item_id,
        o.seq,
        o.owner,
        o.started_at,
        o.ended_at,
        (epoch_us(coalesce(o.ended_at, s.as_of)) - epoch_us(o.started_at)) / 86400000000.0
            as duration_days
    from ordered as o, settings as s
)

select * from final
