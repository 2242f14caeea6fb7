-- core.blocked_intervals: one row per stretch an item was blocked (docs/contract.md §6), up to as_of.
-- Reasons: `flagged` (JIRA's Flagged field, from the entry that sets it to the one that clears
-- it), `blocked_by` (a "Blocks" link whose inward side is this item, from the Link entry that
-- adds it to its removal or the blocker's first entry into a `done` status after it was added,
-- whichever is first; source_detail = the blocker's key), `on_hold` (a ServiceNow incident in
-- state 3, split by its hold_reason history; source_detail = the reason's label, '' when none).
-- Stretches before created_at start at created_at; zero-length stretches are kept; overlapping
-- stretches stay separate rows (metrics use their union per item).
-- export: true
-- sort: item_id, seq
with settings as (
    select as_of from core.build_settings
),

jira_items as (
    select i.issue_id, 'jira:' || i.issue_key as item_id, i.created_at
    from raw.jira_issues as i, settings as s
    where i.created_at <= s.as_of
),

-- The site's Flagged field: by the recorded item name, or by the id GET /field gives the name.
flag_ids as (
    select field_id from raw.jira_fields where lower(name) = 'flagged'
),

-- Flag events in time order; `flagged_after` is the state the entry leaves (a non-empty
-- toString sets it, an empty one clears it). The state before the first entry is that entry's
-- fromString, so a flag set at creation (no entry) starts at created_at.
flag_changes as (
    select
        i.item_id,
        i.created_at,
        greatest(c.changed_at, i.created_at) as "at",
        c.changed_at as recorded_at,
        c.source_order,
        c.item_index,
        coalesce(nullif(c.to_string, ''), nullif(c.to_value, '')) is not null as flagged_after,
        coalesce(nullif(c.from_string, ''), nullif(c.from_value, '')) is not null
            as flagged_before
    from raw.jira_field_changes as c
    inner join jira_items as i on i.issue_id = c.issue_id
    cross join settings as s
    where c.changed_at <= s.as_of
        and (lower(c.field) = 'flagged' or c.field_id in (select field_id from flag_ids))
),

flag_events as (
    select item_id, "at", recorded_at, source_order, item_index, flagged_after as flagged
    from flag_changes
    union all
    -- the initial state at created_at, when the first entry says it was already set
    select item_id, created_at, null, null, null, true
    from flag_changes
    qualify row_number() over (
        partition by item_id order by "at", recorded_at, source_order, item_index
    ) = 1 and flagged_before
),

flag_ordered as (
    select
        item_id,
        "at",
        flagged,
        lag(flagged, 1, false) over w as was_flagged,
        row_number() over w as n
    from flag_events
    window w as (
        partition by item_id
        order by "at", recorded_at nulls first, source_order nulls first, item_index nulls first
    )
),

-- Only the entries that change the state: a set starts a stretch, the next clear ends it.
flag_edges as (
    select
        item_id,
        "at",
        flagged,
        lead("at") over (partition by item_id order by n) as next_at
    from flag_ordered
    where flagged <> was_flagged
),

flagged as (
    select item_id, 'flagged' as reason, '' as source_detail, "at" as started_at,
        next_at as ended_at
    from flag_edges
    where flagged
),

-- Link entries naming this item as the blocked side ("This issue is blocked by PAY-12").
-- The blocker's key is the entry's value, else the key at the end of its text.
link_changes as (
    select
        i.item_id,
        greatest(c.changed_at, i.created_at) as "at",
        c.changed_at as recorded_at,
        c.source_order,
        c.item_index,
        case
            when lower(c.to_string) like '%is blocked by%'
                then coalesce(nullif(c.to_value, ''),
                              regexp_extract(c.to_string, '([A-Za-z][A-Za-z0-9_]*-[0-9]+)\s*$', 1))
        end as added_key,
        case
            when lower(c.from_string) like '%is blocked by%'
                then coalesce(nullif(c.from_value, ''),
                              regexp_extract(c.from_string, '([A-Za-z][A-Za-z0-9_]*-[0-9]+)\s*$', 1))
        end as removed_key
    from raw.jira_field_changes as c
    inner join jira_items as i on i.issue_id = c.issue_id
    cross join settings as s
    where c.changed_at <= s.as_of and lower(c.field) = 'link'
),

link_events as (
    select item_id, added_key as blocker_key, true as linked, "at", recorded_at, source_order,
        item_index
    from link_changes
    where nullif(added_key, '') is not null
    union all
    select item_id, removed_key, false, "at", recorded_at, source_order, item_index
    from link_changes
    where nullif(removed_key, '') is not null
),

link_ordered as (
    select
        item_id,
        blocker_key,
        "at",
        linked,
        lag(linked, 1, false) over w as was_linked,
        row_number() over w as n
    from link_events
    window w as (
        partition by item_id, blocker_key order by "at", recorded_at, source_order, item_index
    )
),

link_edges as (
    select
        item_id,
        blocker_key,
        "at",
        linked,
        lead("at") over (partition by item_id, blocker_key order by n) as removed_at
    from link_ordered
    where linked <> was_linked
),

-- The blocker's done intervals (a blocker outside the warehouse has none; nor has one
-- deleted at the source: it has left the warehouse, so a nightly run and a full re-sync agree).
blocker_done as (
    select w.source_key, si.entered_at, si.exited_at
    from core.status_intervals as si
    inner join core.work_items as w on w.item_id = si.item_id
    where w.source = 'jira' and si.kind = 'done' and not w.is_deleted
),

