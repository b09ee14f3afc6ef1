-- Tenant-wide llm_context rows every tenant starts with: what the tables mean
-- (schema_doc, one per table, columns as '- name: ...' lines), runnable queries
-- for common questions (query_pattern, named parameters), the domain rules
-- (business_rule, matching pm_core.rules) and how agents should work (instruction).
-- project_id and created_by are NULL; ids are fixed so later migrations can
-- refer to (and correct) these rows.

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000001', NULL, 'schema_doc', 'tenant_meta',
        'Table tenant_meta: Tenant metadata, one key/value pair per row',
'Table tenant_meta: facts about this tenant database as key/value text pairs.

Columns:
- key: TEXT primary key. Known keys: ''epoch'' and ''created_at''.
- value: TEXT value. ''epoch'' is a random hex id that changes when the database is restored from a backup (a resume position (epoch, seq) is only valid within one epoch); ''created_at'' is the time the database was created (millisecond precision: ''2026-11-22T10:00:00.123Z'').

Keys and indexes: PRIMARY KEY (key), WITHOUT ROWID.

No version and no deleted_at: rows are overwritten in place. Migrations applied are recorded in schema_migrations (version, name, applied_at).

Formats: ids are TEXT (UUIDv7, time-ordered, so ORDER BY id is creation order; user ids are the token subject and may be any text). Times are TEXT in UTC, ISO 8601 with six-digit microseconds and a Z suffix (''2026-11-22T10:00:00.000000Z''): fixed width, so comparing or sorting them as text orders them by time, and julianday(), strftime() and datetime() accept them.',
NULL,
        70, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000002', NULL, 'schema_doc', 'users',
        'Table users: People and agents of the tenant',
'Table users: every person or AI agent known to the tenant; the id is the subject of their token.

Columns:
- id: TEXT primary key: the token subject (not necessarily a UUID).
- display_name: TEXT, 1-200 characters, single line.
- email: TEXT or NULL.
- is_tenant_admin: INTEGER 0 or 1; 1 = may administer the whole tenant.
- version: INTEGER, optimistic-concurrency counter (see Versioning).
- created_at: TEXT time the row was created.
- updated_at: TEXT time of the last change (equals created_at until the first update).
- deleted_at: TEXT time of the soft delete; NULL while the row is live.

Keys and indexes: PRIMARY KEY (id). Referenced by projects.created_by, project_members.user_id, work_items.assignee_id and created_by, comments.author_id, time_entries.user_id, dependencies.created_by, llm_context.created_by; activity_log.actor_id holds a user id without a foreign key.

Soft delete: deleting sets deleted_at (and bumps version); the row stays in the table. Every read must filter deleted_at IS NULL.

Versioning: version is 1 on insert and grows by 1 on every update and on the delete; an update names the version it read and fails with CONFLICT when the row has moved on.

Formats: ids are TEXT (UUIDv7, time-ordered, so ORDER BY id is creation order; user ids are the token subject and may be any text). Times are TEXT in UTC, ISO 8601 with six-digit microseconds and a Z suffix (''2026-11-22T10:00:00.000000Z''): fixed width, so comparing or sorting them as text orders them by time, and julianday(), strftime() and datetime() accept them.',
NULL,
        70, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000003', NULL, 'schema_doc', 'projects',
        'Table projects: Projects, each with a unique key',
'Table projects: the boards; every other board row belongs to one project.

Columns:
- id: TEXT primary key (UUIDv7).
- key: TEXT project key, 2-10 characters: an upper-case letter then upper-case letters or digits (e.g. ''PM''). Prefix of the display keys of its items.
- name: TEXT, 1-200 characters.
- description: TEXT, may be empty.
- status: TEXT ''active'' or ''archived''.
- next_item_number: INTEGER, the item number the next work item gets; only ever grows.
- created_by: TEXT references users(id).
- version: INTEGER, optimistic-concurrency counter (see Versioning).
- created_at: TEXT time the row was created.
- updated_at: TEXT time of the last change (equals created_at until the first update).
- deleted_at: TEXT time of the soft delete; NULL while the row is live.

Keys and indexes: PRIMARY KEY (id); UNIQUE (key) among live rows (partial index projects_key_live WHERE deleted_at IS NULL), so a key is unique among live projects and can be taken again only after the old project is deleted.

Soft delete: deleting sets deleted_at (and bumps version); the row stays in the table. Every read must filter deleted_at IS NULL.

Versioning: version is 1 on insert and grows by 1 on every update and on the delete; an update names the version it read and fails with CONFLICT when the row has moved on.

