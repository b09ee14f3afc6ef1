-- Identity: built-in sign-in accounts, refresh-token families, invitations and API keys.
--
-- Secrets are never stored: refresh tokens, invitation tokens and API keys are
-- stored as the sha256 of their random part (hex), passwords as argon2id PHC
-- strings. None of these tables is exported (pm tenant export): accounts are
-- re-invited after an import. A user is "active" once it can sign in or has
-- connected: an invited user's account has password_hash NULL until the
-- invitation is accepted.

ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'human'
    CHECK (kind IN ('human', 'agent'));

-- Built-in sign-in credentials, at most one per user.
CREATE TABLE accounts (
    user_id             TEXT PRIMARY KEY REFERENCES users (id),
    email_key           TEXT NOT NULL CHECK (email_key = lower(email_key) AND email_key <> ''),
    password_hash       TEXT,
    password_changed_at TEXT,
    version             INTEGER NOT NULL DEFAULT 1,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    deleted_at          TEXT
);
-- Emails are unique per tenant among live accounts, compared case-insensitively.
CREATE UNIQUE INDEX accounts_email_live ON accounts (email_key) WHERE deleted_at IS NULL;

-- Refresh tokens: each use spends one and issues its successor in the same family;
-- presenting a spent one revokes the whole family (reuse detection).
CREATE TABLE refresh_tokens (
    id         TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    spent_at   TEXT,
    revoked_at TEXT
);
CREATE UNIQUE INDEX refresh_tokens_hash ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id) WHERE revoked_at IS NULL;

-- Invitations: single-use, expiring; the invited user row exists from the start
-- so a project admin can add it as a member before its first sign-in.
CREATE TABLE invitations (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    email_key   TEXT NOT NULL CHECK (email_key = lower(email_key) AND email_key <> ''),
    token_hash  TEXT NOT NULL,
    invited_by  TEXT REFERENCES users (id),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    accepted_at TEXT,
    revoked_at  TEXT
);
CREATE UNIQUE INDEX invitations_token ON invitations (token_hash);
CREATE INDEX invitations_user ON invitations (user_id);

-- API keys: each acts as its own agent user (users.kind = 'agent').
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    created_by   TEXT REFERENCES users (id),
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE UNIQUE INDEX api_keys_prefix ON api_keys (prefix);
CREATE INDEX api_keys_user ON api_keys (user_id);

-- What agents read about the schema: users gains kind, and one schema_doc per new table.
UPDATE llm_context
SET content = replace(
        replace(
            content,
            '- deleted_at: TEXT time of the soft delete; NULL while the row is live.',
            '- deleted_at: TEXT time of the soft delete; NULL while the row is live.' || char(10)
                || '- kind: TEXT ''human'' (a person) or ''agent'' (the user of an API key).'
        ),
        'llm_context.created_by;',
        'llm_context.created_by, accounts.user_id, refresh_tokens.user_id, '
            || 'invitations.user_id and invited_by, api_keys.user_id and created_by;'
    ),
    version = version + 1,
    updated_at = strftime('%Y-%m-%dT%H:%M:%S', 'now') || '.000000Z'
WHERE id = '00000000-0000-7000-8000-000000000002'
  AND instr(content, '- kind: ') = 0;

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000031', NULL, 'schema_doc', 'accounts',
        'Table accounts: Built-in sign-in credentials, one per user',
'Table accounts: the email and password a user signs in with when the server''s built-in sign-in is on. Users of an outside identity provider and agents have none.

Columns:
- user_id: TEXT primary key, the users.id the account signs in as.
- email_key: TEXT the sign-in email, lower-cased (emails compare case-insensitively).
- password_hash: TEXT argon2id hash in PHC form (never the password); NULL until the user accepts an invitation, so such a user has not signed in yet.
- password_changed_at: TEXT time the password was last set, or NULL.
- version: INTEGER, optimistic-concurrency counter (see Versioning).
- created_at: TEXT time the row was created.
- updated_at: TEXT time of the last change.
- deleted_at: TEXT time of the soft delete; NULL while the row is live.

Keys and indexes: PRIMARY KEY (user_id), user_id references users (id); accounts_email_live (email_key) unique over live rows.

Soft delete: deleting sets deleted_at (and bumps version); the row stays in the table. Every read must filter deleted_at IS NULL.

Versioning: version is 1 on insert and grows by 1 on every update and on the delete.

Not exported by pm tenant export: accounts are invited again after an import.

Formats: ids are TEXT (UUIDv7, time-ordered, so ORDER BY id is creation order; user ids are the token subject and may be any text). Times are TEXT in UTC, ISO 8601 with six-digit microseconds and a Z suffix (''2026-11-22T10:00:00.000000Z''): fixed width, so comparing or sorting them as text orders them by time, and julianday(), strftime() and datetime() accept them.',
NULL,
        70, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000032', NULL, 'schema_doc', 'refresh_tokens',
        'Table refresh_tokens: Sign-in sessions, rotated on every use',
