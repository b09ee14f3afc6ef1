"""The epic > story > task hierarchy.

An epic has no parent, a story's parent is an epic, a task's parent is a
story. Any item may be an orphan (no parent). A parent always belongs to the
same project as its child, and re-parenting must never make an item its own
ancestor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Final

from pm_core.enums import WorkItemType
from pm_core.errors import HierarchyError
from pm_core.models import WorkItem
from pm_core.text import with_article

ALLOWED_PARENT_TYPE: Final[Mapping[WorkItemType, WorkItemType | None]] = MappingProxyType(
    {
        WorkItemType.EPIC: None,
        WorkItemType.STORY: WorkItemType.EPIC,
        WorkItemType.TASK: WorkItemType.STORY,
    }
)


def _parent_type_message(child_type: WorkItemType) -> str:
    allowed = ALLOWED_PARENT_TYPE[child_type]
    if allowed is None:
        return f"{with_article(child_type)} cannot have a parent"
    return f"the parent of {with_article(child_type)} must be {with_article(allowed)}"


def check_parent(child_type: WorkItemType, child_project_id: str, parent: WorkItem | None) -> None:
    """Refuse ``parent`` as the parent of an item of ``child_type`` in ``child_project_id``.

    ``parent`` None (an orphan) is always allowed.
    """
    if parent is None:
        return
    if ALLOWED_PARENT_TYPE[child_type] is None:
        raise HierarchyError("hierarchy.epic_has_no_parent", _parent_type_message(child_type))
    if parent.project_id != child_project_id:
        raise HierarchyError("hierarchy.same_project", "the parent must belong to the same project")
    if parent.type != ALLOWED_PARENT_TYPE[child_type]:
        raise HierarchyError("hierarchy.parent_type", _parent_type_message(child_type))


def check_type_change(
    new_type: WorkItemType, parent: WorkItem | None, child_types: Iterable[WorkItemType]
) -> None:
    """Refuse changing an item to ``new_type`` when it no longer fits its neighbours.

    The new type must be allowed under the item's current ``parent`` and every
    live child (of ``child_types``) must still be allowed under the new type.
    """
    if parent is not None and parent.type != ALLOWED_PARENT_TYPE[new_type]:
        raise HierarchyError("hierarchy.parent_type", _parent_type_message(new_type), "type")
    for child_type in child_types:
        if ALLOWED_PARENT_TYPE[child_type] != new_type:
            raise HierarchyError(
                "hierarchy.child_type",
                f"{with_article(new_type)} cannot have {with_article(child_type)} as a child; "
                f"{_parent_type_message(child_type)}",
                "type",
            )


def would_create_cycle(
    item_id: str, new_parent_id: str | None, parent_of: Callable[[str], str | None]
) -> bool:
    """True when making ``new_parent_id`` the parent of ``item_id`` closes a loop.

    Walks up from ``new_parent_id`` through ``parent_of`` (which returns an
    item's current parent id, or None at a root). The walk stops at a node it
    has already seen, so corrupt data that already loops cannot hang it.
    """
    seen: set[str] = set()
    current = new_parent_id
    while current is not None and current not in seen:
        if current == item_id:
            return True
        seen.add(current)
        current = parent_of(current)
    return False


def check_reparent(
    item_id: str, new_parent_id: str | None, parent_of: Callable[[str], str | None]
) -> None:
    """Refuse a new parent that is the item itself or one of its descendants."""
    if would_create_cycle(item_id, new_parent_id, parent_of):
        raise HierarchyError(
            "hierarchy.cycle", "an item cannot be its own ancestor or a descendant's child"
        )