Deleting a project soft-deletes every row in it (members, sprints, work items, comments, time entries, dependencies, swim lanes, llm_context) with the same deleted_at.

Formats: ids are TEXT (UUIDv7, time-ordered, so ORDER BY id is creation order; user ids are the token subject and may be any text). Times are TEXT in UTC, ISO 8601 with six-digit microseconds and a Z suffix (''2026-11-22T10:00:00.000000Z''): fixed width, so comparing or sorting them as text orders them by time, and julianday(), strftime() and datetime() accept them.',
NULL,
        70, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000004', NULL, 'schema_doc', 'project_members',
        'Table project_members: Who belongs to which project, with which role',
'Table project_members: membership of a user in a project and the role it grants.

Columns:
- id: TEXT primary key (UUIDv7).
- project_id: TEXT references projects(id).
- user_id: TEXT references users(id).
- role: TEXT ''viewer'', ''editor'' or ''admin'', ordered viewer < editor < admin; every command requires a minimum role in its project.
- version: INTEGER, optimistic-concurrency counter (see Versioning).
- created_at: TEXT time the row was created.
- updated_at: TEXT time of the last change (equals created_at until the first update).
- deleted_at: TEXT time of the soft delete; NULL while the row is live.

Keys and indexes: PRIMARY KEY (id); UNIQUE (project_id, user_id) among live rows (partial index project_members_live); index project_members_user (user_id) on live rows.

Soft delete: deleting sets deleted_at (and bumps version); the row stays in the table. Every read must filter deleted_at IS NULL.

Versioning: version is 1 on insert and grows by 1 on every update and on the delete; an update names the version it read and fails with CONFLICT when the row has moved on.

Formats: ids are TEXT (UUIDv7, time-ordered, so ORDER BY id is creation order; user ids are the token subject and may be any text). Times are TEXT in UTC, ISO 8601 with six-digit microseconds and a Z suffix (''2026-11-22T10:00:00.000000Z''): fixed width, so comparing or sorting them as text orders them by time, and julianday(), strftime() and datetime() accept them.',
NULL,
        70, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000005', NULL, 'schema_doc', 'sprints',
        'Table sprints: Sprints of a project and their status',
'Table sprints: time boxes of a project that work items are planned into.

Columns:
- id: TEXT primary key (UUIDv7).
- project_id: TEXT references projects(id).
- name: TEXT, 1-200 characters.
- goal: TEXT, may be empty.
- status: TEXT ''planned'', ''active'', ''completed'' or ''cancelled''.
- starts_at: TEXT time or NULL.
- ends_at: TEXT time or NULL; when both are set starts_at < ends_at (CHECK).
- version: INTEGER, optimistic-concurrency counter (see Versioning).
- created_at: TEXT time the row was created.
- updated_at: TEXT time of the last change (equals created_at until the first update).
- deleted_at: TEXT time of the soft delete; NULL while the row is live.

Keys and indexes: PRIMARY KEY (id); index sprints_project (project_id) on live rows; UNIQUE (project_id) WHERE status = ''active'' AND deleted_at IS NULL (sprints_one_active): the database itself keeps one active sprint per project.

Soft delete: deleting sets deleted_at (and bumps version); the row stays in the table. Every read must filter deleted_at IS NULL.

Versioning: version is 1 on insert and grows by 1 on every update and on the delete; an update names the version it read and fails with CONFLICT when the row has moved on.

Work items point at their sprint through work_items.sprint_id.

Formats: ids are TEXT (UUIDv7, time-ordered, so ORDER BY id is creation order; user ids are the token subject and may be any text). Times are TEXT in UTC, ISO 8601 with six-digit microseconds and a Z suffix (''2026-11-22T10:00:00.000000Z''): fixed width, so comparing or sorting them as text orders them by time, and julianday(), strftime() and datetime() accept them.',
NULL,
        70, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000006', NULL, 'schema_doc', 'work_items',
        'Table work_items: Epics, stories and tasks',
'Table work_items: the items on the board: epics, stories and tasks.

Columns:
- id: TEXT primary key (UUIDv7).
- project_id: TEXT references projects(id).
- item_number: INTEGER >= 1, per project; the display key is projects.key || ''-'' || item_number (e.g. PM-12). Never reused, not even after a delete.
- type: TEXT ''epic'', ''story'' or ''task''.
- title: TEXT, 1-500 characters, single line.
- description: TEXT, may be empty.
- status: TEXT ''backlog'', ''todo'', ''in_progress'', ''in_review'' or ''done''. Open means status <> ''done''.
- priority: TEXT ''low'', ''medium'', ''high'' or ''critical''.
- story_points: INTEGER >= 0 or NULL.
- position: REAL order within its status column (ascending).
- parent_id: TEXT references work_items(id) or NULL (an orphan); a story''s parent is an epic, a task''s parent is a story, an epic has none.
- sprint_id: TEXT references sprints(id) or NULL (not planned into a sprint).
- assignee_id: TEXT references users(id) or NULL (unassigned).
- created_by: TEXT references users(id).
- version: INTEGER, optimistic-concurrency counter (see Versioning).
- created_at: TEXT time the row was created.
- updated_at: TEXT time of the last change (equals created_at until the first update).
- deleted_at: TEXT time of the soft delete; NULL while the row is live.

