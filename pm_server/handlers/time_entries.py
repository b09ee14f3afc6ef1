"""Time entries: running timers, manually logged work, corrections, listing.

Entries belong to their user: a user starts, stops and logs only their own.

- ``start_timer`` and ``create_time_entry`` need editor rights on the item's
  project. Starting a timer stops the user's running one (the reply carries
  it as ``stopped``; the event is the new entry with the stopped entry's id
  in ``cascaded_ids``). The stop is an update event of its own, in the
  stopped entry's project, so that project's subscribers see it even when
  it is not the new entry's project.
- ``stop_timer`` and ``get_running_timer`` act on the caller's own timer and
  need no project role: ``start_timer`` stops the running timer wherever it
  runs, and a user removed from a project must still be able to stop a timer
  left running there.
- ``update_time_entry`` and ``delete_time_entry``: the entry's user (while an
  editor of its project), or an admin of its project. Another member gets
  FORBIDDEN; a user who cannot read the project gets NOT_FOUND for the entry.
- ``list_time_entries``: a user may list their own entries anywhere (their
  ``user_id``, or no filter at all); everyone's entries (no ``user_id``) or
  another user's need a ``project_id`` or ``work_item_id`` the caller can
  read. Newest first, keyset paging by (``before_started_at``, ``before_id``).

The timer rules (``timer.order``, ``timer.max_duration``, ``timer.future``)
live in :mod:`pm_core.rules.timers` and reach the client as VALIDATION_ERROR
with the rule.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final

from pm_auth.tokens import Principal
from pm_core.changes import diff
from pm_core.enums import Action, EntityType, Role
from pm_core.errors import NotFoundError, ValidationError
from pm_core.models import TimeEntry, TimeEntryPatch
from pm_db.unit_of_work import UnitOfWork
from pm_proto import entities as pb_entities
from pm_proto import patches as pb_patches
from pm_proto.timestamps import get_time
from pm_proto.v1 import commands_pb2, envelope_pb2
from pm_server import access
from pm_server.context import Context
from pm_server.events import Change
from pm_server.mutations import Mutation, mutate

DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 500


def _reply(entry: TimeEntry, stopped: TimeEntry | None = None) -> envelope_pb2.Reply:
    result = commands_pb2.TimeEntryReply(entry=pb_entities.time_entry_to_pb(entry))
    if stopped is not None:
        result.stopped.CopyFrom(pb_entities.time_entry_to_pb(stopped))
    return envelope_pb2.Reply(time_entry=result)


async def start_timer(ctx: Context, cmd: commands_pb2.StartTimer) -> bytes:
    principal = ctx.principal

    def unit(uow: UnitOfWork) -> Mutation:
        item = access.work_item(uow, principal, cmd.work_item_id, Role.EDITOR).entity
        entry, stopped = uow.time_entries.start(item=item, user_id=principal.user_id, note=cmd.note)
        cascaded = [] if stopped is None else [stopped.id]
        change = Change(
            EntityType.TIME_ENTRY, Action.CREATED, entry, entry.project_id, cascaded_ids=cascaded
        )
        # The stopped timer is an update of its own, announced in its own project.
        side = () if stopped is None else (_stopped_change(stopped),)
        return Mutation(_reply(entry, stopped), change, side_changes=side)

    return await mutate(ctx, unit)


def _stopped_change(stopped: TimeEntry) -> Change:
    # Stopping changes only ended_at (None -> now).
    changes = diff(stopped.model_copy(update={"ended_at": None}), stopped)
    return Change(EntityType.TIME_ENTRY, Action.UPDATED, stopped, stopped.project_id, changes)


async def stop_timer(ctx: Context, cmd: commands_pb2.StopTimer) -> bytes:
    user_id = ctx.user_id

    def unit(uow: UnitOfWork) -> Mutation:
        stopped = uow.time_entries.stop(user_id)  # NOT_FOUND running_timer when none runs
        return Mutation(_reply(stopped), _stopped_change(stopped))

    return await mutate(ctx, unit)


async def create_time_entry(ctx: Context, cmd: commands_pb2.CreateTimeEntry) -> bytes:
    principal = ctx.principal
    started_at = _required_time(cmd, "started_at")
    ended_at = _required_time(cmd, "ended_at")

    def unit(uow: UnitOfWork) -> Mutation:
        item = access.work_item(uow, principal, cmd.work_item_id, Role.EDITOR).entity
        entry = uow.time_entries.create_manual(
            item=item,
            user_id=principal.user_id,
            started_at=started_at,
            ended_at=ended_at,
            note=cmd.note,
        )
        change = Change(EntityType.TIME_ENTRY, Action.CREATED, entry, entry.project_id)
        return Mutation(_reply(entry), change)

    return await mutate(ctx, unit)


async def update_time_entry(ctx: Context, cmd: commands_pb2.UpdateTimeEntry) -> bytes:
    principal = ctx.principal
    patch = pb_patches.patch_of(cmd, TimeEntryPatch)

    def unit(uow: UnitOfWork) -> Mutation:
        access.time_entry(uow, principal, cmd.entry_id, _owner_or_admin(principal))
        updated = uow.time_entries.update(cmd.entry_id, cmd.expected_version or None, patch)
        entry = updated.entity
        change = Change(
            EntityType.TIME_ENTRY, Action.UPDATED, entry, entry.project_id, updated.changes
        )
        return Mutation(_reply(entry), change)

    return await mutate(ctx, unit)


async def delete_time_entry(ctx: Context, cmd: commands_pb2.DeleteTimeEntry) -> bytes:
    principal = ctx.principal

    def unit(uow: UnitOfWork) -> Mutation:
        access.time_entry(uow, principal, cmd.entry_id, _owner_or_admin(principal))
        deleted = uow.time_entries.soft_delete(cmd.entry_id, cmd.expected_version or None)
        change = Change(EntityType.TIME_ENTRY, Action.DELETED, deleted, deleted.project_id)
        return Mutation(_reply(deleted), change)

    return await mutate(ctx, unit)


async def list_time_entries(ctx: Context, cmd: commands_pb2.ListTimeEntries) -> envelope_pb2.Reply:
    principal = ctx.principal
    # An absent or empty filter is no filter.
    work_item_id = cmd.work_item_id or None
    project_id = cmd.project_id or None
    # No user: everyone's entries in the project or item; with neither, one's own.
    user_id = cmd.user_id or None
    if user_id is None and work_item_id is None and project_id is None:
        user_id = principal.user_id
    if cmd.limit < 0:
        raise ValidationError("limit", "limit must not be negative")
    limit = min(cmd.limit or DEFAULT_LIMIT, MAX_LIMIT)
    before: tuple[datetime, str] | None = None
    before_started_at = get_time(cmd, "before_started_at")
    if before_started_at is not None:
        before = (before_started_at, cmd.before_id)
    elif cmd.before_id:
        raise ValidationError("before_started_at", "before_id needs before_started_at")

    def read(uow: UnitOfWork) -> envelope_pb2.Reply:
        if user_id != principal.user_id and not principal.is_tenant_admin:
            _require_list_scope(uow, principal, work_item_id, project_id)
        entries = uow.time_entries.list(
            user_id=user_id,
            work_item_id=work_item_id,
            project_id=project_id,
            limit=limit,
            before=before,
        )
        return envelope_pb2.Reply(
            time_entries=commands_pb2.TimeEntryList(
                entries=[pb_entities.time_entry_to_pb(e) for e in entries],
                seq=uow.events.latest_seq(),
            )
        )

    return await ctx.db.read(read)


async def get_running_timer(ctx: Context, cmd: commands_pb2.GetRunningTimer) -> envelope_pb2.Reply:
    user_id = ctx.user_id

    def read(uow: UnitOfWork) -> envelope_pb2.Reply:
        running = uow.time_entries.running(user_id)
        result = commands_pb2.RunningTimerReply()
        if running is not None:
            result.entry.CopyFrom(pb_entities.time_entry_to_pb(running))
        return envelope_pb2.Reply(running_timer=result)

    return await ctx.db.read(read)


def _required_time(cmd: commands_pb2.CreateTimeEntry, field: str) -> datetime:
    value = get_time(cmd, field)
    if value is None:
        raise ValidationError(field, f"{field} is required")
    return value


def _owner_or_admin(principal: Principal) -> Callable[[TimeEntry], Role]:
    """The entry's own user while an editor of its project, or an admin of the project.

    A user removed from the project (or demoted to viewer) no longer changes entries
    there: NOT_FOUND when they cannot read the project, FORBIDDEN otherwise.
    """
    return lambda entry: Role.EDITOR if entry.user_id == principal.user_id else Role.ADMIN


def _require_list_scope(
    uow: UnitOfWork, principal: Principal, work_item_id: str | None, project_id: str | None
) -> None:
    """Other users' entries: only within a project or item the caller can read."""
    if work_item_id is None and project_id is None:
        raise ValidationError(
            "project_id", "name a project_id or work_item_id to list other users' entries"
        )
    if work_item_id is not None:
        access.readable_item(uow, principal, work_item_id)
    if project_id is not None and not access.can_read(uow, principal, project_id):
        raise NotFoundError("project", project_id)
