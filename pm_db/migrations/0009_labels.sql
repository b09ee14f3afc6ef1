-- Labels: a project's tags (name unique among its live labels, ignoring case; a colour),
-- attached to items many to many. An attachment is a row of its own, soft-deleted on detach
-- like every other row, so the audit trail and the events see attach and detach.
CREATE TABLE labels (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    color       TEXT NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    deleted_at  TEXT
);
CREATE UNIQUE INDEX labels_name ON labels (project_id, name COLLATE NOCASE)
    WHERE deleted_at IS NULL;

CREATE TABLE item_labels (
    id            TEXT PRIMARY KEY,
    project_id    TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    work_item_id  TEXT NOT NULL REFERENCES work_items (id) ON DELETE CASCADE,
    label_id      TEXT NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    created_by    TEXT NOT NULL REFERENCES users (id),
    version       INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    deleted_at    TEXT
);
-- One live attachment per item and label; the filter "items with these labels" and the
-- item's labels read it by item.
CREATE UNIQUE INDEX item_labels_item ON item_labels (work_item_id, label_id)
    WHERE deleted_at IS NULL;
-- Deleting a label detaches it from every item.
CREATE INDEX item_labels_label ON item_labels (label_id) WHERE deleted_at IS NULL;

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000150', NULL, 'schema_doc', 'labels',
        'Table labels: A project''s tags for items',
'Table labels: the tags of a project, attached to work items through item_labels.

Columns:
- id: TEXT primary key (UUIDv7).
- project_id: TEXT references projects(id).
- name: TEXT, 1-200 characters, single line; unique among the project''s live labels, ignoring case.
- color: TEXT ''#rrggbb'' (lower-case hex).
- version: INTEGER, optimistic-concurrency counter (see Versioning).
- created_at: TEXT time the row was created.
- updated_at: TEXT time of the last change (equals created_at until the first update).
- deleted_at: TEXT time of the soft delete; NULL while the row is live.

Keys and indexes: PRIMARY KEY (id); labels_name (project_id, name COLLATE NOCASE) unique over live rows.

Soft delete: deleting sets deleted_at (and bumps version); the row stays in the table. Every read must filter deleted_at IS NULL. Deleting a label soft-deletes its live item_labels rows.

Versioning: version is 1 on insert and grows by 1 on every update and on the delete; an update names the version it read and fails with CONFLICT when the row has moved on.

Formats: ids are TEXT (UUIDv7, time-ordered, so ORDER BY id is creation order; user ids are the token subject and may be any text). Times are TEXT in UTC, ISO 8601 with six-digit microseconds and a Z suffix (''2026-11-22T10:00:00.000000Z''): fixed width, so comparing or sorting them as text orders them by time, and julianday(), strftime() and datetime() accept them.',
NULL,
        70, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000151', NULL, 'schema_doc', 'item_labels',
        'Table item_labels: Labels attached to work items',
'Table item_labels: which label is attached to which work item (many to many). Detaching soft-deletes the row; attaching again adds a new one.

Columns:
- id: TEXT primary key (UUIDv7).
- project_id: TEXT references projects(id), the project of both the item and the label.
- work_item_id: TEXT references work_items(id).
- label_id: TEXT references labels(id).
- created_by: TEXT references users(id), who attached it.
- version: INTEGER, optimistic-concurrency counter (see Versioning).
- created_at: TEXT time the label was attached.
- updated_at: TEXT time of the last change (equals created_at until the first update).
- deleted_at: TEXT time it was detached (or its item or label deleted); NULL while attached.

Keys and indexes: PRIMARY KEY (id); item_labels_item (work_item_id, label_id) unique over live rows; item_labels_label (label_id) over live rows. Items with a label: SELECT w.* FROM work_items w JOIN item_labels il ON il.work_item_id = w.id AND il.deleted_at IS NULL WHERE il.label_id = ? AND w.deleted_at IS NULL.

Soft delete: deleting sets deleted_at (and bumps version); the row stays in the table. Every read must filter deleted_at IS NULL.

Versioning: version is 1 on insert and grows by 1 on every change and on the delete.

Formats: ids are TEXT (UUIDv7, time-ordered, so ORDER BY id is creation order; user ids are the token subject and may be any text). Times are TEXT in UTC, ISO 8601 with six-digit microseconds and a Z suffix (''2026-11-22T10:00:00.000000Z''): fixed width, so comparing or sorting them as text orders them by time, and julianday(), strftime() and datetime() accept them.',
NULL,
        70, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');
