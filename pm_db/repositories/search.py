"""Full-text search over the items a caller may read (the FTS5 index of migration 10).

One literal statement: the index's matches joined to their live items (on the
rowid and, as a guard, the id) and projects, narrowed to the projects the
caller is a member of (every live project for a tenant admin) and to the
filters given, ranked by bm25 (a title match weighs most), paged by offset.
Each hit carries a snippet of the best-matching column with the matched words
between :data:`pm_core.search.MARK_START` and ``MARK_END``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final

from pm_core.enums import WorkItemStatus, WorkItemType
from pm_core.errors import ValidationError
from pm_core.models import WorkItem
from pm_db.repositories.work_items import from_row as work_item_from_row

MAX_LIMIT: Final = 100
MAX_OFFSET: Final = 10_000
SEARCH: Final = """
SELECT w.*, p.key AS project_key, s.rank AS score,
       snippet(search_index, -1, char(2), char(3), '…', 16) AS snippet
FROM search_index AS s
JOIN work_items AS w ON w.rowid = s.rowid AND w.id = s.item_id
JOIN projects AS p ON p.id = w.project_id
WHERE search_index MATCH :query
  AND w.deleted_at IS NULL AND p.deleted_at IS NULL
  AND (:everywhere OR w.project_id IN (
        SELECT m.project_id FROM project_members AS m
        WHERE m.user_id = :user_id AND m.deleted_at IS NULL))
  AND (:project_id IS NULL OR w.project_id = :project_id)
  AND (:types IS NULL OR w.type IN (SELECT value FROM json_each(:types)))
  AND (:statuses IS NULL OR w.status IN (SELECT value FROM json_each(:statuses)))
  AND (:assignee_id IS NULL OR w.assignee_id = :assignee_id)
  AND (:sprint_id IS NULL OR w.sprint_id = :sprint_id)
  AND (:label_id IS NULL OR EXISTS (
        SELECT 1 FROM item_labels AS il
        WHERE il.work_item_id = w.id AND il.label_id = :label_id AND il.deleted_at IS NULL))
ORDER BY s.rank, w.id
LIMIT :limit OFFSET :offset
"""


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """What to look for and where; a field left None matches everything."""

    query: str  # an FTS5 query (pm_core.search.match_query)
    project_id: str | None = None
    types: Collection[WorkItemType] | None = None
    statuses: Collection[WorkItemStatus] | None = None
    assignee_id: str | None = None
    sprint_id: str | None = None
    label_id: str | None = None
    limit: int = 20
    offset: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValidationError("limit", f"limit must be between 1 and {MAX_LIMIT}")
        if not 0 <= self.offset <= MAX_OFFSET:
            raise ValidationError("offset", f"offset must be between 0 and {MAX_OFFSET}")


@dataclass(frozen=True, slots=True)
class SearchHit:
    item: WorkItem
    project_key: str
    snippet: str
    #: bm25 as FTS5 reports it: lower is better.
    score: float


class SearchRepository:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def search(self, filters: SearchFilter, *, user_id: str, everywhere: bool) -> list[SearchHit]:
        """The best matches first; ``everywhere`` (a tenant admin) reads every project,
        anyone else only the projects ``user_id`` is a member of."""
        parameters: dict[str, Any] = {
            "query": filters.query,
            "everywhere": everywhere,
            "user_id": user_id,
            "project_id": filters.project_id,
            "types": _json_list(filters.types),
            "statuses": _json_list(filters.statuses),
            "assignee_id": filters.assignee_id,
            "sprint_id": filters.sprint_id,
            "label_id": filters.label_id,
            "limit": filters.limit,
            "offset": filters.offset,
        }
        return [
            SearchHit(work_item_from_row(row), row["project_key"], row["snippet"], row["score"])
            for row in self._conn.execute(SEARCH, parameters)
        ]


def _json_list(values: Collection[str] | None) -> str | None:
    return None if not values else json.dumps(sorted(str(value) for value in values))
