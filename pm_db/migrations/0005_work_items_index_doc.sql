-- The seeded schema_doc row of work_items (migration 2) tells agents which indexes exist:
-- it names those migration 4 left.
UPDATE llm_context
SET content = replace(
        content,
        'indexes on live rows: work_items_status (project_id, status, position), '
            || 'work_items_parent (parent_id), work_items_sprint (sprint_id), '
            || 'work_items_assignee (assignee_id).',
        'indexes on live rows: work_items_order (project_id, position, item_number), and, '
            || 'over the rows that have one, work_items_parent (parent_id), '
            || 'work_items_sprint (sprint_id), work_items_assignee (assignee_id).'
    ),
    version = version + 1,
    updated_at = strftime('%Y-%m-%dT%H:%M:%S', 'now') || '.000000Z'
WHERE id = '00000000-0000-7000-8000-000000000006'
  AND instr(content, 'work_items_status (project_id, status, position)') > 0;
