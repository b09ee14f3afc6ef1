-- Work items in board order, live rows only. It serves the next position of a
-- new item (MAX(position) of a project: one index probe instead of a scan of
-- the project) and every list, which is ordered by (position, item_number):
-- a list searches the index from its page cursor and stops at its limit
-- instead of sorting the whole project (a selective filter still walks the
-- index until it has a page of matches).
CREATE INDEX work_items_order ON work_items (project_id, position, item_number)
    WHERE deleted_at IS NULL;