Keys and indexes: PRIMARY KEY (id); UNIQUE (project_id, item_number) over ALL rows, deleted ones included (work_items_number); indexes on live rows: work_items_status (project_id, status, position), work_items_parent (parent_id), work_items_sprint (sprint_id), work_items_assignee (assignee_id).

Soft delete: deleting sets deleted_at (and bumps version); the row stays in the table. Every read must filter deleted_at IS NULL.

Versioning: version is 1 on insert and grows by 1 on every update and on the delete; an update names the version it read and fails with CONFLICT when the row has moved on.

Formats: ids are TEXT (UUIDv7, time-ordered, so ORDER BY id is creation order; user ids are the token subject and may be any text). Times are TEXT in UTC, ISO 8601 with six-digit microseconds and a Z suffix (''2026-11-22T10:00:00.000000Z''): fixed width, so comparing or sorting them as text orders them by time, and julianday(), strftime() and datetime() accept them.',
NULL,
        70, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000007', NULL, 'schema_doc', 'comments',
        'Table comments: Comments on work items',
'Table comments: discussion on a work item.

Columns:
- id: TEXT primary key (UUIDv7).
- project_id: TEXT references projects(id); always the project of the item.
- work_item_id: TEXT references work_items(id).
- author_id: TEXT references users(id).
- body: TEXT, 1-20000 characters, may span lines.
- version: INTEGER, optimistic-concurrency counter (see Versioning).
- created_at: TEXT time the row was created.
- updated_at: TEXT time of the last change (equals created_at until the first update).
- deleted_at: TEXT time of the soft delete; NULL while the row is live.

Keys and indexes: PRIMARY KEY (id); index comments_item (work_item_id, created_at) on live rows.

Soft delete: deleting sets deleted_at (and bumps version); the row stays in the table. Every read must filter deleted_at IS NULL.

Versioning: version is 1 on insert and grows by 1 on every update and on the delete; an update names the version it read and fails with CONFLICT when the row has moved on.

Formats: ids are TEXT (UUIDv7, time-ordered, so ORDER BY id is creation order; user ids are the token subject and may be any text). Times are TEXT in UTC, ISO 8601 with six-digit microseconds and a Z suffix (''2026-11-22T10:00:00.000000Z''): fixed width, so comparing or sorting them as text orders them by time, and julianday(), strftime() and datetime() accept them.',
NULL,
        70, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000008', NULL, 'schema_doc', 'time_entries',
        'Table time_entries: Time logged on work items, including running timers',
'Table time_entries: work time a user logged on an item; a row with ended_at NULL is a running timer.

Columns:
- id: TEXT primary key (UUIDv7).
- project_id: TEXT references projects(id); always the project of the item.
- work_item_id: TEXT references work_items(id).
- user_id: TEXT references users(id): whose time it is.
- started_at: TEXT time the work started.
- ended_at: TEXT time the work ended, or NULL while the timer runs; started_at <= ended_at (CHECK).
- note: TEXT, may be empty.
- version: INTEGER, optimistic-concurrency counter (see Versioning).
- created_at: TEXT time the row was created.
- updated_at: TEXT time of the last change (equals created_at until the first update).
- deleted_at: TEXT time of the soft delete; NULL while the row is live.

Keys and indexes: PRIMARY KEY (id); indexes on live rows: time_entries_user (user_id, started_at), time_entries_item (work_item_id, started_at); UNIQUE (user_id) WHERE ended_at IS NULL AND deleted_at IS NULL (time_entries_one_running): at most one running timer per user.

Soft delete: deleting sets deleted_at (and bumps version); the row stays in the table. Every read must filter deleted_at IS NULL.

Versioning: version is 1 on insert and grows by 1 on every update and on the delete; an update names the version it read and fails with CONFLICT when the row has moved on.

Duration in hours: (julianday(coalesce(ended_at, strftime(''%Y-%m-%dT%H:%M:%fZ'', ''now''))) - julianday(started_at)) * 24.

