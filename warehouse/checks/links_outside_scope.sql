-- Links that point outside the warehouse: many of them mean the sync's scope is probably too
-- narrow (a JQL that leaves out projects the changes implement, change_request or problem not
-- in sources.servicenow.tables, an encoded query that leaves the causing changes out).
-- name: links_outside_scope
-- blocking: false
-- attach: core.item_links
--
-- Offending rows: one per link kind of which at least 10 references, and more than 20 % of
-- the kind's references, name a record the warehouse does not hold at all (never landed).
-- A few are normal (a mistyped key, an archived project); the thresholds are in docs/metrics.md.
-- References to records landed but created after as_of are not counted; to deleted ones are.
with thresholds as (
    select 10 as min_outside, 0.20 as max_share
),

refs as (
    select r.kind, r.target_item, r.target_landed, r.target
    from core.link_references as r
    inner join core.work_items as w on w.item_id = r.from_item
    where not w.is_deleted
),

per_kind as (
    select
        kind,
        count(*) as references_found,
        count(*) filter (where target_item is null and not target_landed) as outside,
        list(distinct target order by target)
            filter (where target_item is null and not target_landed)[1:5] as examples
    from refs
    group by kind
)

select
    p.kind,
    p.references_found,
    p.outside,
    round(p.outside / p.references_found, 3) as outside_share,
    p.examples
from per_kind as p, thresholds as t
where p.outside >= t.min_outside and p.outside / p.references_found > t.max_share
order by p.kind
