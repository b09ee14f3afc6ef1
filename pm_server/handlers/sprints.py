"""Sprints: create, update, move along the life cycle, delete, list.

Roles: reading (list) needs viewer; every mutation needs editor, delete
included, because planning sprints is the editors' work and deleting one
loses no work (its items go back to the backlog and the sprint row is only
soft-deleted). The life-cycle rules (``sprint.transition``,
``sprint.one_active``, ``sprint.immutable``) and the date rules live in
:mod:`pm_core.rules.sprints` and reach the client as VALIDATION_ERROR with
the rule. Ending a sprint (completed or cancelled) moves its unfinished
items (not done) to the backlog or to the planned sprint the command names,
each with an ``updated`` event of its own. An active sprint cannot be deleted
(DELETE_BLOCKED). A user who cannot read the sprint's project is told the
sprint does not exist. ``get_sprint_report`` (viewer) rebuilds each day's
scope, done and remaining work from the activity log
(:mod:`pm_core.rules.sprint_report`).
"""

from __future__ import annotations

from pm_auth.tokens import Principal
from pm_core.enums import Action, EntityType, Role
from pm_core.models import Sprint, SprintPatch
from pm_core.rules import sprint_report as report
from pm_core.rules import sprints as sprint_rules
from pm_db.unit_of_work import UnitOfWork
from pm_proto import entities as pb_entities
from pm_proto import enums as pb_enums
from pm_proto import patches as pb_patches
from pm_proto.timestamps import get_time
from pm_proto.v1 import commands_pb2, envelope_pb2
from pm_server import access
from pm_server.access import Loaded
from pm_server.context import Context
from pm_server.events import Change, released_from_sprint
from pm_server.mutations import Mutation, mutate


def _reply(sprint: Sprint) -> envelope_pb2.Reply:
    return envelope_pb2.Reply(
        sprint=commands_pb2.SprintReply(sprint=pb_entities.sprint_to_pb(sprint))
    )


async def create_sprint(ctx: Context, cmd: commands_pb2.CreateSprint) -> bytes:
    principal = ctx.principal
    starts_at = get_time(cmd, "starts_at")
    ends_at = get_time(cmd, "ends_at")

    def unit(uow: UnitOfWork) -> Mutation:
        access.project(uow, principal, cmd.project_id, Role.EDITOR)
        sprint = uow.sprints.create(
            project_id=cmd.project_id,
            name=cmd.name,
            goal=cmd.goal,
            starts_at=starts_at,
            ends_at=ends_at,
        )
        change = Change(EntityType.SPRINT, Action.CREATED, sprint, sprint.project_id)
        return Mutation(_reply(sprint), change)

    return await mutate(ctx, unit)


async def update_sprint(ctx: Context, cmd: commands_pb2.UpdateSprint) -> bytes:
    patch = pb_patches.patch_of(cmd, SprintPatch)
    principal = ctx.principal

    def unit(uow: UnitOfWork) -> Mutation:
        _authorise(uow, principal, cmd.sprint_id)
        updated = uow.sprints.update(cmd.sprint_id, cmd.expected_version or None, patch)
        sprint = updated.entity
        change = Change(
            EntityType.SPRINT, Action.UPDATED, sprint, sprint.project_id, updated.changes
        )
        return Mutation(_reply(sprint), change)

    return await mutate(ctx, unit)


async def transition_sprint(ctx: Context, cmd: commands_pb2.TransitionSprint) -> bytes:
    principal = ctx.principal
    target = pb_enums.from_pb_sprint_status(cmd.status, "status")
    destination_id = cmd.move_open_items_to or None

    def unit(uow: UnitOfWork) -> Mutation:
        loaded = _authorise(uow, principal, cmd.sprint_id)
        destination = (
            None
            if destination_id is None
            else access.readable_sprint(uow, principal, destination_id, loaded.project)
        )
        sprint_rules.check_destination(loaded.entity, target, destination)
        updated = uow.sprints.transition(cmd.sprint_id, cmd.expected_version or None, target)
        sprint = updated.entity
        moved = (
            uow.cascades.move_open_sprint_items(sprint.id, destination_id)
            if target in sprint_rules.TERMINAL
            else []
        )
        change = Change(
            EntityType.SPRINT,
            Action.UPDATED,
            sprint,
            sprint.project_id,
            updated.changes,
            cascaded_ids=[item.id for item in moved],
        )
        side = released_from_sprint(moved, sprint.id, loaded.project.key, destination_id)
        return Mutation(_reply(sprint), change, side_changes=side)

    return await mutate(ctx, unit)


async def delete_sprint(ctx: Context, cmd: commands_pb2.DeleteSprint) -> bytes:
    principal = ctx.principal

    def unit(uow: UnitOfWork) -> Mutation:
        project = _authorise(uow, principal, cmd.sprint_id).project
        deleted = uow.sprints.soft_delete(cmd.sprint_id, cmd.expected_version or None)
        moved = uow.cascades.release_sprint_items(deleted.id)
        change = Change(
            EntityType.SPRINT,
            Action.DELETED,
            deleted,
            deleted.project_id,
            cascaded_ids=[item.id for item in moved],
        )
        side = released_from_sprint(moved, deleted.id, project.key)
        return Mutation(_reply(deleted), change, side_changes=side)

    return await mutate(ctx, unit)


async def list_sprints(ctx: Context, cmd: commands_pb2.ListSprints) -> envelope_pb2.Reply:
    principal = ctx.principal
    statuses = [pb_enums.from_pb_sprint_status(s, "statuses") for s in cmd.statuses]

    def read(uow: UnitOfWork) -> envelope_pb2.Reply:
        access.project(uow, principal, cmd.project_id, Role.VIEWER)
        sprints = uow.sprints.list(cmd.project_id, statuses or None)
        return envelope_pb2.Reply(
            sprints=commands_pb2.SprintList(
                sprints=[pb_entities.sprint_to_pb(s) for s in sprints],
                seq=uow.events.latest_seq(),
            )
        )

    return await ctx.db.read(read)


async def get_sprint_report(ctx: Context, cmd: commands_pb2.GetSprintReport) -> envelope_pb2.Reply:
    principal = ctx.principal

    def read(uow: UnitOfWork) -> envelope_pb2.Reply:
        sprint = access.sprint(uow, principal, cmd.sprint_id, Role.VIEWER).entity
        items = uow.work_items.ever_in_sprint(sprint.project_id, sprint.id)
        history = uow.activity.field_history(
            EntityType.WORK_ITEM, [item.id for item in items], report.FIELDS
        )
        days = report.build_report(sprint, report.report_days(sprint, uow.now), items, history)
        return envelope_pb2.Reply(
            sprint_report=commands_pb2.SprintReport(
                sprint=pb_entities.sprint_to_pb(sprint),
                days=[_report_day(day) for day in days],
                seq=uow.events.latest_seq(),
            )
        )

    return await ctx.db.read(read)


def _report_day(day: report.ReportDay) -> commands_pb2.SprintReportDay:
    return commands_pb2.SprintReportDay(
        date=day.day.isoformat(),
        scope_items=day.scope_items,
        done_items=day.done_items,
        remaining_items=day.remaining_items,
        scope_points=day.scope_points,
        done_points=day.done_points,
        remaining_points=day.remaining_points,
    )


def _authorise(uow: UnitOfWork, principal: Principal, sprint_id: str) -> Loaded[Sprint]:
    """Editor rights on the sprint's project; an unreadable sprint does not exist."""
    return access.sprint(uow, principal, sprint_id, Role.EDITOR)
