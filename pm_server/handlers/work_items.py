"""Work items: create, update (incl. reparent, move to sprint, reorder, type change), delete, read.

Roles: a viewer reads (get, list); an editor creates, updates and deletes.
An item of a project the caller cannot read does not exist for them
(NOT_FOUND naming the item id they sent), and so does a parent or sprint of
such a project named in a create or update. Replies and events carry the
display key (``PM-12``). Deleting an item deletes its comments, time entries
and dependencies with it; their ids are the event's ``cascaded_ids``. An item
with live children cannot be deleted (DELETE_BLOCKED, the children as
blockers). An item moved into a lane (its status changed) gets that lane's
load in its reply and event: a lane over its WIP limit takes the item
anyway, and says it is over. A create carries none: its write stays within
its statement budget, and a new item starts in the backlog unless told.

``bulk_update_work_items`` (editor of every item's project) applies one set of
changes to up to 500 items in one unit of work: each item is loaded and
updated as ``update_work_item`` would, each changed item gets its own event,
and the first refusal rolls everything back, its message starting with the
item it failed on (``PM-3 (<id>): ...``; the id alone when the item cannot be
read).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from pm_auth.tokens import Principal
from pm_core.enums import Action, EntityType, Priority, Role, WorkItemStatus
from pm_core.errors import ConflictError, NotFoundError, PmError, ValidationError
from pm_core.keys import format_display_key
from pm_core.models import FieldChange, Project, Sprint, WorkItem, WorkItemPatch
from pm_core.patches import UNSET
from pm_core.rules.lanes import LaneLoad
from pm_db.repositories.work_items import WorkItemFilter
from pm_db.unit_of_work import UnitOfWork
from pm_proto import entities as pb_entities
from pm_proto import enums as pb_enums
from pm_proto import patches as pb_patches
from pm_proto.dates import date_or_none
from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2
from pm_server import access
from pm_server.context import Context
from pm_server.events import Change, deleted_along
from pm_server.mutations import Mutation, mutate

ENTITY: Final = EntityType.WORK_ITEM
#: Items a list returns when the client names no limit (the repository allows up to 1000).
DEFAULT_LIMIT: Final = 500
#: Items one bulk update may change (all in one transaction on the tenant's writer).
MAX_BULK: Final = 500


def _reply(item: WorkItem, project_key: str) -> envelope_pb2.Reply:
    return envelope_pb2.Reply(
        work_item=commands_pb2.WorkItemReply(item=pb_entities.work_item_to_pb(item, project_key))
    )


def _mutation(
    action: Action,
    item: WorkItem,
    project: Project,
    changes: Sequence[FieldChange] = (),
    *,
    cascaded_ids: Sequence[str] = (),
    side_changes: tuple[Change, ...] = (),
    lane_load: LaneLoad | None = None,
) -> Mutation:
    """The reply and the event of one change to an item, sharing one message built once."""
    message = pb_entities.work_item_to_pb(item, project.key)
    change = Change(
        EntityType.WORK_ITEM,
        action,
        item,
        project.id,
        changes,
        cascaded_ids,
        project_key=project.key,
        message=message,
        lane_load=lane_load,
    )
    reply = envelope_pb2.Reply(work_item=commands_pb2.WorkItemReply(item=message))
    if lane_load is not None:
        reply.work_item.lane_load.CopyFrom(pb_entities.lane_load_to_pb(lane_load))
    return Mutation(reply, change, side_changes=side_changes)


def _referenced(
    uow: UnitOfWork,
    principal: Principal,
    project: Project,
    parent_id: str | None,
    sprint_id: str | None,
) -> tuple[WorkItem | None, Sprint | None]:
    """The parent and sprint a create or update names, loaded for the repository.

    One in a project the caller cannot read does not exist for them; whether
    it fits (same project, type, sprint status) is the repository's to check.
    """
    parent = None if parent_id is None else access.readable_item(uow, principal, parent_id, project)
    sprint = (
        None if sprint_id is None else access.readable_sprint(uow, principal, sprint_id, project)
    )
    return parent, sprint


async def create_work_item(ctx: Context, cmd: commands_pb2.CreateWorkItem) -> bytes:
    principal = ctx.principal
    fields: dict[str, Any] = {
        "type": pb_enums.from_pb_work_item_type(cmd.type, "type"),
        "title": cmd.title,
        "description": cmd.description,
        "status": (
            pb_enums.from_pb_work_item_status(cmd.status, "status")
            if cmd.status
            else WorkItemStatus.BACKLOG
        ),
        "priority": (
            pb_enums.from_pb_priority(cmd.priority, "priority") if cmd.priority else Priority.MEDIUM
        ),
        "story_points": cmd.story_points if cmd.HasField("story_points") else None,
        "position": cmd.position if cmd.HasField("position") else None,
        "assignee_id": pb_patches.id_or_none(cmd.assignee_id),
        "start_date": date_or_none(cmd.start_date, "start_date"),
        "due_date": date_or_none(cmd.due_date, "due_date"),
    }
    parent_id = pb_patches.id_or_none(cmd.parent_id)
    sprint_id = pb_patches.id_or_none(cmd.sprint_id)

    def unit(uow: UnitOfWork) -> Mutation:
        project = access.project(uow, principal, cmd.project_id, Role.EDITOR)
        parent, sprint = _referenced(uow, principal, project, parent_id, sprint_id)
        item = uow.work_items.create(
            project_id=project.id,
            created_by=principal.user_id,
            parent=parent,
            sprint=sprint,
            **fields,
        )
        return _mutation(Action.CREATED, item, project)

    return await mutate(ctx, unit)


async def update_work_item(ctx: Context, cmd: commands_pb2.UpdateWorkItem) -> bytes:
    principal = ctx.principal
    patch = pb_patches.patch_of(cmd, WorkItemPatch)
    # A parent or sprint the patch names (not one it clears) is loaded for the repository.
    parent_id = None if patch.parent_id is UNSET else patch.parent_id
    sprint_id = None if patch.sprint_id is UNSET else patch.sprint_id

    def unit(uow: UnitOfWork) -> Mutation:
        loaded = access.work_item(uow, principal, cmd.item_id, Role.EDITOR)
        project = loaded.project
        parent, sprint = _referenced(uow, principal, project, parent_id, sprint_id)
        try:
            updated = uow.work_items.update(
                cmd.item_id, cmd.expected_version or None, patch, parent=parent, sprint=sprint
            )
        except ConflictError as exc:
            exc.project_key = project.key  # so the current item carries its display key
            raise
        # Moved into another lane (its status changed): say how full that lane is now. A
        # full lane takes the item anyway; the reply and the event say it is over.
        moved = any(c.field == "status" for c in updated.changes)
        lane_load = (
            uow.swim_lanes.load_of_status(project.id, updated.entity.status) if moved else None
        )
        return _mutation(
            Action.UPDATED, updated.entity, project, updated.changes, lane_load=lane_load
        )

    return await mutate(ctx, unit)


async def delete_work_item(ctx: Context, cmd: commands_pb2.DeleteWorkItem) -> bytes:
    principal = ctx.principal

    def unit(uow: UnitOfWork) -> Mutation:
        loaded = access.work_item(uow, principal, cmd.item_id, Role.EDITOR)
        project, item = loaded.project, loaded.entity
        deleted = uow.work_items.soft_delete(item.id, cmd.expected_version or None)
        cascaded = uow.cascades.delete_item_rows(item.id)
        return _mutation(
            Action.DELETED,
            deleted,
            project,
            cascaded_ids=[entity.id for _, entity in cascaded],
            side_changes=deleted_along(cascaded),
        )

    return await mutate(ctx, unit)


async def get_work_item(ctx: Context, cmd: commands_pb2.GetWorkItem) -> envelope_pb2.Reply:
    principal = ctx.principal
    by = cmd.WhichOneof("by")
    if by is None:
        raise ValidationError("item_id", "name an item by item_id or display_key")
    asked = cmd.display_key if by == "display_key" else cmd.item_id

    def read(uow: UnitOfWork) -> envelope_pb2.Reply:
        if by == "display_key":
            loaded = access.work_item_by_key(uow, principal, asked, Role.VIEWER)
        else:
            loaded = access.work_item(uow, principal, asked, Role.VIEWER)
        return _reply(loaded.entity, loaded.project.key)

    return await ctx.db.read(read)


def _list_filter(cmd: commands_pb2.ListWorkItems) -> WorkItemFilter:
    sprint_id, backlog_only = _id_filter(cmd.HasField("sprint_id"), cmd.sprint_id)
    parent_id, orphans_only = _id_filter(cmd.HasField("parent_id"), cmd.parent_id)
    assignee_id, unassigned_only = _id_filter(cmd.HasField("assignee_id"), cmd.assignee_id)
    types = [pb_enums.from_pb_work_item_type(t, "types") for t in cmd.types]
    statuses = [pb_enums.from_pb_work_item_status(s, "statuses") for s in cmd.statuses]
    return WorkItemFilter(
        types=types or None,
        statuses=statuses or None,
        sprint_id=sprint_id,
        backlog_only=backlog_only,
        parent_id=parent_id,
        orphans_only=orphans_only,
        assignee_id=assignee_id,
        unassigned_only=unassigned_only,
        descendants_of=cmd.descendants_of if cmd.HasField("descendants_of") else None,
        ancestors_of=cmd.ancestors_of if cmd.HasField("ancestors_of") else None,
        include_done=not cmd.exclude_done,
        due_before=date_or_none(cmd.due_before, "due_before"),
        label_ids=list(cmd.label_ids) or None,
        overdue_on=datetime.now(UTC).date() if cmd.overdue else None,
        limit=cmd.limit or DEFAULT_LIMIT,
        after=_parse_after(cmd.after) if cmd.after else None,
    )


def _format_after(item: WorkItem) -> str:
    """The paging cursor after ``item``: its place in board order, ``position/item_number``."""
    return f"{item.position!r}/{item.item_number}"


def _parse_after(cursor: str) -> tuple[float, int]:
    """The ``(position, item_number)`` of a cursor made by :func:`_format_after`."""
    bad = ValidationError("after", "after must be the next_after of a previous page")
    position, _, number = cursor.partition("/")
    try:
        after = (float(position), int(number))
    except ValueError as exc:
        raise bad from exc
    if not math.isfinite(after[0]) or after[1] < 1:
        raise bad
    return after


def _id_filter(present: bool, value: str) -> tuple[str | None, bool]:
    """(the id to match, whether to match "none") of an optional id filter; "" is "none"."""
    if not present:
        return None, False
    return (value, False) if value else (None, True)


async def list_work_items(ctx: Context, cmd: commands_pb2.ListWorkItems) -> envelope_pb2.Reply:
    principal = ctx.principal
    filters = _list_filter(cmd)

    def read(uow: UnitOfWork) -> envelope_pb2.Reply:
        project = access.project(uow, principal, cmd.project_id, Role.VIEWER)
        _check_anchors(uow, project.id, (filters.descendants_of, filters.ancestors_of))
        items = uow.work_items.list(project.id, filters)
        full = len(items) == filters.limit
        return envelope_pb2.Reply(
            work_items=commands_pb2.WorkItemList(
                items=[pb_entities.work_item_to_pb(item, project.key) for item in items],
                seq=uow.events.latest_seq(),
                next_after=_format_after(items[-1]) if full else "",
            )
        )

    return await ctx.db.read(read)


def _check_anchors(uow: UnitOfWork, project_id: str, anchors: Iterable[str | None]) -> None:
    """``descendants_of``/``ancestors_of`` must name a live item of the listed project."""
    for anchor in anchors:
        if anchor is None:
            continue
        item = uow.work_items.find(anchor)
        if item is None or item.project_id != project_id:
            raise NotFoundError(ENTITY, anchor)


async def bulk_update_work_items(ctx: Context, cmd: commands_pb2.BulkUpdateWorkItems) -> bytes:
    principal = ctx.principal
    item_ids = list(cmd.item_ids)
    if not 1 <= len(item_ids) <= MAX_BULK:
        raise ValidationError("item_ids", f"name 1 to {MAX_BULK} items")
    if len(set(item_ids)) != len(item_ids):
        raise ValidationError("item_ids", "each item may be named once")
    patch = pb_patches.patch_of(cmd, WorkItemPatch)
    parent_id = None if patch.parent_id is UNSET else patch.parent_id
    sprint_id = None if patch.sprint_id is UNSET else patch.sprint_id

    def one(uow: UnitOfWork, item_id: str) -> tuple[Change, entities_pb2.WorkItem]:
        """The change to one item; any refusal names the item."""
        try:
            loaded = access.work_item(uow, principal, item_id, Role.EDITOR)
        except PmError as exc:
            raise _named(exc, item_id) from None
        project = loaded.project
        try:
            parent, sprint = _referenced(uow, principal, project, parent_id, sprint_id)
            updated = uow.work_items.update(item_id, None, patch, parent=parent, sprint=sprint)
        except PmError as exc:
            key = format_display_key(project.key, loaded.entity.item_number)
            raise _named(exc, f"{key} ({item_id})") from None
        message = pb_entities.work_item_to_pb(updated.entity, project.key)
        change = Change(
            EntityType.WORK_ITEM,
            Action.UPDATED,
            updated.entity,
            project.id,
            updated.changes,
            project_key=project.key,
            message=message,
        )
        return change, message

    def unit(uow: UnitOfWork) -> Mutation:
        done = [one(uow, item_id) for item_id in item_ids]
        items = [message for _, message in done]
        reply = envelope_pb2.Reply(bulk_updated=commands_pb2.BulkUpdateReply(items=items))
        return Mutation(reply, None, side_changes=tuple(change for change, _ in done))

    return await mutate(ctx, unit)


def _named(exc: PmError, item: str) -> PmError:
    """``exc`` with the item of a bulk command it was raised for in front of its message
    (the whole command is rolled back)."""
    exc.message = f"{item}: {exc.message}"
    return exc
