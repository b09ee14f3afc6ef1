"""Swim lanes: the columns of a project's board.

A lane shows the items whose status is the lane's ``status``; ``position``
orders the lanes left to right (ties fall back to creation order) and
``wip_limit`` caps how many items the lane should hold (reported by
:meth:`SwimLaneRepository.loads`, never enforced). Lane names are unique
among a project's live lanes (exact, case-sensitive match; CONFLICT), and so
are their statuses (``swim_lane.one_per_status``, :mod:`pm_core.rules.lanes`),
both backed by partial unique indexes; a deleted lane's name and status are
free again.
"""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from typing import Final, NoReturn

from pm_core.changes import Updated, diff
from pm_core.enums import EntityType, WorkItemStatus
from pm_core.errors import DuplicateError, NotFoundError
from pm_core.models import SwimLane, SwimLanePatch
from pm_core.rules import lanes as lane_rules
from pm_core.rules.lanes import LaneLoad
from pm_core.validation import build, merge
from pm_db.codec import db_time, new_id, parse_db_time, parse_db_time_or_none
from pm_db.repositories._support import check_version, check_written, is_unique_violation

ENTITY: Final = EntityType.SWIM_LANE
UPDATABLE: Final = SwimLanePatch.field_names()
# The board a new project starts with: (name, status), at positions 0, 1, 2, ...
DEFAULT_LANES: Final[tuple[tuple[str, WorkItemStatus], ...]] = (
    ("Backlog", WorkItemStatus.BACKLOG),
    ("To Do", WorkItemStatus.TODO),
    ("In Progress", WorkItemStatus.IN_PROGRESS),
    ("In Review", WorkItemStatus.IN_REVIEW),
    ("Done", WorkItemStatus.DONE),
)
_NAME_INDEX: Final = "swim_lanes.project_id, swim_lanes.name"
_STATUS_INDEX: Final = "swim_lanes.project_id, swim_lanes.status"

_COLUMNS: Final = (
    "id, project_id, name, status, position, wip_limit, version, created_at, updated_at, deleted_at"
)
INSERT: Final = """
INSERT INTO swim_lanes (id, project_id, name, status, position, wip_limit, version,
                        created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)
"""
PROJECT_IS_LIVE: Final = "SELECT 1 FROM projects WHERE id = ? AND deleted_at IS NULL"
NEXT_POSITION: Final = """
SELECT coalesce(max(position) + 1, 0) FROM swim_lanes
WHERE project_id = ? AND deleted_at IS NULL
"""
SELECT_LIVE: Final = f"SELECT {_COLUMNS} FROM swim_lanes WHERE id = ? AND deleted_at IS NULL"
SELECT_BY_NAME: Final = f"""
SELECT {_COLUMNS} FROM swim_lanes WHERE project_id = ? AND name = ? AND deleted_at IS NULL
"""
SELECT_BY_STATUS: Final = f"""
SELECT {_COLUMNS} FROM swim_lanes WHERE project_id = ? AND status = ? AND deleted_at IS NULL
"""
SELECT_BY_PROJECT: Final = f"""
SELECT {_COLUMNS} FROM swim_lanes
WHERE project_id = ? AND deleted_at IS NULL
ORDER BY position, created_at, id
"""
UPDATE: Final = """
UPDATE swim_lanes SET name = ?, status = ?, position = ?, wip_limit = ?, version = ?,
                      updated_at = ?
WHERE id = ? AND version = ? AND deleted_at IS NULL
"""
# Live items per status: what each lane shows.
COUNT_ITEMS_BY_STATUS: Final = """
SELECT status, count(*) AS n FROM work_items
WHERE project_id = ? AND deleted_at IS NULL
GROUP BY status
"""
# The lane of one status and its item count, in one statement (it runs in a status change's
# write).
SELECT_LOAD_OF_STATUS: Final = """
SELECT lane.id, lane.wip_limit, (
    SELECT count(*) FROM work_items
    WHERE project_id = lane.project_id AND status = lane.status AND deleted_at IS NULL
) FROM swim_lanes AS lane
WHERE lane.project_id = ? AND lane.status = ? AND lane.deleted_at IS NULL
"""
SOFT_DELETE: Final = """
UPDATE swim_lanes SET deleted_at = ?, updated_at = ?, version = version + 1
WHERE id = ? AND version = ? AND deleted_at IS NULL
"""


