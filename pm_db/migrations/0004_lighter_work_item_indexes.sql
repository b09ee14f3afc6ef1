-- Every index of work_items is written on every create: keep only what a query reads.
-- work_items_status served no query (lists walk work_items_order, migration 3).
DROP INDEX work_items_status;
-- Items without a parent, a sprint or an assignee are never looked up by that column
-- (the backlog and "unassigned" filters walk the board order), so they need no entry:
-- a create without them writes three index entries fewer. "x = ?" implies x IS NOT NULL,
-- so every lookup by one of these columns still uses its index.
DROP INDEX work_items_parent;
DROP INDEX work_items_sprint;
DROP INDEX work_items_assignee;
CREATE INDEX work_items_parent ON work_items (parent_id)
    WHERE parent_id IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX work_items_sprint ON work_items (sprint_id)
    WHERE sprint_id IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX work_items_assignee ON work_items (assignee_id)
    WHERE assignee_id IS NOT NULL AND deleted_at IS NULL;
