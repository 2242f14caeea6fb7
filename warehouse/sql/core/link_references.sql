-- core.link_references: one row per reference a warehouse item's current fields make to another
-- record (found or not): an incident's caused_by / problem_id, a JIRA issue's parent, a JIRA key
-- in a change request's configured fields or short description. core.item_links keeps the ones
-- whose target is in the warehouse; the rest are counted by the links_outside_scope check.
--
-- `target` is what the field holds: a sys_id for ServiceNow references, an upper-cased issue
-- key for JIRA ones. `target_item` is the warehouse item it names (NULL when none: the record
-- is not landed, was deleted, or was created after as_of). `target_landed` (in raw and not
-- deleted) tells those apart, so the check counts only references to records the warehouse
-- does not hold at all.
--
-- JIRA keys are whole words, case-insensitive: a key is `[A-Z][A-Z0-9_]+-[0-9]+` not preceded
-- by a letter, digit, `_` or `-` and not followed by a letter, digit or `_` (so PAY-1 is not
-- read out of PAY-12 or XPAY-1, and is read out of "PAY-1-hotfix"). RE2 has no lookaround, so
-- every separator other than `-` is doubled first: one copy ends a key, the next starts one.
-- Text search is noisy ("UTF-8", "SHA-256"): a key found only in short_description whose
-- project has no issue in raw is not a reference at all; in a configured field it is one.
-- sort: from_item, kind, target
with settings as (
    select change_request_fields, search_text from core.link_settings
),

-- Live items only: a record deleted at the source (or gone from the scope) neither links nor
-- is linked to, so the nightly warehouse holds the same links as a full re-sync would.
items as (
    select item_id, source, source_key, source_type from core.work_items
    where not is_deleted
),

snow as (
    select r.sys_id, r.table_name, r.number, r.short_description, r.payload
    from raw.servicenow_records as r
),

-- Reference fields arrive as {link, value} or as a bare sys_id (exclude_reference_link).
snow_refs as (
    select
        'servicenow:' || s.number as from_item,
        f.kind,
        f.field as via,
        f.target_table,
        coalesce(
            s.payload -> f.field ->> 'value',
            case when json_type(s.payload -> f.field) = 'VARCHAR' then s.payload ->> f.field end
        ) as target
    from snow as s
    cross join (
        values ('caused_by', 'caused_by', 'change_request'), ('problem', 'problem_id', 'problem')
    ) as f (kind, field, target_table)
    where s.table_name = 'incident'
),

snow_links as (
    select
        r.from_item, r.kind, r.via, r.target,
        'servicenow:' || t.number as target_key_item
    from snow_refs as r
    left join snow as t on t.sys_id = r.target and t.table_name = r.target_table
    where nullif(trim(r.target), '') is not null
),

-- Configured fields first (in config order), short_description last: the first field that
-- names a key is the link's `via`.
change_texts as (
    select
        'servicenow:' || s.number as from_item,
        f.field as via,
        f.field_order,
        upper(coalesce(s.payload -> f.field ->> 'value', s.payload ->> f.field)) as text,
        false as from_text
    from snow as s, settings as st,
        unnest(st.change_request_fields) with ordinality as f (field, field_order)
    where s.table_name = 'change_request'
    union all
    select
        'servicenow:' || s.number, 'short_description', 1000000, upper(s.short_description),
        true
    from snow as s, settings as st
    where s.table_name = 'change_request' and st.search_text
),

change_keys as (
    select from_item, via, field_order, from_text,
        unnest(regexp_extract_all(
            regexp_replace(text, '([^\pL\pN_-])', '\1\1', 'g'),
            '(?:^|[^\pL\pN_-])([A-Z][A-Z0-9_]+-[0-9]+)(?:$|[^\pL\pN_])',
            1
        )) as target
    from change_texts
    where text is not null
),

jira_projects as (
    select distinct upper(project_key) as project from raw.jira_issues
    union
    select distinct upper(split_part(issue_key, '-', 1)) from raw.jira_issues
),

implements as (
    select
        k.from_item,
        'implements' as kind,
        arg_min(k.via, k.field_order) as via,
        k.target,
        'jira:' || k.target as target_key_item
    from change_keys as k
    where not k.from_text
        or split_part(k.target, '-', 1) in (select project from jira_projects)
    group by k.from_item, k.target
),

parents as (
    select
        'jira:' || i.issue_key as from_item, 'parent' as kind, 'parent' as via,
        i.parent_key as target, 'jira:' || i.parent_key as target_key_item
    from raw.jira_issues as i
    where nullif(trim(i.parent_key), '') is not null
),

refs as (
    select from_item, kind, via, target, target_key_item from snow_links
    union all
    select from_item, kind, via, target, target_key_item from implements
    union all
    select from_item, kind, via, target, target_key_item from parents
),

landed as (
    select 'jira:' || issue_key as item_id from raw.jira_issues where not is_deleted
    union all
    select 'servicenow:' || number from raw.servicenow_records where not is_deleted
)

select
    r.from_item,
    t.item_id as target_item,
    r.kind,
    r.via,
    r.target,
    coalesce(r.target_key_item in (select item_id from landed), false) as target_landed
from refs as r
inner join items as f on f.item_id = r.from_item
left join items as t on t.item_id = r.target_key_item and t.item_id <> r.from_item