class SwimLaneRepository:
    def __init__(self, conn: sqlite3.Connection, now: datetime) -> None:
        self._conn = conn
        self._now = now

    def create_defaults(self, project_id: str) -> list[SwimLane]:
        """The standard five lanes (:data:`DEFAULT_LANES`) for a new project."""
        return [
            self.create(project_id=project_id, name=name, status=status, position=position)
            for position, (name, status) in enumerate(DEFAULT_LANES)
        ]

    def create(
        self,
        *,
        project_id: str,
        name: str,
        status: WorkItemStatus,
        position: int | None = None,
        wip_limit: int | None = None,
    ) -> SwimLane:
        """A lane in a live project; without ``position`` it goes after the last live lane."""
        if self._conn.execute(PROJECT_IS_LIVE, (project_id,)).fetchone() is None:
            raise NotFoundError("project", project_id)
        if position is None:
            (position,) = self._conn.execute(NEXT_POSITION, (project_id,)).fetchone()
        now = self._now
        lane = build(
            SwimLane,
            {
                "id": new_id(),
                "project_id": project_id,
                "name": name,
                "status": status,
                "position": position,
                "wip_limit": wip_limit,
                "created_at": now,
                "updated_at": now,
            },
        )
        try:
            self._conn.execute(
                INSERT,
                (
                    lane.id,
                    lane.project_id,
                    lane.name,
                    lane.status,
                    lane.position,
                    lane.wip_limit,
                    db_time(now),
                    db_time(now),
                ),
            )
        except sqlite3.IntegrityError as exc:
            self._raise_duplicate(exc, lane)
        return lane

    def find(self, lane_id: str) -> SwimLane | None:
        row = self._conn.execute(SELECT_LIVE, (lane_id,)).fetchone()
        return None if row is None else from_row(row)

    def get(self, lane_id: str) -> SwimLane:
        lane = self.find(lane_id)
        if lane is None:
            raise NotFoundError(ENTITY, lane_id)
        return lane

    def list(self, project_id: str) -> list[SwimLane]:
        """Live lanes of the project, left to right."""
        return [from_row(row) for row in self._conn.execute(SELECT_BY_PROJECT, (project_id,))]

    def loads(self, project_id: str, lanes: Iterable[SwimLane]) -> builtins.list[LaneLoad]:
        """Each of ``lanes``' item count and whether it is over its WIP limit."""
        counts = {
            WorkItemStatus(row["status"]): row["n"]
            for row in self._conn.execute(COUNT_ITEMS_BY_STATUS, (project_id,))
        }
        return lane_rules.loads(lanes, counts)

    def load_of_status(self, project_id: str, status: WorkItemStatus) -> LaneLoad | None:
        """The load of the lane showing ``status`` (None when no live lane shows it)."""
        row = self._conn.execute(SELECT_LOAD_OF_STATUS, (project_id, status)).fetchone()
        return None if row is None else lane_rules.LaneLoad(row[0], row[2], row[1])

    def update(
        self, lane_id: str, expected_version: int | None, patch: SwimLanePatch
    ) -> Updated[SwimLane]:
        current = self.get(lane_id)
        check_version(ENTITY, current, expected_version)
        new = merge(
            current, patch.changes(), UPDATABLE, version=current.version + 1, updated_at=self._now
        )
        changed = diff(current, new)
        if not changed:  # every field already holds the value asked for: write nothing
            return Updated(current, changed)
        try:
            cursor = self._conn.execute(
                UPDATE,
                (
                    new.name,
                    new.status,
                    new.position,
                    new.wip_limit,
                    new.version,
                    db_time(self._now),
                    lane_id,
                    current.version,
                ),
            )
        except sqlite3.IntegrityError as exc:
            self._raise_duplicate(exc, new)
        check_written(cursor, ENTITY, current)
        return Updated(new, changed)

    def soft_delete(self, lane_id: str, expected_version: int | None) -> SwimLane:
        """Mark the lane deleted; its items keep their status (another lane may show it)."""
        current = self.get(lane_id)
        check_version(ENTITY, current, expected_version)
        stamp = db_time(self._now)
        cursor = self._conn.execute(SOFT_DELETE, (stamp, stamp, lane_id, current.version))
        check_written(cursor, ENTITY, current)
        return current.model_copy(
            update={
                "deleted_at": self._now,
                "updated_at": self._now,
                "version": current.version + 1,
            }
        )

    def _raise_duplicate(self, exc: sqlite3.IntegrityError, lane: SwimLane) -> NoReturn:
        """Translate a clash on the live-name or live-status index; re-raise anything else."""
        if is_unique_violation(exc, _STATUS_INDEX):
            row = self._conn.execute(SELECT_BY_STATUS, (lane.project_id, lane.status)).fetchone()
            raise lane_rules.status_taken(lane.status, None if row is None else from_row(row))
        if not is_unique_violation(exc, _NAME_INDEX):
            raise exc
        row = self._conn.execute(SELECT_BY_NAME, (lane.project_id, lane.name)).fetchone()
        raise DuplicateError(ENTITY, "name", None if row is None else row["id"]) from exc


def from_row(row: sqlite3.Row) -> SwimLane:
    return SwimLane(
        id=row["id"],
        project_id=row["project_id"],
        name=row["name"],
        status=WorkItemStatus(row["status"]),
        position=row["position"],
        wip_limit=row["wip_limit"],
        version=row["version"],
        created_at=parse_db_time(row["created_at"]),
        updated_at=parse_db_time(row["updated_at"]),
        deleted_at=parse_db_time_or_none(row["deleted_at"]),
    )
