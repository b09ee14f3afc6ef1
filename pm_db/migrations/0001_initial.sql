-- Initial schema of a tenant database.
--
-- Conventions: ids are TEXT (UUIDv7, time-ordered; users use the token
-- subject); times are TEXT in UTC, ISO 8601 with microseconds and a Z suffix
-- ('2026-11-22T10:00:00.000000Z'), fixed width so they sort as text and work
-- with SQLite's date functions. Every table but activity_log and events has
-- version (optimistic concurrency) and deleted_at (soft delete); uniqueness
-- that must allow re-creation after a delete is a partial index on live rows.

CREATE TABLE tenant_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

INSERT INTO tenant_meta (key, value) VALUES
    ('epoch', lower(hex(randomblob(16)))),
    ('created_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    display_name    TEXT NOT NULL,
    email           TEXT,
    is_tenant_admin INTEGER NOT NULL DEFAULT 0 CHECK (is_tenant_admin IN (0, 1)),
    version         INTEGER NOT NULL DEFAULT 1,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    deleted_at      TEXT
);

CREATE TABLE projects (
    id               TEXT PRIMARY KEY,
    key              TEXT NOT NULL,
    name             TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    next_item_number INTEGER NOT NULL DEFAULT 1,
    created_by       TEXT NOT NULL REFERENCES users (id),
    version          INTEGER NOT NULL DEFAULT 1,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    deleted_at       TEXT
);
CREATE UNIQUE INDEX projects_key_live ON projects (key) WHERE deleted_at IS NULL;