Formats: ids are TEXT (UUIDv7, time-ordered, so ORDER BY id is creation order; user ids are the token subject and may be any text). Times are TEXT in UTC, ISO 8601 with six-digit microseconds and a Z suffix (''2026-11-22T10:00:00.000000Z''): fixed width, so comparing or sorting them as text orders them by time, and julianday(), strftime() and datetime() accept them.',
NULL,
        70, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000009', NULL, 'schema_doc', 'dependencies',
        'Table dependencies: Blocks and relates-to links between work items',
'Table dependencies: a directed link between two items of one project: from_item_id blocks (or relates to) to_item_id.

Columns:
- id: TEXT primary key (UUIDv7).
- project_id: TEXT references projects(id); both items belong to it.
- from_item_id: TEXT references work_items(id): the blocking item.
- to_item_id: TEXT references work_items(id): the blocked item; differs from from_item_id (CHECK).
- type: TEXT ''blocks'' or ''relates_to''.
- created_by: TEXT references users(id).
- version: INTEGER, optimistic-concurrency counter (see Versioning).
- created_at: TEXT time the row was created.
- updated_at: TEXT time of the last change (equals created_at until the first update).
- deleted_at: TEXT time of the soft delete; NULL while the row is live.

Keys and indexes: PRIMARY KEY (id); UNIQUE (from_item_id, to_item_id, type) among live rows (dependencies_live), so a deleted dependency can be added again; indexes on live rows: dependencies_to (to_item_id), dependencies_project (project_id, type).

Soft delete: deleting sets deleted_at (and bumps version); the row stays in the table. Every read must filter deleted_at IS NULL.

Versioning: version is 1 on insert and grows by 1 on every update and on the delete; an update names the version it read and fails with CONFLICT when the row has moved on.

An item is blocked while a live ''blocks'' dependency points at it (to_item_id) from a live item whose status is not ''done''.

Formats: ids are TEXT (UUIDv7, time-ordered, so ORDER BY id is creation order; user ids are the token subject and may be any text). Times are TEXT in UTC, ISO 8601 with six-digit microseconds and a Z suffix (''2026-11-22T10:00:00.000000Z''): fixed width, so comparing or sorting them as text orders them by time, and julianday(), strftime() and datetime() accept them.',
NULL,
        70, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000010', NULL, 'schema_doc', 'swim_lanes',
        'Table swim_lanes: Board columns of a project',
'Table swim_lanes: the columns of a project''s board; items whose status equals the lane''s status show in it.

Columns:
- id: TEXT primary key (UUIDv7).
- project_id: TEXT references projects(id).
- name: TEXT, 1-200 characters.
- status: TEXT work-item status shown in this lane (''backlog'', ''todo'', ''in_progress'', ''in_review'', ''done'').
- position: INTEGER >= 0, order of the lanes from left to right.
- wip_limit: INTEGER >= 1 or NULL (no limit): most items the lane should hold.
- version: INTEGER, optimistic-concurrency counter (see Versioning).
- created_at: TEXT time the row was created.
- updated_at: TEXT time of the last change (equals created_at until the first update).
- deleted_at: TEXT time of the soft delete; NULL while the row is live.

Keys and indexes: PRIMARY KEY (id); UNIQUE (project_id, name) among live rows (swim_lanes_name_live).

Soft delete: deleting sets deleted_at (and bumps version); the row stays in the table. Every read must filter deleted_at IS NULL.

Versioning: version is 1 on insert and grows by 1 on every update and on the delete; an update names the version it read and fails with CONFLICT when the row has moved on.

Formats: ids are TEXT (UUIDv7, time-ordered, so ORDER BY id is creation order; user ids are the token subject and may be any text). Times are TEXT in UTC, ISO 8601 with six-digit microseconds and a Z suffix (''2026-11-22T10:00:00.000000Z''): fixed width, so comparing or sorting them as text orders them by time, and julianday(), strftime() and datetime() accept them.',
NULL,
        70, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000011', NULL, 'schema_doc', 'llm_context',
        'Table llm_context: Documentation rows for AI agents (this table)',
'Table llm_context: documentation that AI agents read before working and write back what they learn.

