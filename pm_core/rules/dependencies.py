"""Dependencies between work items (``blocks`` and ``relates_to``).

Both ends of a dependency are distinct items of the same project; one item
takes part in at most :data:`MAX_DEPENDENCIES_PER_ITEM` live dependencies; and
``blocks`` dependencies never form a cycle (A blocks B blocks A could never be
started). ``relates_to`` links carry no order, so cycles are fine there.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Final

from pm_core.errors import DependencyCycleError, RuleViolationError
from pm_core.models import WorkItem

MAX_DEPENDENCIES_PER_ITEM: Final = 100


def check_endpoints(from_item: WorkItem, to_item: WorkItem) -> None:
    """Refuse a dependency of an item on itself or across projects."""
    if from_item.id == to_item.id:
        raise RuleViolationError("dependency.self", "to_item_id", "an item cannot depend on itself")
    if from_item.project_id != to_item.project_id:
        raise RuleViolationError(
            "dependency.same_project",
            "to_item_id",
            "both items of a dependency must belong to the same project",
        )


def check_cap(item_id: str, live_count: int, *, field: str = "to_item_id") -> None:
    """Refuse one more dependency on an item that already has ``live_count``.

    ``live_count`` counts live dependencies touching ``item_id`` in either
    direction and of any type. ``field`` names the request field that chose
    ``item_id``.
    """
    if live_count >= MAX_DEPENDENCIES_PER_ITEM:
        raise RuleViolationError(
            "dependency.cap",
            field,
            f"an item can have at most {MAX_DEPENDENCIES_PER_ITEM} dependencies",
        )


def find_cycle(edges: Iterable[tuple[str, str]], new_from: str, new_to: str) -> list[str] | None:
    """The cycle that adding ``new_from -> new_to`` would close, or None.

    ``edges`` are the existing live ``blocks`` edges as ``(from, to)`` pairs.
    A cycle exists exactly when ``new_from`` is reachable from ``new_to``; the
    result is the shortest such loop as ``[new_from, new_to, ..., new_from]``
    (``[x, x]`` for an edge from an item to itself).
    """
    successors: dict[str, list[str]] = {}
    for source, target in edges:
        successors.setdefault(source, []).append(target)

    # Breadth-first from new_to; came_from records the tree to rebuild the path.
    came_from: dict[str, str | None] = {new_to: None}
    queue = deque([new_to])
    while queue:
        node = queue.popleft()
        if node == new_from:
            path = [node]
            previous = came_from[node]
            while previous is not None:
                path.append(previous)
                previous = came_from[previous]
            path.reverse()  # now new_to ... new_from
            return [new_from, *path]
        for successor in successors.get(node, ()):
            if successor not in came_from:
                came_from[successor] = node
                queue.append(successor)
    return None


def check_no_cycle(edges: Iterable[tuple[str, str]], new_from: str, new_to: str) -> None:
    """Refuse a ``blocks`` edge that would close a cycle; the error carries the path."""
    path = find_cycle(edges, new_from, new_to)
    if path is not None:
        raise DependencyCycleError(path)
