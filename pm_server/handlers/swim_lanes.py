"""Swim lanes: the columns of a project's board. Editors write them, viewers read them.

Roles per command:

- ``create_swim_lane``, ``update_swim_lane``, ``delete_swim_lane``: editor of
  the lane's project (a lane is board configuration everyone on the project
  shares, like the items it shows). A viewer gets FORBIDDEN.
- ``list_swim_lanes``: viewer.

A caller who is not a member of the lane's project gets NOT_FOUND naming the
lane (or the project, for create and list), never the lane. Lane names are
unique among a project's live lanes (CONFLICT), and a project has one live
lane per status (``swim_lane.one_per_status``). The list carries each lane's
load: its item count and whether it is over its WIP limit. In an update
``clear_wip_limit`` removes the limit; sending it together with a
``wip_limit`` is a VALIDATION_ERROR on ``wip_limit``.
"""

from __future__ import annotations

from pm_core.enums import Action, EntityType, Role
from pm_core.models import SwimLane, SwimLanePatch
from pm_db.unit_of_work import UnitOfWork
from pm_proto import entities as pb_entities
from pm_proto import enums as pb_enums
from pm_proto import patches as pb_patches
from pm_proto.v1 import commands_pb2, envelope_pb2
from pm_server import access
from pm_server.context import Context
from pm_server.events import Change
from pm_server.mutations import Mutation, mutate


def _reply(lane: SwimLane) -> envelope_pb2.Reply:
    return envelope_pb2.Reply(
        swim_lane=commands_pb2.SwimLaneReply(lane=pb_entities.swim_lane_to_pb(lane))
    )


async def create_swim_lane(ctx: Context, cmd: commands_pb2.CreateSwimLane) -> bytes:
    principal = ctx.principal
    status = pb_enums.from_pb_work_item_status(cmd.status, "status")
    position = cmd.position if cmd.HasField("position") else None
    wip_limit = cmd.wip_limit if cmd.HasField("wip_limit") else None

    def unit(uow: UnitOfWork) -> Mutation:
        access.project(uow, principal, cmd.project_id, Role.EDITOR)
        lane = uow.swim_lanes.create(
            project_id=cmd.project_id,
            name=cmd.name,
            status=status,
            position=position,
            wip_limit=wip_limit,
        )
        change = Change(EntityType.SWIM_LANE, Action.CREATED, lane, lane.project_id)
        return Mutation(_reply(lane), change)

    return await mutate(ctx, unit)


async def update_swim_lane(ctx: Context, cmd: commands_pb2.UpdateSwimLane) -> bytes:
    patch = pb_patches.patch_of(cmd, SwimLanePatch)
    principal = ctx.principal

    def unit(uow: UnitOfWork) -> Mutation:
        lane = access.swim_lane(uow, principal, cmd.lane_id, Role.EDITOR).entity
        updated = uow.swim_lanes.update(lane.id, cmd.expected_version or None, patch)
        change = Change(
            EntityType.SWIM_LANE, Action.UPDATED, updated.entity, lane.project_id, updated.changes
        )
        return Mutation(_reply(updated.entity), change)

    return await mutate(ctx, unit)


async def delete_swim_lane(ctx: Context, cmd: commands_pb2.DeleteSwimLane) -> bytes:
    principal = ctx.principal

    def unit(uow: UnitOfWork) -> Mutation:
        lane = access.swim_lane(uow, principal, cmd.lane_id, Role.EDITOR).entity
        deleted = uow.swim_lanes.soft_delete(lane.id, cmd.expected_version or None)
        change = Change(EntityType.SWIM_LANE, Action.DELETED, deleted, deleted.project_id)
        return Mutation(_reply(deleted), change)

    return await mutate(ctx, unit)


async def list_swim_lanes(ctx: Context, cmd: commands_pb2.ListSwimLanes) -> envelope_pb2.Reply:
    principal = ctx.principal

    def read(uow: UnitOfWork) -> envelope_pb2.Reply:
        access.project(uow, principal, cmd.project_id, Role.VIEWER)
        lanes = uow.swim_lanes.list(cmd.project_id)
        return envelope_pb2.Reply(
            swim_lanes=commands_pb2.SwimLaneList(
                lanes=[pb_entities.swim_lane_to_pb(lane) for lane in lanes],
                seq=uow.events.latest_seq(),
                loads=[
                    pb_entities.lane_load_to_pb(load)
                    for load in uow.swim_lanes.loads(cmd.project_id, lanes)
                ],
            )
        )

    return await ctx.db.read(read)