Columns:
- id: TEXT primary key (UUIDv7; seeded rows use fixed ids 00000000-0000-7000-8000-0000000000NN).
- project_id: TEXT references projects(id), or NULL for rows about the whole tenant.
- context_type: TEXT ''schema_doc'', ''query_pattern'', ''business_rule'', ''example'' or ''instruction''.
- category: TEXT topic, may be empty; schema_doc rows use the table name.
- title: TEXT, 1-500 characters, single line.
- content: TEXT, 1-100000 characters.
- example_sql: TEXT runnable SQL with named parameters (:project_id ...), or NULL.
- priority: INTEGER 0-100; higher is more important, read first.
- created_by: TEXT references users(id), or NULL for rows seeded by migrations.
- version: INTEGER, optimistic-concurrency counter (see Versioning).
- created_at: TEXT time the row was created.
- updated_at: TEXT time of the last change (equals created_at until the first update).
- deleted_at: TEXT time of the soft delete; NULL while the row is live.

Keys and indexes: PRIMARY KEY (id); index llm_context_lookup (project_id, context_type, priority DESC) on live rows.

Soft delete: deleting sets deleted_at (and bumps version); the row stays in the table. Every read must filter deleted_at IS NULL.

Versioning: version is 1 on insert and grows by 1 on every update and on the delete; an update names the version it read and fails with CONFLICT when the row has moved on.

Read the rows of a project together with the tenant-wide ones: WHERE deleted_at IS NULL AND (project_id = :project_id OR project_id IS NULL) ORDER BY priority DESC, title.

Formats: ids are TEXT (UUIDv7, time-ordered, so ORDER BY id is creation order; user ids are the token subject and may be any text). Times are TEXT in UTC, ISO 8601 with six-digit microseconds and a Z suffix (''2026-11-22T10:00:00.000000Z''): fixed width, so comparing or sorting them as text orders them by time, and julianday(), strftime() and datetime() accept them.',
NULL,
        70, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000012', NULL, 'schema_doc', 'activity_log',
        'Table activity_log: The audit trail: one row per changed field',
'Table activity_log: the audit trail of every change. Append-only: rows are never updated and never deleted, so this table has no version and no deleted_at.

Columns:
- id: TEXT primary key (UUIDv7): ORDER BY id DESC is newest first.
- project_id: TEXT project of the entity, or NULL for tenant-wide entities (users). No foreign key.
- entity_type: TEXT ''user'', ''project'', ''member'', ''work_item'', ''sprint'', ''comment'', ''time_entry'', ''dependency'', ''swim_lane'' or ''llm_context''.
- entity_id: TEXT id of the changed row in its table.
- action: TEXT ''created'', ''updated'' or ''deleted''.
- field: TEXT name of the changed column for ''updated'' (one row per changed field); NULL for ''created'' and ''deleted''.
- old_value: TEXT JSON of the value before the change, or NULL. For ''deleted'' rows NULL or a JSON object of the last values.
- new_value: TEXT JSON of the value after the change, or NULL. For ''created'' rows NULL or a JSON object of the initial values.
- actor_id: TEXT id of the user who made the change, or NULL for the system.
- created_at: TEXT time of the change.

Keys and indexes: PRIMARY KEY (id); activity_log_entity (entity_type, entity_id, id); activity_log_project (project_id, id).

JSON values: compact JSON text with sorted keys; a string value is stored quoted (''"done"''), a number as a number, NULL SQL means no value. json_extract(new_value, ''$'') gives the plain SQL value.

Formats: ids are TEXT (UUIDv7, time-ordered, so ORDER BY id is creation order; user ids are the token subject and may be any text). Times are TEXT in UTC, ISO 8601 with six-digit microseconds and a Z suffix (''2026-11-22T10:00:00.000000Z''): fixed width, so comparing or sorting them as text orders them by time, and julianday(), strftime() and datetime() accept them.',
NULL,
        70, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000013', NULL, 'schema_doc', 'events',
        'Table events: The event log clients resume from',
'Table events: one row per committed mutation: the event exactly as it was sent to subscribers. Append-only, no version and no deleted_at; rows older than the retention period are purged.

Columns:
- seq: INTEGER PRIMARY KEY AUTOINCREMENT: the tenant''s event sequence number, grows by 1 per committed mutation and is never reused, even after purges.
- project_id: TEXT project the event belongs to, or NULL for tenant-wide events.
- payload: BLOB the protobuf-encoded event; not readable with SQL.
- created_at: TEXT time the event was committed.

Keys and indexes: PRIMARY KEY (seq); events_project (project_id, seq).

A client resumes with (epoch, seq) from tenant_meta.epoch and the last seq it saw; if that seq is older than the oldest stored row it must reload.

Formats: ids are TEXT (UUIDv7, time-ordered, so ORDER BY id is creation order; user ids are the token subject and may be any text). Times are TEXT in UTC, ISO 8601 with six-digit microseconds and a Z suffix (''2026-11-22T10:00:00.000000Z''): fixed width, so comparing or sorting them as text orders them by time, and julianday(), strftime() and datetime() accept them.',
NULL,
        70, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000014', NULL, 'schema_doc', 'idempotency_keys',
        'Table idempotency_keys: Replies of committed requests, for safe retries',
