"""Labels: a project's tags, and attaching them to items.

Roles per command:

- ``create_label``, ``update_label``, ``delete_label``: editor of the label's
  project (labels are shared board configuration, like lanes).
- ``attach_label``, ``detach_label``: editor of the item's project.
- ``list_labels``: viewer.

A caller who is not a member of the project gets NOT_FOUND naming what they
sent (the label, the item, or the project). Names are unique among the
project's live labels, ignoring case (CONFLICT). A label attaches only to
items of its own project (VALIDATION_ERROR ``label.project``); attaching it
twice is a CONFLICT, detaching one the item does not carry NOT_FOUND.
Deleting a label detaches it everywhere: each detached attachment gets its
own event and its id is in the label's ``cascaded_ids``.
"""

from __future__ import annotations

from pm_core.enums import Action, EntityType, Role
from pm_core.errors import NotFoundError
from pm_core.models import ItemLabel, Label, LabelPatch
from pm_db.unit_of_work import UnitOfWork
from pm_proto import entities as pb_entities
from pm_proto import patches as pb_patches
from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2
from pm_server import access
from pm_server.context import Context
from pm_server.events import Change, deleted_along
from pm_server.mutations import Mutation, mutate


def _reply(label: Label) -> envelope_pb2.Reply:
    return envelope_pb2.Reply(
        label=commands_pb2.LabelReply(label=pb_entities.to_pb(label, entities_pb2.Label))
    )


def _attachment_reply(attached: ItemLabel) -> envelope_pb2.Reply:
    return envelope_pb2.Reply(
        item_label=commands_pb2.ItemLabelReply(
            item_label=pb_entities.to_pb(attached, entities_pb2.ItemLabel)
        )
    )


async def create_label(ctx: Context, cmd: commands_pb2.CreateLabel) -> bytes:
    principal = ctx.principal
    color = cmd.color if cmd.HasField("color") else None

    def unit(uow: UnitOfWork) -> Mutation:
        access.project(uow, principal, cmd.project_id, Role.EDITOR)
        label = uow.labels.create(project_id=cmd.project_id, name=cmd.name, color=color)
        return Mutation(
            _reply(label), Change(EntityType.LABEL, Action.CREATED, label, label.project_id)
        )

    return await mutate(ctx, unit)


async def update_label(ctx: Context, cmd: commands_pb2.UpdateLabel) -> bytes:
    patch = pb_patches.patch_of(cmd, LabelPatch)
    principal = ctx.principal

    def unit(uow: UnitOfWork) -> Mutation:
        label = access.label(uow, principal, cmd.label_id, Role.EDITOR).entity
        updated = uow.labels.update(label.id, cmd.expected_version or None, patch)
        change = Change(
            EntityType.LABEL, Action.UPDATED, updated.entity, label.project_id, updated.changes
        )
        return Mutation(_reply(updated.entity), change)

    return await mutate(ctx, unit)


async def delete_label(ctx: Context, cmd: commands_pb2.DeleteLabel) -> bytes:
    principal = ctx.principal

    def unit(uow: UnitOfWork) -> Mutation:
        label = access.label(uow, principal, cmd.label_id, Role.EDITOR).entity
        deleted = uow.labels.soft_delete(label.id, cmd.expected_version or None)
        cascaded = uow.cascades.delete_label_rows(label.id)
        change = Change(
            EntityType.LABEL,
            Action.DELETED,
            deleted,
            deleted.project_id,
            cascaded_ids=[entity.id for _, entity in cascaded],
        )
        return Mutation(_reply(deleted), change, side_changes=deleted_along(cascaded))

    return await mutate(ctx, unit)


async def list_labels(ctx: Context, cmd: commands_pb2.ListLabels) -> envelope_pb2.Reply:
    principal = ctx.principal
    item_id = cmd.work_item_id if cmd.HasField("work_item_id") else None

    def read(uow: UnitOfWork) -> envelope_pb2.Reply:
        if item_id is None:
            project = access.project(uow, principal, cmd.project_id, Role.VIEWER)
            attached = uow.item_labels.list(project.id)
        else:
            project = access.work_item(uow, principal, item_id, Role.VIEWER).project
            if cmd.project_id and cmd.project_id != project.id:
                raise NotFoundError(EntityType.WORK_ITEM, item_id)
            attached = uow.item_labels.of_item(item_id)
        return envelope_pb2.Reply(
            labels=commands_pb2.LabelList(
                labels=[
                    pb_entities.to_pb(label, entities_pb2.Label)
                    for label in uow.labels.list(project.id)
                ],
                item_labels=[pb_entities.to_pb(a, entities_pb2.ItemLabel) for a in attached],
                seq=uow.events.latest_seq(),
            )
        )

    return await ctx.db.read(read)


async def attach_label(ctx: Context, cmd: commands_pb2.AttachLabel) -> bytes:
    principal = ctx.principal

    def unit(uow: UnitOfWork) -> Mutation:
        loaded = access.work_item(uow, principal, cmd.work_item_id, Role.EDITOR)
        label = access.readable_label(uow, principal, cmd.label_id, loaded.project)
        attached = uow.item_labels.attach(
            item=loaded.entity, label=label, created_by=principal.user_id
        )
        change = Change(EntityType.ITEM_LABEL, Action.CREATED, attached, attached.project_id)
        return Mutation(_attachment_reply(attached), change)

    return await mutate(ctx, unit)


async def detach_label(ctx: Context, cmd: commands_pb2.DetachLabel) -> bytes:
    principal = ctx.principal

    def unit(uow: UnitOfWork) -> Mutation:
        loaded = access.work_item(uow, principal, cmd.work_item_id, Role.EDITOR)
        detached = uow.item_labels.detach(loaded.entity.id, cmd.label_id)
        change = Change(EntityType.ITEM_LABEL, Action.DELETED, detached, detached.project_id)
        return Mutation(_attachment_reply(detached), change)

    return await mutate(ctx, unit)