-- The first done interval still running at or after the add: it ends the stretch at the
-- later of its start and the add (a blocker already done when linked blocks nothing: a
-- zero-length stretch). (greatest() skips NULLs, so the no-blocker case is kept apart.)
link_done as (
    select e.item_id, e.blocker_key, e."at", min(greatest(d.entered_at, e."at")) as done_at
    from link_edges as e
    inner join blocker_done as d
        on d.source_key = e.blocker_key
        and coalesce(d.exited_at, 'infinity'::timestamptz) > e."at"
    where e.linked
    group by e.item_id, e.blocker_key, e."at"
),

blocked_by as (
    select
        e.item_id,
        'blocked_by' as reason,
        e.blocker_key as source_detail,
        e."at" as started_at,
        case
            when d.done_at is null then e.removed_at
            when e.removed_at is null then d.done_at
            else least(e.removed_at, d.done_at)
        end as ended_at
    from link_edges as e
    left join link_done as d
        on d.item_id = e.item_id and d.blocker_key = e.blocker_key and d."at" = e."at"
    where e.linked
),

servicenow_items as (
    select r.sys_id, 'servicenow:' || r.number as item_id,
        coalesce(r.opened_at, r.created_at, r.updated_at) as created_at,
        r.created_at as sys_created_on,
        coalesce(r.payload ->> 'hold_reason', '') as current_reason
    from raw.servicenow_records as r, settings as s
    where r.table_name = 'incident'
        and coalesce(r.opened_at, r.created_at, r.updated_at) <= s.as_of
),

-- hold_reason audit rows. An insert row (empty oldvalue, written at creation: checkpoint 0 or
-- stamped no later than sys_created_on) holds the initial value, not a change (docs/contract.md §4).
reason_rows as (
    select
        i.item_id,
        i.created_at,
        i.current_reason,
        c.changed_at,
        c.from_value,
        c.to_value,
        c.record_checkpoint,
        c.change_id,
        coalesce(c.from_value, '') = ''
            and (c.record_checkpoint = 0 or c.changed_at <= i.sys_created_on) as is_insert
    from raw.servicenow_field_changes as c
    inner join servicenow_items as i on i.sys_id = c.record_sys_id
    cross join settings as s
    where c.field_name = 'hold_reason' and c.changed_at <= s.as_of
),

reason_initial as (
    select
        i.item_id,
        i.created_at,
        coalesce(
            (select first(r.to_value order by r.changed_at, r.record_checkpoint, r.change_id)
             from reason_rows as r where r.item_id = i.item_id and r.is_insert),
            (select first(r.from_value order by r.changed_at, r.record_checkpoint, r.change_id)
             from reason_rows as r where r.item_id = i.item_id and not r.is_insert),
            i.current_reason
        ) as reason_value
    from servicenow_items as i
),

reason_steps as (
    select item_id, created_at as "at", 0 as k, reason_value,
        null::bigint as checkpoint, null::varchar as change_id
    from reason_initial
    union all
    select item_id, greatest(changed_at, created_at), 1, to_value, record_checkpoint, change_id
    from reason_rows
    where not is_insert
),

-- The reason in force over [from_at, to_at); zero-length segments (two rows in one instant)
-- are dropped so the later value wins.
reason_segments as (
    select item_id, reason_value, from_at, to_at
    from (
        select
            item_id,
            reason_value,
            "at" as from_at,
            lead("at") over (
                partition by item_id order by "at", k, checkpoint nulls last, change_id
            ) as to_at
        from reason_steps
    )
    where to_at is null or to_at > from_at
),

hold_intervals as (
    select si.item_id, si.entered_at, si.exited_at
    from core.status_intervals as si
    inner join servicenow_items as i on i.item_id = si.item_id
    inner join core.status_map as m
        on m.source = 'servicenow' and m.scope = 'incident' and m.status_key = '3'
        and m.status = si.status
),

-- Each hold interval cut by the reason segments it overlaps (a zero-length hold takes the
-- reason in force at its instant).
on_hold as (
    select
        h.item_id,
        'on_hold' as reason,
        coalesce(ch.label, g.reason_value, '') as source_detail,
        greatest(h.entered_at, g.from_at) as started_at,
        case
            when h.exited_at is null and g.to_at is null then null
            else least(coalesce(h.exited_at, 'infinity'::timestamptz),
                       coalesce(g.to_at, 'infinity'::timestamptz))
        end as ended_at
    from hold_intervals as h
    inner join reason_segments as g
        on g.item_id = h.item_id
        and (
            (g.from_at < coalesce(h.exited_at, 'infinity'::timestamptz)
             and coalesce(g.to_at, 'infinity'::timestamptz) > h.entered_at)
            or (h.exited_at = h.entered_at and g.from_at <= h.entered_at
                and coalesce(g.to_at, 'infinity'::timestamptz) > h.entered_at)
        )
    left join raw.servicenow_choices as ch
        on ch.table_name = 'incident' and ch.element = 'hold_reason'
        and ch.value = g.reason_value
),

stretches as (
    select * from flagged
    union all
    select * from blocked_by
    union all
    select * from on_hold
),

final as (
    select
        t.item_id,
        row_number() over (
            partition by t.item_id order by t.started_at, t.reason, t.source_detail, t.ended_at
        ) as seq,
        t.reason,
        t.source_detail,
        t.started_at,
        t.ended_at,
        (epoch_us(coalesce(t.ended_at, s.as_of)) - epoch_us(t.started_at)) / 86400000000.0
            as duration_days
    from stretches as t, settings as s
)

select * from final