'Table idempotency_keys: the stored reply of each (user, request id) that committed, so a retried request gets the first reply instead of writing twice. Rows expire and are purged; no version and no deleted_at.

Columns:
- user_id: TEXT user who sent the request (no foreign key).
- request_id: TEXT request id chosen by the client; unique per user only.
- reply: BLOB the protobuf-encoded reply that was sent.
- created_at: TEXT time the request committed.

Keys and indexes: PRIMARY KEY (user_id, request_id), WITHOUT ROWID; idempotency_keys_age (created_at).

Formats: ids are TEXT (UUIDv7, time-ordered, so ORDER BY id is creation order; user ids are the token subject and may be any text). Times are TEXT in UTC, ISO 8601 with six-digit microseconds and a Z suffix (''2026-11-22T10:00:00.000000Z''): fixed width, so comparing or sorting them as text orders them by time, and julianday(), strftime() and datetime() accept them.',
NULL,
        70, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000015', NULL, 'query_pattern', 'work_items',
        'Open work items of a project, grouped by status',
'Every live work item of the project that is not done, in board order: by status (backlog, todo, in_progress, in_review), then position. Parameters: :project_id.',
'SELECT p.key || ''-'' || w.item_number AS display_key, w.id, w.type, w.title, w.status,
       w.priority, w.assignee_id, w.sprint_id, w.version
FROM work_items AS w
JOIN projects AS p ON p.id = w.project_id AND p.deleted_at IS NULL
WHERE w.project_id = :project_id
  AND w.deleted_at IS NULL
  AND w.status <> ''done''
ORDER BY CASE w.status
             WHEN ''backlog'' THEN 0 WHEN ''todo'' THEN 1
             WHEN ''in_progress'' THEN 2 WHEN ''in_review'' THEN 3 END,
         w.position, w.item_number',
        60, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000016', NULL, 'query_pattern', 'sprints',
        'Work items of the active sprint of a project',
'The live items planned into the project''s active sprint (at most one sprint is active per project), with the sprint''s name and end. Parameters: :project_id.',
'SELECT s.name AS sprint_name, s.ends_at AS sprint_ends_at,
       p.key || ''-'' || w.item_number AS display_key, w.id, w.type, w.title, w.status,
       w.story_points, w.assignee_id
FROM sprints AS s
JOIN work_items AS w ON w.sprint_id = s.id AND w.deleted_at IS NULL
JOIN projects AS p ON p.id = s.project_id AND p.deleted_at IS NULL
WHERE s.project_id = :project_id
  AND s.status = ''active''
  AND s.deleted_at IS NULL
ORDER BY w.status, w.position, w.item_number',
        60, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000017', NULL, 'query_pattern', 'dependencies',
        'Blocked work items of a project and what blocks them',
'An item is blocked while a live ''blocks'' dependency points at it (to_item_id) from a live item (from_item_id) that is not done. One row per blocked item and blocker. Parameters: :project_id.',
'SELECT p.key || ''-'' || w.item_number AS display_key, w.id, w.title, w.status,
       p.key || ''-'' || b.item_number AS blocked_by_key, b.id AS blocked_by_id,
       b.title AS blocked_by_title, b.status AS blocked_by_status
FROM dependencies AS d
JOIN work_items AS w ON w.id = d.to_item_id AND w.deleted_at IS NULL
JOIN work_items AS b ON b.id = d.from_item_id AND b.deleted_at IS NULL
JOIN projects AS p ON p.id = d.project_id AND p.deleted_at IS NULL
WHERE d.project_id = :project_id
  AND d.type = ''blocks''
  AND d.deleted_at IS NULL
  AND b.status <> ''done''
ORDER BY w.item_number, b.item_number',
        60, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000018', NULL, 'query_pattern', 'work_items',
        'A work item by its display key (e.g. PM-12)',
'Split the display key at its last hyphen: the project key (upper case) and the item number. Item numbers are never reused, so a key names one item forever; if the item was deleted, this returns nothing. Parameters: :project_key, :item_number.',
'SELECT p.key || ''-'' || w.item_number AS display_key, w.id, w.project_id, w.type, w.title,
       w.description, w.status, w.priority, w.story_points, w.parent_id, w.sprint_id,
       w.assignee_id, w.created_by, w.version, w.created_at, w.updated_at
