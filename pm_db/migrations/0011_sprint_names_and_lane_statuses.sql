-- Sprint names are unique among a project's live sprints, and a project has one live lane per
-- status. Tenants created before may hold duplicates; this is what happens to them:
--
-- * Sprints: the oldest live sprint keeps its name; each later namesake is renamed to
--   "<name> (2)", "<name> (3)", ... (in creation order), and, should that name be taken
--   too, that name followed by " (<its id>)". Nothing else about the sprint changes; its
--   version moves on so a client holding the old row gets CONFLICT on its next write
--   instead of renaming it back.
-- * Lanes: the leftmost live lane of a status (position, then creation) stays; the others are
--   soft-deleted. A lane holds no items (it shows the items of its status), so only the
--   duplicate column's name and WIP limit go; the deleted rows stay in the database and in
--   exports like any soft-deleted row.
--
-- These changes carry no activity rows and no events: a migration runs before any client is
-- served, and clients reload what they hold when they reconnect.

CREATE TEMP TABLE sprint_renames AS
SELECT id, substr(name, 1, 190) || ' (' || rank || ')' AS new_name
FROM (
    SELECT id, name,
           row_number() OVER (PARTITION BY project_id, name ORDER BY created_at, id) AS rank
    FROM sprints WHERE deleted_at IS NULL
)
WHERE rank > 1;

UPDATE sprints
SET name = (SELECT new_name FROM sprint_renames WHERE sprint_renames.id = sprints.id),
    version = version + 1,
    updated_at = strftime('%Y-%m-%dT%H:%M:%S', 'now') || '.000000Z'
WHERE id IN (SELECT id FROM sprint_renames);

-- A renamed sprint that met another live sprint's name: its id makes it unique.
UPDATE sprints
SET name = substr(name, 1, 150) || ' (' || id || ')'
WHERE id IN (SELECT id FROM sprint_renames)
  AND EXISTS (
        SELECT 1 FROM sprints AS other
        WHERE other.project_id = sprints.project_id AND other.name = sprints.name
          AND other.deleted_at IS NULL AND other.id <> sprints.id
    );

DROP TABLE sprint_renames;

CREATE UNIQUE INDEX sprints_name_live ON sprints (project_id, name) WHERE deleted_at IS NULL;

UPDATE swim_lanes
SET deleted_at = strftime('%Y-%m-%dT%H:%M:%S', 'now') || '.000000Z',
    updated_at = strftime('%Y-%m-%dT%H:%M:%S', 'now') || '.000000Z',
    version = version + 1
WHERE deleted_at IS NULL
  AND EXISTS (
        SELECT 1 FROM swim_lanes AS left_of
        WHERE left_of.project_id = swim_lanes.project_id AND left_of.status = swim_lanes.status
          AND left_of.deleted_at IS NULL
          AND (left_of.position < swim_lanes.position
               OR (left_of.position = swim_lanes.position
                   AND (left_of.created_at < swim_lanes.created_at
                        OR (left_of.created_at = swim_lanes.created_at
                            AND left_of.id < swim_lanes.id))))
    );

CREATE UNIQUE INDEX swim_lanes_status_live ON swim_lanes (project_id, status)
    WHERE deleted_at IS NULL;

-- The seeded schema_doc rows (migration 2) tell agents the keys of both tables.
UPDATE llm_context
SET content = replace(
        content,
        'the database itself keeps one active sprint per project.',
        'the database itself keeps one active sprint per project; '
            || 'UNIQUE (project_id, name) among live rows (sprints_name_live).'
    ),
    version = version + 1,
    updated_at = strftime('%Y-%m-%dT%H:%M:%S', 'now') || '.000000Z'
WHERE id = '00000000-0000-7000-8000-000000000005'
  AND instr(content, 'sprints_name_live') = 0;

UPDATE llm_context
SET content = replace(
        content,
        'UNIQUE (project_id, name) among live rows (swim_lanes_name_live).',
        'UNIQUE (project_id, name) among live rows (swim_lanes_name_live); '
            || 'UNIQUE (project_id, status) among live rows (swim_lanes_status_live): '
            || 'one live lane per status.'
    ),
    version = version + 1,
    updated_at = strftime('%Y-%m-%dT%H:%M:%S', 'now') || '.000000Z'
WHERE id = '00000000-0000-7000-8000-000000000010'
  AND instr(content, 'swim_lanes_status_live') = 0;
