-- core.item_links: one row per link between two items of the warehouse, from their current
-- fields: `caused_by` (incident -> the change request its caused_by names), `problem`
-- (incident -> its problem_id), `parent` (JIRA fields.parent), `implements` (change request ->
-- a JIRA issue whose key is in one of links.change_request_fields or, with links.search_text,
-- a whole word of its short_description). `via` names the field that holds the link (the first
-- configured field that does, short_description last). Both ends are live items: a record
-- deleted at the source has no links (as after a full re-sync). References to records outside
-- the warehouse are in core.link_references with target_item NULL.
--
-- sort: from_item, kind, to_item
-- export: true
select
    from_item,
    target_item as to_item,
    kind,
    via
from core.link_references
where target_item is not null
