-- Full-text search over work items: titles, descriptions and the bodies of their live
-- comments, one row per live item (FTS5, its rowid the item's rowid). Triggers keep it in the
-- same transaction as the rows it indexes, so a search never sees a write that did not commit
-- nor misses one that did. item_id is kept too: a search joins on both rowid and id, so an
-- index that went out of step with work_items (a VACUUM renumbers rowids) can miss items but
-- never show one item's text as another's.
CREATE VIRTUAL TABLE search_index USING fts5(
    title, description, comments, item_id UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2',
    -- Which column a word is in, not where: enough for prefix terms, bm25's column weights
    -- and snippets, and a third cheaper to write than positions (each create writes here).
    detail = column
);
-- bm25 with a title match worth ten times a description match, and twice a comment's less.
INSERT INTO search_index (search_index, rank) VALUES ('rank', 'bm25(10.0, 2.0, 1.0)');

CREATE TRIGGER search_item_created AFTER INSERT ON work_items
WHEN new.deleted_at IS NULL
BEGIN
    INSERT INTO search_index (rowid, title, description, comments, item_id)
    VALUES (new.rowid, new.title, new.description, '', new.id);
END;
-- The repository's UPDATE sets every column: only a changed title or description reindexes.
CREATE TRIGGER search_item_edited AFTER UPDATE OF title, description ON work_items
WHEN new.deleted_at IS NULL
    AND (new.title IS NOT old.title OR new.description IS NOT old.description)
BEGIN
    UPDATE search_index SET title = new.title, description = new.description
    WHERE rowid = new.rowid;
END;
CREATE TRIGGER search_item_deleted AFTER UPDATE OF deleted_at ON work_items
WHEN old.deleted_at IS NULL AND new.deleted_at IS NOT NULL
BEGIN
    DELETE FROM search_index WHERE rowid = old.rowid;
END;
CREATE TRIGGER search_comment_created AFTER INSERT ON comments
WHEN new.deleted_at IS NULL
BEGIN
    UPDATE search_index
    SET comments = (SELECT group_concat(body, char(10)) FROM comments
                    WHERE work_item_id = new.work_item_id AND deleted_at IS NULL)
    WHERE rowid = (SELECT rowid FROM work_items WHERE id = new.work_item_id);
END;
CREATE TRIGGER search_comment_changed AFTER UPDATE OF body, deleted_at ON comments
WHEN new.body IS NOT old.body OR new.deleted_at IS NOT old.deleted_at
BEGIN
    UPDATE search_index
    SET comments = coalesce((SELECT group_concat(body, char(10)) FROM comments
                             WHERE work_item_id = new.work_item_id AND deleted_at IS NULL), '')
    WHERE rowid = (SELECT rowid FROM work_items WHERE id = new.work_item_id);
END;

-- The items a tenant already has.
INSERT INTO search_index (rowid, title, description, comments, item_id)
SELECT w.rowid, w.title, w.description,
       coalesce((SELECT group_concat(c.body, char(10)) FROM comments AS c
                 WHERE c.work_item_id = w.id AND c.deleted_at IS NULL), ''),
       w.id
FROM work_items AS w
WHERE w.deleted_at IS NULL;

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000152', NULL, 'schema_doc', 'search_index',
        'Table search_index: Full-text search over work items',
'Table search_index: an FTS5 full-text index of the live work items, one row per item, kept up to date by triggers in the same transaction as the items and comments it indexes. Search it with MATCH and order by rank (bm25, a title match weighing most); do not write to it.

Columns:
- title: the item''s title.
- description: the item''s description.
- comments: the bodies of the item''s live comments, one per line.
- item_id: work_items.id (not indexed for search); its rowid is the item''s rowid.

Keys and indexes: the FTS5 index itself (tokenizer unicode61, diacritics removed; detail=column, so phrase queries are not supported: match single words or prefixes); no version and no deleted_at: a deleted item''s row is removed. Example: SELECT w.id, w.title, snippet(search_index, -1, ''['', '']'', ''...'', 12) FROM search_index s JOIN work_items w ON w.rowid = s.rowid AND w.id = s.item_id WHERE search_index MATCH ''"login"*'' AND w.deleted_at IS NULL ORDER BY s.rank LIMIT 20.

Formats: ids are TEXT (UUIDv7, time-ordered, so ORDER BY id is creation order; user ids are the token subject and may be any text). Times are TEXT in UTC, ISO 8601 with six-digit microseconds and a Z suffix (''2026-11-22T10:00:00.000000Z''): fixed width, so comparing or sorting them as text orders them by time, and julianday(), strftime() and datetime() accept them.',
NULL,
        70, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');
