-- Items get a start date and a due date: calendar dates ('2026-12-07'), not instants, so
-- an item due on a day is due that day wherever its readers are.
ALTER TABLE work_items ADD COLUMN start_date TEXT;
ALTER TABLE work_items ADD COLUMN due_date TEXT;
-- No index: the "overdue" and "due before" filters of a list walk the board order
-- (work_items_order) like the other filters, and an index would cost every create.
-- The seeded schema_doc row of work_items (migration 2) lists every column and index.
UPDATE llm_context
SET content = replace(
            content,
            '- deleted_at: TEXT time of the soft delete; NULL while the row is live.',
            '- deleted_at: TEXT time of the soft delete; NULL while the row is live.'
                || char(10) || '- start_date: TEXT calendar date ''YYYY-MM-DD'' (no time, '
                || 'no zone) the work starts, or NULL.'
                || char(10) || '- due_date: TEXT calendar date ''YYYY-MM-DD'' the item is due, '
                || 'or NULL; overdue means due_date < date(''now'') and status <> ''done''.'
    ),
    version = version + 1,
    updated_at = strftime('%Y-%m-%dT%H:%M:%S', 'now') || '.000000Z'
WHERE id = '00000000-0000-7000-8000-000000000006'
  AND instr(content, '- start_date:') = 0;