CREATE TABLE project_members (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    version    INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE UNIQUE INDEX project_members_live ON project_members (project_id, user_id)
    WHERE deleted_at IS NULL;
CREATE INDEX project_members_user ON project_members (user_id) WHERE deleted_at IS NULL;

CREATE TABLE sprints (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    goal       TEXT NOT NULL DEFAULT '',
    status     TEXT NOT NULL DEFAULT 'planned'
               CHECK (status IN ('planned', 'active', 'completed', 'cancelled')),
    starts_at  TEXT,
    ends_at    TEXT,
    version    INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT,
    CHECK (starts_at IS NULL OR ends_at IS NULL OR starts_at < ends_at)
);
CREATE INDEX sprints_project ON sprints (project_id) WHERE deleted_at IS NULL;
-- The database itself keeps one active sprint per project.
CREATE UNIQUE INDEX sprints_one_active ON sprints (project_id)
    WHERE status = 'active' AND deleted_at IS NULL;

CREATE TABLE work_items (
    id           TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    item_number  INTEGER NOT NULL CHECK (item_number >= 1),
    type         TEXT NOT NULL CHECK (type IN ('epic', 'story', 'task')),
    title        TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL DEFAULT 'backlog'
                 CHECK (status IN ('backlog', 'todo', 'in_progress', 'in_review', 'done')),
    priority     TEXT NOT NULL DEFAULT 'medium'
                 CHECK (priority IN ('low', 'medium', 'high', 'critical')),
    story_points INTEGER CHECK (story_points IS NULL OR story_points >= 0),
    position     REAL NOT NULL DEFAULT 0,
    parent_id    TEXT REFERENCES work_items (id) ON DELETE SET NULL,
    sprint_id    TEXT REFERENCES sprints (id) ON DELETE SET NULL,
    assignee_id  TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_by   TEXT NOT NULL REFERENCES users (id),
    version      INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    deleted_at   TEXT,
    CHECK (parent_id IS NULL OR parent_id <> id)
);
-- Item numbers are never reused, not even after a delete: KEY-12 means one item forever.
CREATE UNIQUE INDEX work_items_number ON work_items (project_id, item_number);
CREATE INDEX work_items_status ON work_items (project_id, status, position)
    WHERE deleted_at IS NULL;
CREATE INDEX work_items_parent ON work_items (parent_id) WHERE deleted_at IS NULL;
CREATE INDEX work_items_sprint ON work_items (sprint_id) WHERE deleted_at IS NULL;
CREATE INDEX work_items_assignee ON work_items (assignee_id) WHERE deleted_at IS NULL;

CREATE TABLE comments (
    id           TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    work_item_id TEXT NOT NULL REFERENCES work_items (id) ON DELETE CASCADE,
    author_id    TEXT NOT NULL REFERENCES users (id),
    body         TEXT NOT NULL,
    version      INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    deleted_at   TEXT
);
CREATE INDEX comments_item ON comments (work_item_id, created_at) WHERE deleted_at IS NULL;

CREATE TABLE time_entries (
    id           TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    work_item_id TEXT NOT NULL REFERENCES work_items (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (id),
    started_at   TEXT NOT NULL,
    ended_at     TEXT,
    note         TEXT NOT NULL DEFAULT '',
    version      INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    deleted_at   TEXT,
    CHECK (ended_at IS NULL OR started_at <= ended_at)
);
CREATE INDEX time_entries_user ON time_entries (user_id, started_at) WHERE deleted_at IS NULL;
CREATE INDEX time_entries_item ON time_entries (work_item_id, started_at) WHERE deleted_at IS NULL;
-- The database itself keeps one running timer per user.
CREATE UNIQUE INDEX time_entries_one_running ON time_entries (user_id)
    WHERE ended_at IS NULL AND deleted_at IS NULL;

CREATE TABLE dependencies (
    id           TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    from_item_id TEXT NOT NULL REFERENCES work_items (id) ON DELETE CASCADE,
    to_item_id   TEXT NOT NULL REFERENCES work_items (id) ON DELETE CASCADE,
    type         TEXT NOT NULL CHECK (type IN ('blocks', 'relates_to')),
    created_by   TEXT NOT NULL REFERENCES users (id),
    version      INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    deleted_at   TEXT,
    CHECK (from_item_id <> to_item_id)
);
-- Partial, so a deleted dependency can be added again.
CREATE UNIQUE INDEX dependencies_live ON dependencies (from_item_id, to_item_id, type)
    WHERE deleted_at IS NULL;
CREATE INDEX dependencies_to ON dependencies (to_item_id) WHERE deleted_at IS NULL;
CREATE INDEX dependencies_project ON dependencies (project_id, type) WHERE deleted_at IS NULL;

CREATE TABLE swim_lanes (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    status     TEXT NOT NULL
               CHECK (status IN ('backlog', 'todo', 'in_progress', 'in_review', 'done')),
    position   INTEGER NOT NULL CHECK (position >= 0),
    wip_limit  INTEGER CHECK (wip_limit IS NULL OR wip_limit >= 1),
    version    INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE UNIQUE INDEX swim_lanes_name_live ON swim_lanes (project_id, name) WHERE deleted_at IS NULL;

CREATE TABLE llm_context (
    id           TEXT PRIMARY KEY,
    project_id   TEXT REFERENCES projects (id) ON DELETE CASCADE,
    context_type TEXT NOT NULL
                 CHECK (context_type IN
                        ('schema_doc', 'query_pattern', 'business_rule', 'example', 'instruction')),
    category     TEXT NOT NULL DEFAULT '',
    title        TEXT NOT NULL,
    content      TEXT NOT NULL,
    example_sql  TEXT,
    priority     INTEGER NOT NULL DEFAULT 50 CHECK (priority BETWEEN 0 AND 100),
    created_by   TEXT REFERENCES users (id),
    version      INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    deleted_at   TEXT
);
CREATE INDEX llm_context_lookup ON llm_context (project_id, context_type, priority DESC)
    WHERE deleted_at IS NULL;

-- The audit trail: append-only, never soft-deleted. One row per changed field.
-- Values are JSON text.
CREATE TABLE activity_log (
    id          TEXT PRIMARY KEY,
    project_id  TEXT,
    entity_type TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('created', 'updated', 'deleted')),
    field       TEXT,
    old_value   TEXT,
    new_value   TEXT,
    actor_id    TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX activity_log_entity ON activity_log (entity_type, entity_id, id);
CREATE INDEX activity_log_project ON activity_log (project_id, id);

-- The event log: one row per committed mutation; seq never goes back or repeats
-- (AUTOINCREMENT keeps it monotonic even after old rows are purged).
CREATE TABLE events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id TEXT,
    payload    BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX events_project ON events (project_id, seq);

-- Idempotency: the stored reply of each (user, request id) that committed.
CREATE TABLE idempotency_keys (
    user_id    TEXT NOT NULL,
    request_id TEXT NOT NULL,
    reply      BLOB NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, request_id)
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);
