-- Every item_id appears once in core.work_items.
-- name: unique_item_ids
-- blocking: true
--
-- Offending rows: item ids held by more than one work item.
select item_id, count(*) as copies
from core.work_items
group by item_id
having count(*) > 1