FROM work_items AS w
JOIN projects AS p ON p.id = w.project_id AND p.deleted_at IS NULL
WHERE p.key = upper(:project_key)
  AND w.item_number = :item_number
  AND w.deleted_at IS NULL',
        60, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000019', NULL, 'query_pattern', 'time_entries',
        'Hours logged per user this week',
'Hours per user in one week (Monday 00:00 UTC to the next Monday), counting only the part of each entry inside the week and running timers up to now. :week_start is the Monday as a time (''2026-11-16T00:00:00.000000Z''), or NULL for the current week; :project_id limits to one project, or NULL for all projects.',
'WITH week AS (
    SELECT coalesce(:week_start,
                    strftime(''%Y-%m-%dT00:00:00.000000Z'', ''now'', ''-6 days'', ''weekday 1''))
               AS starts_at
), bounds AS (
    SELECT starts_at,
           strftime(''%Y-%m-%dT%H:%M:%S.000000Z'', starts_at, ''+7 days'') AS ends_at
    FROM week
)
SELECT t.user_id, u.display_name,
       round(sum(julianday(min(coalesce(t.ended_at,
                                        strftime(''%Y-%m-%dT%H:%M:%fZ'', ''now'')),
                               b.ends_at))
                 - julianday(max(t.started_at, b.starts_at))) * 24.0, 2) AS hours
FROM time_entries AS t
CROSS JOIN bounds AS b
JOIN users AS u ON u.id = t.user_id
WHERE t.deleted_at IS NULL
  AND (:project_id IS NULL OR t.project_id = :project_id)
  AND t.started_at < b.ends_at
  AND coalesce(t.ended_at, ''9999-12-31T23:59:59.999999Z'') > b.starts_at
GROUP BY t.user_id, u.display_name
ORDER BY hours DESC, t.user_id',
        60, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000020', NULL, 'query_pattern', 'time_entries',
        'The running timer of a user',
'A user has at most one running timer (ended_at IS NULL). Returns it with its item and the hours so far, or no row. Parameters: :user_id.',
'SELECT t.id, t.work_item_id, p.key || ''-'' || w.item_number AS display_key, w.title,
       t.started_at,
       round((julianday(''now'') - julianday(t.started_at)) * 24.0, 2) AS hours_so_far,
       t.note, t.version
FROM time_entries AS t
JOIN work_items AS w ON w.id = t.work_item_id AND w.deleted_at IS NULL
JOIN projects AS p ON p.id = t.project_id AND p.deleted_at IS NULL
WHERE t.user_id = :user_id
  AND t.ended_at IS NULL
  AND t.deleted_at IS NULL',
        60, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000021', NULL, 'query_pattern', 'activity_log',
        'Recent activity of a work item',
'The audit trail of one live item, newest first, one row per changed field; values are JSON text. activity_log itself has no deleted_at (it is never deleted): to see the history of a deleted item, drop the deleted_at condition on w. The actor''s name is shown even if that user was deleted since. Parameters: :item_id, :limit (e.g. 50).',
'SELECT p.key || ''-'' || w.item_number AS display_key, a.id, a.created_at, a.action,
       a.field, a.old_value, a.new_value, a.actor_id, u.display_name AS actor_name
FROM activity_log AS a
JOIN work_items AS w ON w.id = a.entity_id AND w.deleted_at IS NULL
JOIN projects AS p ON p.id = w.project_id
LEFT JOIN users AS u ON u.id = a.actor_id
WHERE a.entity_type = ''work_item''
  AND a.entity_id = :item_id
ORDER BY a.id DESC
LIMIT :limit',
        60, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000022', NULL, 'query_pattern', 'work_items',
        'All descendants of an epic (stories and their tasks)',
'Walks parent_id down from the item with a recursive CTE; depth 1 are its stories, depth 2 their tasks. Deleted items and everything under them are left out. Parameters: :item_id (the epic''s id).',
'WITH RECURSIVE tree (id, depth) AS (
    SELECT w.id, 1
    FROM work_items AS w
    WHERE w.parent_id = :item_id AND w.deleted_at IS NULL
    UNION ALL
    SELECT w.id, tree.depth + 1
    FROM work_items AS w
    JOIN tree ON w.parent_id = tree.id
    WHERE w.deleted_at IS NULL AND tree.depth < 10
)
SELECT tree.depth, p.key || ''-'' || w.item_number AS display_key, w.id, w.type, w.title,
       w.status, w.parent_id
FROM tree
JOIN work_items AS w ON w.id = tree.id
JOIN projects AS p ON p.id = w.project_id
ORDER BY tree.depth, w.position, w.item_number',
        60, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000023', NULL, 'query_pattern', 'comments',
        'Comments of a work item',
