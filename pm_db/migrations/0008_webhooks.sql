-- Webhook endpoints and their delivery log.
--
-- An endpoint is delivered the tenant's event log from acked_seq on: the worker
-- moves acked_seq forward once the receiver answered 2xx, so a restart resumes
-- there. The secret is kept in clear because every delivery is signed with it
-- (HMAC needs the key itself); it is never exported, listed or logged.

CREATE TABLE webhooks (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    url                  TEXT NOT NULL,
    secret               TEXT NOT NULL,
    project_ids          TEXT NOT NULL DEFAULT '[]',
    entity_types         TEXT NOT NULL DEFAULT '[]',
    actions              TEXT NOT NULL DEFAULT '[]',
    state                TEXT NOT NULL DEFAULT 'active'
        CHECK (state IN ('active', 'paused', 'disabled')),
    acked_seq            INTEGER NOT NULL DEFAULT 0,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_error           TEXT,
    created_by           TEXT REFERENCES users (id),
    version              INTEGER NOT NULL DEFAULT 1,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    deleted_at           TEXT
);
CREATE UNIQUE INDEX webhooks_name_live ON webhooks (name) WHERE deleted_at IS NULL;

-- One row per attempt to deliver one event to one endpoint; the newest are kept.
CREATE TABLE webhook_deliveries (
    id          TEXT PRIMARY KEY,
    webhook_id  TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    ok          INTEGER NOT NULL CHECK (ok IN (0, 1)),
    status_code INTEGER,
    error       TEXT,
    duration_ms INTEGER NOT NULL,
    manual      INTEGER NOT NULL DEFAULT 0 CHECK (manual IN (0, 1)),
    created_at  TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000035', NULL, 'schema_doc', 'webhooks',
        'Table webhooks: Endpoints the event log is delivered to',
'Table webhooks: URLs a tenant admin registered to receive the tenant''s events as signed HTTP POSTs, in seq order, at least once.

Columns:
- id: TEXT primary key (UUIDv7).
- name: TEXT the name given by the tenant admin, unique among live endpoints.
- url: TEXT the http(s) URL events are posted to.
- secret: TEXT the HMAC-SHA256 key deliveries are signed with. Never select it: it is shown only in a hint of its last four characters.
- project_ids: TEXT JSON array of the projects.id whose events it wants; [] = every project.
- entity_types: TEXT JSON array of entity types (work_item, sprint, ...); [] = all.
- actions: TEXT JSON array of actions (created, updated, deleted); [] = all.
- state: TEXT ''active'' (delivering), ''paused'' (by an admin) or ''disabled'' (after too many consecutive failures).
- acked_seq: INTEGER the last events.seq the receiver acknowledged; delivery goes on after it.
- consecutive_failures: INTEGER failed attempts since the last success.
- last_error: TEXT why the last attempt failed, or NULL.
- created_by: TEXT users.id of the tenant admin who created it, or NULL.
- version: INTEGER, optimistic-concurrency counter (see Versioning).
- created_at: TEXT time the row was created.
- updated_at: TEXT time of the last change.
- deleted_at: TEXT time of the soft delete; NULL while the row is live.

Keys and indexes: PRIMARY KEY (id), created_by references users (id); webhooks_name_live (name) unique over live rows.

Soft delete: deleting sets deleted_at (and bumps version); the row stays in the table. Every read must filter deleted_at IS NULL.

Versioning: version is 1 on insert and grows by 1 on every change an admin makes (and when the endpoint is disabled); acked_seq and consecutive_failures move without it.

Not exported by pm tenant export (it holds a secret).

Formats: ids are TEXT (UUIDv7, time-ordered, so ORDER BY id is creation order; user ids are the token subject and may be any text). Times are TEXT in UTC, ISO 8601 with six-digit microseconds and a Z suffix (''2026-11-22T10:00:00.000000Z''): fixed width, so comparing or sorting them as text orders them by time, and julianday(), strftime() and datetime() accept them.',
NULL,
        70, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000036', NULL, 'schema_doc', 'webhook_deliveries',
        'Table webhook_deliveries: The delivery log of webhook endpoints',
'Table webhook_deliveries: one row per attempt to post one event to one webhook endpoint; the newest 1,000 per endpoint are kept. No version and no deleted_at: rows are only inserted (and the oldest purged).

Columns:
- id: TEXT primary key (UUIDv7, so ORDER BY id is the order of the attempts).
- webhook_id: TEXT the webhooks.id posted to.
- seq: INTEGER the events.seq of the event posted.
- attempt: INTEGER 1 for the first try of the event, +1 per retry.
- ok: INTEGER 1 when the receiver answered 2xx, else 0.
- status_code: INTEGER the receiver''s HTTP status, or NULL when none came (timeout, refused connection).
- error: TEXT why it failed, or NULL.
- duration_ms: INTEGER how long the attempt took.
- manual: INTEGER 1 for a redelivery an admin asked for.
- created_at: TEXT time the attempt ended.

Keys and indexes: PRIMARY KEY (id), webhook_id references webhooks (id) on delete cascade; webhook_deliveries_webhook (webhook_id, id).

Formats: ids are TEXT (UUIDv7, time-ordered, so ORDER BY id is creation order; user ids are the token subject and may be any text). Times are TEXT in UTC, ISO 8601 with six-digit microseconds and a Z suffix (''2026-11-22T10:00:00.000000Z''): fixed width, so comparing or sorting them as text orders them by time, and julianday(), strftime() and datetime() accept them.',
NULL,
        70, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');
