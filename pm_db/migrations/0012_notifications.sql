-- Notifications: who watches which item, and each user's inbox. An item's creator and its
-- assignee watch it with no row (so a create writes nothing more); a watch row is a user's
-- own choice, to watch (watching = 1) or not (0, an unwatched creator or assignee).
-- An inbox row is written in the same
-- transaction as the change that causes it; its seq is that change's event seq, one row per
-- user and event at most (notifications_user_seq), which is also the order of the inbox and
-- the position a resume of the user's inbox subscription counts from.
CREATE TABLE watches (
    id            TEXT PRIMARY KEY,
    project_id    TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    work_item_id  TEXT NOT NULL REFERENCES work_items (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users (id),
    watching      INTEGER NOT NULL DEFAULT 1 CHECK (watching IN (0, 1)),
    version       INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    deleted_at    TEXT
);
CREATE UNIQUE INDEX watches_item_user ON watches (work_item_id, user_id)
    WHERE deleted_at IS NULL;

CREATE TABLE notifications (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id),
    project_id    TEXT NOT NULL REFERENCES projects (id),
    work_item_id  TEXT NOT NULL REFERENCES work_items (id),
    comment_id    TEXT REFERENCES comments (id),
    actor_id      TEXT NOT NULL REFERENCES users (id),
    reason        TEXT NOT NULL CHECK (reason IN ('assigned', 'mentioned', 'watched')),
    seq           INTEGER NOT NULL CHECK (seq >= 1),
    read_at       TEXT,
    version       INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    deleted_at    TEXT
);
-- The inbox by position (listing, replay after a resume) and at most one row per event.
CREATE UNIQUE INDEX notifications_user_seq ON notifications (user_id, seq);
-- The unread count.
CREATE INDEX notifications_unread ON notifications (user_id) WHERE read_at IS NULL;

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000160', NULL, 'schema_doc', 'watches',
        'Table watches: Who watches which work item',
'Table watches: a user''s own choice to watch a work item or not; the changes and new comments of a watched item reach the user''s inbox (notifications). An item''s creator (work_items.created_by) and its assignee (work_items.assignee_id) watch it without a row; a row overrides that for its user: watching = 1 for a user who chose to watch, 0 for one who unwatched. Watchers of an item: its creator and assignee unless a row of theirs says 0, and every user with a row saying 1.

Columns:
- id: TEXT primary key (UUIDv7).
- project_id: TEXT references projects(id), the item''s project.
- work_item_id: TEXT references work_items(id).
- user_id: TEXT references users(id), whose choice it is.
- watching: INTEGER 1 (watches the item) or 0 (does not, though creator or assignee).
- version: INTEGER, optimistic-concurrency counter (see Versioning).
- created_at: TEXT time of the first choice.
- updated_at: TEXT time of the last change (equals created_at until the first update).
- deleted_at: TEXT time of the item''s delete; NULL while the item lives.

Keys and indexes: PRIMARY KEY (id); watches_item_user (work_item_id, user_id) unique over live rows. An item''s choices: SELECT user_id, watching FROM watches WHERE work_item_id = ? AND deleted_at IS NULL.

Soft delete: a deleted item soft-deletes its rows (sets deleted_at, bumps version). Every read must filter deleted_at IS NULL.

Versioning: version is 1 on insert and grows by 1 on every change of watching and on the delete.

Formats: ids are TEXT (UUIDv7, time-ordered, so ORDER BY id is creation order; user ids are the token subject and may be any text). Times are TEXT in UTC, ISO 8601 with six-digit microseconds and a Z suffix (''2026-11-22T10:00:00.000000Z''): fixed width, so comparing or sorting them as text orders them by time, and julianday(), strftime() and datetime() accept them.',
NULL,
        70, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000161', NULL, 'schema_doc', 'notifications',
        'Table notifications: Each user''s inbox',
'Table notifications: one entry of a user''s inbox, written in the same transaction as the change that caused it: assigned an item (reason assigned), mentioned in a comment (mentioned), or an item the user watches changed or got a comment (watched). Only members of the item''s project are notified, never the user who made the change. Private to its user: read it only for the user who asks.

Columns:
- id: TEXT primary key (UUIDv7).
- user_id: TEXT references users(id), whose inbox it is in.
- project_id: TEXT references projects(id), the item''s project.
- work_item_id: TEXT references work_items(id), the item concerned.
- comment_id: TEXT references comments(id), the comment that mentioned the user or was added to a watched item; NULL otherwise.
- actor_id: TEXT references users(id), who made the change.
- reason: TEXT, one of ''assigned'', ''mentioned'', ''watched''.
- seq: INTEGER, the tenant event seq of the change that caused it; unique per user, the inbox''s order and paging cursor.
- read_at: TEXT time the user marked it read; NULL while unread.
- version: INTEGER, grows by 1 when it is marked read.
- created_at: TEXT time of the change.
- updated_at: TEXT time of the last change (equals created_at until it is read).
- deleted_at: TEXT, always NULL: old rows are purged by retention (read ones after 30 days, any after 90).

Keys and indexes: PRIMARY KEY (id); notifications_user_seq (user_id, seq) unique; notifications_unread (user_id) over unread rows. Unread count: SELECT count(*) FROM notifications WHERE user_id = ? AND read_at IS NULL.

Soft delete: never soft-deleted (deleted_at stays NULL, for the shape every entity shares); retention deletes old rows outright, as it does the event log''s.

Versioning: version is 1 on insert and grows by 1 when the row is marked read.

Formats: ids are TEXT (UUIDv7, time-ordered, so ORDER BY id is creation order; user ids are the token subject and may be any text). Times are TEXT in UTC, ISO 8601 with six-digit microseconds and a Z suffix (''2026-11-22T10:00:00.000000Z''): fixed width, so comparing or sorting them as text orders them by time, and julianday(), strftime() and datetime() accept them.',
NULL,
        70, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');