'The live comments of one item, oldest first, with the author''s name. Parameters: :item_id.',
'SELECT c.id, c.created_at, c.updated_at, c.author_id, u.display_name AS author_name,
       c.body, c.version
FROM comments AS c
LEFT JOIN users AS u ON u.id = c.author_id
WHERE c.work_item_id = :item_id
  AND c.deleted_at IS NULL
ORDER BY c.created_at, c.id',
        60, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000024', NULL, 'business_rule', 'hierarchy',
        'Work item hierarchy: epic > story > task',
'An epic has no parent. A story''s parent must be an epic. A task''s parent must be a story. Any item may be an orphan (parent_id NULL). A parent belongs to the same project as its child. Re-parenting must never make an item its own ancestor (or a child of its own descendant). Changing an item''s type must keep it valid under its parent and over its live children. Violations are VALIDATION_ERROR on field parent_id with rules hierarchy.epic_has_no_parent, hierarchy.parent_type, hierarchy.same_project, hierarchy.child_type, hierarchy.cycle.',
NULL,
        80, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000025', NULL, 'business_rule', 'dependencies',
        'Dependencies: blocks and relates_to',
'A dependency links from_item_id to to_item_id; type ''blocks'' means to_item should not proceed until from_item is done, ''relates_to'' is only a link.
- No self dependency: an item cannot depend on itself (dependency.self).
- Both items belong to the same project (dependency.same_project).
- No duplicate: one live dependency per (from_item_id, to_item_id, type) (CONFLICT).
- No cycle of ''blocks'' dependencies (A blocks B blocks A): refused with dependency.cycle and the path of the cycle; ''relates_to'' links may form cycles.
- At most 100 live dependencies touch one item, counting both directions and both types (dependency.cap).',
NULL,
        80, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000026', NULL, 'business_rule', 'sprints',
        'Sprint life cycle',
'Status transitions: planned -> active or cancelled; active -> completed or cancelled. Completed and cancelled are final: nothing leaves them and the sprint can no longer be edited (sprint.immutable). Any other change of status is refused (sprint.transition). A project has at most one active sprint (sprint.one_active; the database enforces it with the unique index sprints_one_active). When both are set, ends_at is after starts_at.',
NULL,
        80, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000027', NULL, 'business_rule', 'time_entries',
        'Timers and time entries',
'A user has at most one running timer (time_entries.ended_at IS NULL; unique index time_entries_one_running). Starting a timer stops the user''s previous running timer at the current time (never before its own start). Stopping a timer that is not running is refused (timer.not_running). A manually logged entry must: start before it ends (timer.order), last at most 24 hours (timer.max_duration), and not end in the future (timer.future).',
NULL,
        80, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000028', NULL, 'business_rule', 'integrity',
        'Soft delete, optimistic concurrency and display keys',
'Soft delete everywhere but the audit trail: deleting sets deleted_at and keeps the row; activity_log rows are never deleted (nor are events and idempotency_keys soft-deleted: they are purged by age). Deleting a project soft-deletes everything in it.
Optimistic concurrency: every versioned row starts at version 1 and gains 1 per update and on delete. A change names the version it read and is written with UPDATE ... WHERE id = ? AND version = ? AND deleted_at IS NULL; a stale version is refused with CONFLICT carrying the current row, so re-read and retry.
Display keys: a work item is KEY-123 (projects.key, a hyphen, work_items.item_number). Numbers come from projects.next_item_number and are never reused, not even after the item is deleted.',
NULL,
        80, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000029', NULL, 'instruction', 'agents',
        'How to read this database',
'- Always filter deleted_at IS NULL on every table that has it (all but tenant_meta, activity_log, events, idempotency_keys); include deleted rows only when asked about history.
- Start from the schema_doc and query_pattern rows here; bind parameters by name (:project_id), never paste values into SQL.
- When talking to humans name work items by display key (PM-12), projects by key and users by display_name, never by raw id.
- Times are UTC text (''2026-11-22T10:00:00.000000Z''); convert to the reader''s time zone only for display. activity_log values are JSON text.',
NULL,
        100, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000030', NULL, 'instruction', 'agents',
        'How to change data and record what you learn',
'- Never write to the tables with raw SQL: make changes through pm commands, which check permissions and rules, record the activity log and notify other users.
- Every update or delete carries the version you read; on CONFLICT re-read the row, re-apply your change and retry.
- Write findings back as llm_context rows, through the llm_context commands (context_type ''example'', ''query_pattern'' or ''business_rule'', with the project_id they apply to, or NULL for the whole tenant) so the next agent starts from them; update an existing row rather than adding a near-duplicate.',
NULL,
        90, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');
