"""``pm sprint ...``: sprints of a project, named by name, id or ``active``."""

from __future__ import annotations

import argparse
from typing import Final, Literal

from pm_client.cli.exits import UsageError
from pm_client.cli.options import (
    Subcommands,
    add_filter,
    add_project,
    add_quiet,
    add_version,
    group,
    looks_like_id,
    parse_time,
)
from pm_client.cli.output import Output, enum_name, local_time, table, to_json
from pm_client.cli.session import Session, default_project
from pm_core.enums import EntityType
from pm_proto.v1 import entities_pb2

#: Its group takes the entity over from the generated one (pm_client.cli.crud): the
#: verbs are written here, to keep the lookups and the output people know.
ENTITY: Final = EntityType.SPRINT

STATUS = entities_pb2.SprintStatus.DESCRIPTOR
TRANSITIONS = {
    "start": entities_pb2.SPRINT_STATUS_ACTIVE,
    "complete": entities_pb2.SPRINT_STATUS_COMPLETED,
    "cancel": entities_pb2.SPRINT_STATUS_CANCELLED,
}


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    add = group(
        commands,
        common,
        "sprint",
        "sprints: create, list, update, start, complete, cancel, delete",
        description="sprints, named by name, id or `active`",
    )
    p = add("create", create, "plan a sprint")
    p.add_argument("name", metavar="NAME")
    add_project(p)
    p.add_argument("--goal", default="")
    p.add_argument("--starts", type=parse_time, metavar="TIME", help="e.g. 2026-03-02")
    p.add_argument("--ends", type=parse_time, metavar="TIME", help="e.g. 2026-03-16")
    add_quiet(p, "sprint's id")

    p = add("list", list_sprints, "sprints of a project")
    add_project(p)
    add_filter(p, "--status", "-s", dest="statuses", descriptor=STATUS)

    p = add("update", update, "change a planned or active sprint")
    _sprint_arg(p)
    p.add_argument("--name")
    p.add_argument("--goal")
    starts = p.add_mutually_exclusive_group()
    starts.add_argument("--starts", type=parse_time, metavar="TIME")
    starts.add_argument("--clear-starts", action="store_true")
    ends = p.add_mutually_exclusive_group()
    ends.add_argument("--ends", type=parse_time, metavar="TIME")
    ends.add_argument("--clear-ends", action="store_true")
    add_version(p)

    for name, text in (
        ("start", "start a planned sprint (one active sprint per project)"),
        ("complete", "complete the active sprint"),
        ("cancel", "cancel a planned or active sprint"),
    ):
        p = add(name, transition, text)
        _sprint_arg(p)
        add_version(p)
        p.set_defaults(status=TRANSITIONS[name], move_to=None)
        if name != "start":
            p.add_argument(
                "--move-to",
                metavar="SPRINT",
                help="a planned sprint (name or id) for its unfinished items (default: backlog)",
            )

    p = add("report", report, "per day: scope, done and remaining items and points (burndown)")
    _sprint_arg(p)

    p = add("delete", delete, "delete a sprint that is not active (its items go to the backlog)")
    _sprint_arg(p)
    add_version(p)


def _sprint_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sprint", metavar="SPRINT", help="name (with --project), id, or 'active'")
    add_project(parser)


async def _sprint_id(s: Session, args: argparse.Namespace) -> str:
    """The sprint's id: looked up by name in the project, or taken as given."""
    if args.project or default_project():
        project = await s.project(args.project)
        return (await s.sprint(args.sprint, project.id)).id
    if looks_like_id(args.sprint):
        return str(args.sprint)
    raise UsageError(f"to find sprint {args.sprint!r} by name, name its project: --project KEY")


def sprint_line(sprint: entities_pb2.Sprint) -> str:
    when = " to ".join(t for t in (_time(sprint, "starts_at"), _time(sprint, "ends_at")) if t)
    status = enum_name(STATUS, sprint.status)
    dates = f" {when}" if when else ""
    return f"{sprint.name!r} [{status}]{dates} (version {sprint.version}, id {sprint.id})"


def _time(sprint: entities_pb2.Sprint, name: Literal["starts_at", "ends_at"]) -> str:
    return local_time(getattr(sprint, name)) if sprint.HasField(name) else ""


async def create(s: Session, args: argparse.Namespace) -> Output:
    project = await s.project(args.project)
    reply = await s.pm.create_sprint(
        project_id=project.id,
        name=args.name,
        goal=args.goal,
        starts_at=args.starts,
        ends_at=args.ends,
    )
    sprint = reply.sprint
    return Output(
        to_json(sprint), sprint.id if args.quiet else f"created sprint {sprint_line(sprint)}"
    )


async def list_sprints(s: Session, args: argparse.Namespace) -> Output:
    project = await s.project(args.project)
    reply = await s.pm.list_sprints(project_id=project.id, statuses=args.statuses)
    rows = [
        (
            sp.name,
            enum_name(STATUS, sp.status),
            _time(sp, "starts_at"),
            _time(sp, "ends_at"),
            sp.goal,
            sp.id,
        )
        for sp in reply.sprints
    ]
    text = table(("name", "status", "starts", "ends", "goal", "id"), rows, empty="no sprints")
    return Output(to_json(reply), text)


async def update(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.update_sprint(
        sprint_id=await _sprint_id(s, args),
        expected_version=args.expected_version,
        name=args.name,
        goal=args.goal,
        starts_at=args.starts,
        ends_at=args.ends,
        clear_starts_at=args.clear_starts,
        clear_ends_at=args.clear_ends,
    )
    return Output(to_json(reply.sprint), f"updated sprint {sprint_line(reply.sprint)}")


async def transition(s: Session, args: argparse.Namespace) -> Output:
    sprint_id = await _sprint_id(s, args)
    move_to = None
    if args.move_to is not None:
        move_to = await _sprint_id(s, argparse.Namespace(**{**vars(args), "sprint": args.move_to}))
    reply = await s.pm.transition_sprint(
        sprint_id=sprint_id,
        status=args.status,
        expected_version=args.expected_version,
        move_open_items_to=move_to,
    )
    verb = {v: k for k, v in TRANSITIONS.items()}[args.status]
    past = {"start": "started", "complete": "completed", "cancel": "cancelled"}[verb]
    return Output(to_json(reply.sprint), f"{past} sprint {sprint_line(reply.sprint)}")


async def report(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.get_sprint_report(sprint_id=await _sprint_id(s, args))
    rows = [
        (
            d.date,
            d.scope_items,
            d.done_items,
            d.remaining_items,
            d.scope_points,
            d.done_points,
            d.remaining_points,
        )
        for d in reply.days
    ]
    heads = ("day", "items", "done", "left", "points", "done pts", "left pts")
    text = f"sprint {sprint_line(reply.sprint)}\n" + table(heads, rows, empty="no days")
    return Output(to_json(reply), text)


async def delete(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.delete_sprint(
        sprint_id=await _sprint_id(s, args), expected_version=args.expected_version
    )
    return Output(to_json(reply.sprint), f"deleted sprint {reply.sprint.name!r}")