'Table refresh_tokens: the refresh tokens of signed-in sessions, stored hashed. Each use spends a token and issues its successor in the same family; presenting a spent token again revokes the whole family. Signing out, changing the password or an operator reset revokes families. No version and no deleted_at: rows only gain spent_at and revoked_at.

Columns:
- id: TEXT primary key (UUIDv7), also the visible part of the token.
- family_id: TEXT id shared by every token of one sign-in.
- user_id: TEXT the users.id signed in.
- token_hash: TEXT sha256 of the token''s random part, hex (never the token).
- created_at: TEXT time the token was issued.
- expires_at: TEXT time after which it is refused.
- spent_at: TEXT time it was exchanged for its successor, or NULL.
- revoked_at: TEXT time its family was revoked, or NULL.

Keys and indexes: PRIMARY KEY (id), user_id references users (id); refresh_tokens_hash (token_hash) unique; refresh_tokens_family (family_id); refresh_tokens_user (user_id) over unrevoked rows.

A session is live while some token of its family has spent_at, revoked_at NULL and expires_at in the future.

Formats: ids are TEXT (UUIDv7, time-ordered, so ORDER BY id is creation order; user ids are the token subject and may be any text). Times are TEXT in UTC, ISO 8601 with six-digit microseconds and a Z suffix (''2026-11-22T10:00:00.000000Z''): fixed width, so comparing or sorting them as text orders them by time, and julianday(), strftime() and datetime() accept them.',
NULL,
        70, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000033', NULL, 'schema_doc', 'invitations',
        'Table invitations: Single-use invitations to sign in',
'Table invitations: an invitation for an email to join the tenant, shown once as a link. Accepting it sets the password of the invited user''s account and signs in. No version and no deleted_at: rows only gain accepted_at or revoked_at.

Columns:
- id: TEXT primary key (UUIDv7), also the visible part of the token.
- user_id: TEXT the users.id created for the invited person when the invitation was made (a project admin may add it as a member at once).
- email_key: TEXT the invited email, lower-cased.
- token_hash: TEXT sha256 of the token''s random part, hex (never the token).
- invited_by: TEXT users.id of the tenant admin who invited, or NULL for an operator.
- created_at: TEXT time the invitation was made.
- expires_at: TEXT time after which it cannot be accepted.
- accepted_at: TEXT time it was accepted, or NULL.
- revoked_at: TEXT time it was revoked, or NULL.

Keys and indexes: PRIMARY KEY (id), user_id and invited_by reference users (id); invitations_token (token_hash) unique; invitations_user (user_id).

Formats: ids are TEXT (UUIDv7, time-ordered, so ORDER BY id is creation order; user ids are the token subject and may be any text). Times are TEXT in UTC, ISO 8601 with six-digit microseconds and a Z suffix (''2026-11-22T10:00:00.000000Z''): fixed width, so comparing or sorting them as text orders them by time, and julianday(), strftime() and datetime() accept them.',
NULL,
        70, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

INSERT INTO llm_context (id, project_id, context_type, category, title, content,
                         example_sql, priority, created_by, version, created_at,
                         updated_at)
VALUES ('00000000-0000-7000-8000-000000000034', NULL, 'schema_doc', 'api_keys',
        'Table api_keys: Keys agents and bots connect with',
'Table api_keys: named keys for agents and bots; each acts as its own user of kind ''agent''. The secret is shown once and stored hashed. No version and no deleted_at: a key is revoked (revoked_at), never edited.

Columns:
- id: TEXT primary key (UUIDv7), also the visible part of the key.
- user_id: TEXT the agent users.id the key acts as.
- name: TEXT the name given by the tenant admin.
- prefix: TEXT the key without its secret part; identifies the key in logs.
- secret_hash: TEXT sha256 of the key''s random part, hex (never the key).
- created_by: TEXT users.id of the tenant admin who created it, or NULL.
- created_at: TEXT time the key was created.
- last_used_at: TEXT time the key was last accepted, or NULL.
- revoked_at: TEXT time it was revoked, or NULL (a revoked key is refused at once).

Keys and indexes: PRIMARY KEY (id), user_id and created_by reference users (id); api_keys_prefix (prefix) unique; api_keys_user (user_id).

Formats: ids are TEXT (UUIDv7, time-ordered, so ORDER BY id is creation order; user ids are the token subject and may be any text). Times are TEXT in UTC, ISO 8601 with six-digit microseconds and a Z suffix (''2026-11-22T10:00:00.000000Z''): fixed width, so comparing or sorting them as text orders them by time, and julianday(), strftime() and datetime() accept them.',
NULL,
        70, NULL, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');
