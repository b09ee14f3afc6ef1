"""``pm lane ...``: swim lanes (board columns) of a project."""

from __future__ import annotations

import argparse

from pm_client.cli.options import (
    Subcommands,
    add_project,
    add_quiet,
    add_version,
    choices,
    enum_arg,
    group,
)
from pm_client.cli.output import Output, enum_name, table, to_json
from pm_client.cli.session import Session
from pm_proto.v1 import entities_pb2

STATUS = entities_pb2.WorkItemStatus.DESCRIPTOR


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    add = group(
        commands,
        common,
        "lane",
        "swim lanes (board columns): create, list, update, delete",
        description="swim lanes (board columns)",
    )
    p = add("create", create, "add a column for one status")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--status", type=enum_arg(STATUS), required=True, help=choices(STATUS))
    add_project(p)
    p.add_argument("--position", type=int, help="column order (default: last)")
    p.add_argument("--wip", type=int, metavar="N", help="work-in-progress limit")
    add_quiet(p, "lane's id")

    p = add("list", list_lanes, "the columns of a project's board")
    add_project(p)

    p = add("update", update, "change a column")
    p.add_argument("lane", metavar="LANE_ID")
    p.add_argument("--name")
    p.add_argument("--status", type=enum_arg(STATUS), help=choices(STATUS))
    p.add_argument("--position", type=int)
    wip = p.add_mutually_exclusive_group()
    wip.add_argument("--wip", type=int, metavar="N", help="work-in-progress limit")
    wip.add_argument("--clear-wip", action="store_true", help="remove the limit")
    add_version(p)

    p = add("delete", delete, "delete a column")
    p.add_argument("lane", metavar="LANE_ID")
    add_version(p)


def lane_line(lane: entities_pb2.SwimLane) -> str:
    wip = f", wip {lane.wip_limit}" if lane.HasField("wip_limit") else ""
    return (
        f"{lane.name!r} [{enum_name(STATUS, lane.status)}] at {lane.position}{wip} "
        f"(version {lane.version}, id {lane.id})"
    )


async def create(s: Session, args: argparse.Namespace) -> Output:
    project = await s.project(args.project)
    reply = await s.pm.create_swim_lane(
        project_id=project.id,
        name=args.name,
        status=args.status,
        position=args.position,
        wip_limit=args.wip,
    )
    lane = reply.lane
    return Output(to_json(lane), lane.id if args.quiet else f"created lane {lane_line(lane)}")


async def list_lanes(s: Session, args: argparse.Namespace) -> Output:
    project = await s.project(args.project)
    reply = await s.pm.list_swim_lanes(project_id=project.id)
    rows = [
        (
            lane.position,
            lane.name,
            enum_name(STATUS, lane.status),
            lane.wip_limit if lane.HasField("wip_limit") else "",
            lane.id,
        )
        for lane in reply.lanes
    ]
    text = table(("pos", "name", "status", "wip", "id"), rows, empty="no lanes")
    return Output(to_json(reply), text)


async def update(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.update_swim_lane(
        lane_id=args.lane,
        expected_version=args.expected_version,
        name=args.name,
        status=args.status,
        position=args.position,
        wip_limit=args.wip,
        clear_wip_limit=args.clear_wip,
    )
    return Output(to_json(reply.lane), f"updated lane {lane_line(reply.lane)}")


async def delete(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.delete_swim_lane(lane_id=args.lane, expected_version=args.expected_version)
    return Output(to_json(reply.lane), f"deleted lane {reply.lane.name!r}")
