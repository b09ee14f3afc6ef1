"""Projects: create (the creator becomes admin; default lanes), update, archive, delete, read.

An archived project is read-only (:mod:`pm_core.rules.projects`): the
authorising loader refuses every write into it; here an admin may only set
it back to active (``update_project``), archive it again or delete it.
"""

from __future__ import annotations

import functools
from typing import Any

from pm_core.enums import Action, EntityType, ProjectStatus, Role
from pm_core.errors import NotFoundError, ValidationError
from pm_core.models import ProjectPatch
from pm_core.rules import projects as project_rules
from pm_db.unit_of_work import UnitOfWork
from pm_proto import entities as pb_entities
from pm_proto import patches as pb_patches
from pm_proto.v1 import commands_pb2, envelope_pb2
from pm_server import access
from pm_server.context import Context
from pm_server.events import Change, deleted_along
from pm_server.mutations import Mutation, mutate


def _reply(project: Any) -> envelope_pb2.Reply:
    return envelope_pb2.Reply(
        project=commands_pb2.ProjectReply(project=pb_entities.project_to_pb(project))
    )


async def create_project(ctx: Context, cmd: commands_pb2.CreateProject) -> bytes:
    user_id = ctx.user_id

    def unit(uow: UnitOfWork) -> Mutation:
        project = uow.projects.create(
            key=cmd.key, name=cmd.name, description=cmd.description, created_by=user_id
        )
        member = uow.members.add(project_id=project.id, user_id=user_id, role=Role.ADMIN)
        lanes = uow.swim_lanes.create_defaults(project.id)
        change = Change(
            EntityType.PROJECT,
            Action.CREATED,
            project,
            project.id,
            cascaded_ids=[member.id, *(lane.id for lane in lanes)],
        )
        return Mutation(_reply(project), change)

    return await mutate(ctx, unit)


async def update_project(ctx: Context, cmd: commands_pb2.UpdateProject) -> bytes:
    return await _update(
        ctx, cmd.project_id, cmd.expected_version, pb_patches.patch_of(cmd, ProjectPatch)
    )


async def archive_project(ctx: Context, cmd: commands_pb2.ArchiveProject) -> bytes:
    archived = ProjectPatch(status=ProjectStatus.ARCHIVED)
    return await _update(ctx, cmd.project_id, cmd.expected_version, archived)


async def _update(
    ctx: Context, project_id: str, expected_version: int, patch: ProjectPatch
) -> bytes:
    principal = ctx.principal

    def unit(uow: UnitOfWork) -> Mutation:
        current = access.project(uow, principal, project_id, Role.ADMIN, record=True)
        project_rules.check_record_change(current, patch)
        updated = uow.projects.update(project_id, expected_version or None, patch)
        change = Change(
            EntityType.PROJECT, Action.UPDATED, updated.entity, project_id, updated.changes
        )
        return Mutation(_reply(updated.entity), change)

    return await mutate(ctx, unit)


async def delete_project(ctx: Context, cmd: commands_pb2.DeleteProject) -> bytes:
    principal = ctx.principal

    def unit(uow: UnitOfWork) -> Mutation:
        access.project(uow, principal, cmd.project_id, Role.ADMIN, record=True)
        deleted = uow.projects.soft_delete(cmd.project_id, cmd.expected_version or None)
        cascaded = uow.cascades.delete_project_rows(deleted.id)
        stop = functools.partial(ctx.hub.drop, ctx.tenant_id, deleted.id)
        return Mutation(
            _reply(deleted),
            Change(EntityType.PROJECT, Action.DELETED, deleted, deleted.id),
            after_commit=stop,
            side_changes=deleted_along(cascaded, deleted.key),
        )

    return await mutate(ctx, unit)


async def get_project(ctx: Context, cmd: commands_pb2.GetProject) -> envelope_pb2.Reply:
    principal = ctx.principal
    by = cmd.WhichOneof("by")
    if by is None:
        raise ValidationError("project_id", "name a project by project_id or key")

    asked = cmd.key if by == "key" else cmd.project_id

    def read(uow: UnitOfWork) -> envelope_pb2.Reply:
        project = uow.projects.get_by_key(asked) if by == "key" else uow.projects.get(asked)
        try:
            access.project(uow, principal, project.id, Role.VIEWER)
        except NotFoundError as exc:  # name what was asked for, not the hidden id
            raise NotFoundError("project", asked) from exc
        return _reply(project)

    return await ctx.db.read(read)


async def list_projects(ctx: Context, cmd: commands_pb2.ListProjects) -> envelope_pb2.Reply:
    principal = ctx.principal

    def read(uow: UnitOfWork) -> envelope_pb2.Reply:
        if principal.is_tenant_admin:
            projects = uow.projects.list(include_archived=cmd.include_archived)
        else:
            projects = [
                p
                for p in uow.projects.list_for_user(principal.user_id)
                if cmd.include_archived or p.status == "active"
            ]
        return envelope_pb2.Reply(
            projects=commands_pb2.ProjectList(
                projects=[pb_entities.project_to_pb(p) for p in projects],
                seq=uow.events.latest_seq(),
            )
        )

    return await ctx.db.read(read)
