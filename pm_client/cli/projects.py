"""``pm project ...`` and ``pm member ...``: projects and who works in them."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Final

from pm_client.cli.options import (
    Subcommands,
    add_project,
    add_quiet,
    add_version,
    choices,
    enum_arg,
    group,
)
from pm_client.cli.output import Output, enum_name, fields, local_time, table, to_json
from pm_client.cli.session import Session
from pm_core.enums import EntityType
from pm_proto.v1 import entities_pb2

#: Its group takes the entity over from the generated one (pm_client.cli.crud): the
#: verbs are written here, to keep the lookups and the output people know.
ENTITY: Final = EntityType.PROJECT

ROLE = entities_pb2.Role.DESCRIPTOR
STATUS = entities_pb2.ProjectStatus.DESCRIPTOR


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    add = group(
        commands,
        common,
        "project",
        "projects: create, list, show, update, archive, delete",
        description="projects (you become the admin of the ones you create)",
    )
    p = add("create", create, "create a project (you become its admin)")
    p.add_argument("key", metavar="KEY", help="2-10 characters: A-Z then A-Z or 0-9 (e.g. PM)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--description", "-d", default="")
    add_quiet(p, "project's key")

    p = add("list", list_projects, "your projects (all of them for a tenant admin)")
    p.add_argument("--archived", action="store_true", help="include archived projects")

    p = add("show", show, "a project with its members")
    p.add_argument("project", metavar="PROJECT", nargs="?", help="key or id (default: PM_PROJECT)")

    p = add("update", update, "change a project's name, description or status (admins)")
    p.add_argument("project", metavar="PROJECT", help="key or id")
    p.add_argument("--name")
    p.add_argument("--description", "-d")
    p.add_argument("--status", type=enum_arg(STATUS), help=choices(STATUS))
    add_version(p)

    for name, handler, text in (
        ("archive", archive, "archive a project: hidden from lists, still readable (admins)"),
        ("delete", delete, "delete a project and everything in it (admins)"),
    ):
        p = add(name, handler, text)
        p.add_argument("project", metavar="PROJECT", help="key or id")
        add_version(p)

    add = group(
        commands,
        common,
        "member",
        "project members: add, role, remove, list",
        description="members of a project and their roles (`viewer`, `editor`, `admin`)",
    )
    p = add(
        "add", add_member, "add a user to a project (admins; the user must have connected once)"
    )
    p.add_argument("user", metavar="USER", help="user id (a token's subject)")
    p.add_argument(
        "--role",
        type=enum_arg(ROLE),
        default=entities_pb2.ROLE_EDITOR,
        help=f"{choices(ROLE)} (default editor)",
    )
    add_project(p)

    p = add("role", change_role, "change a member's role (admins)")
    p.add_argument("user", metavar="USER")
    p.add_argument("role", metavar="ROLE", type=enum_arg(ROLE), help=choices(ROLE))
    add_project(p)
    add_version(p)

    p = add("remove", remove_member, "remove a member (admins; not the last admin)")
    p.add_argument("user", metavar="USER")
    add_project(p)
    add_version(p)

    p = add("list", list_members, "the members of a project and their roles")
    add_project(p)


def project_line(project: entities_pb2.Project) -> str:
    status = enum_name(STATUS, project.status)
    return f"{project.key} {project.name} ({status}, version {project.version})"


async def create(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.create_project(
        key=args.key.upper(), name=args.name, description=args.description
    )
    project = reply.project
    text = project.key if args.quiet else f"created project {project_line(project)}"
    return Output(to_json(project), text)


async def list_projects(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.list_projects(include_archived=args.archived)
    rows = [
        (p.key, p.name, enum_name(STATUS, p.status), local_time(p.created_at), p.id)
        for p in reply.projects
    ]
    text = table(("key", "name", "status", "created", "id"), rows, empty="no projects")
    return Output(to_json(reply), text)


async def show(s: Session, args: argparse.Namespace) -> Output:
    project = await s.project(args.project)
    members = (await s.pm.list_members(project_id=project.id)).members
    text = "\n".join(
        [
            fields(
                [
                    ("project", f"{project.key}: {project.name}"),
                    ("status", enum_name(STATUS, project.status)),
                    ("description", project.description),
                    ("created", f"{local_time(project.created_at)} by {project.created_by}"),
                    ("version", project.version),
                    ("id", project.id),
                ]
            ),
            "",
            _members_table(members),
        ]
    )
    data = {"project": to_json(project), "members": [to_json(m) for m in members]}
    return Output(data, text)


async def update(s: Session, args: argparse.Namespace) -> Output:
    project = await s.project(args.project)
    reply = await s.pm.update_project(
        project_id=project.id,
        expected_version=args.expected_version,
        name=args.name,
        description=args.description,
        status=args.status,
    )
    return Output(to_json(reply.project), f"updated project {project_line(reply.project)}")


async def archive(s: Session, args: argparse.Namespace) -> Output:
    project = await s.project(args.project)
    reply = await s.pm.archive_project(
        project_id=project.id, expected_version=args.expected_version
    )
    return Output(to_json(reply.project), f"archived project {project_line(reply.project)}")


async def delete(s: Session, args: argparse.Namespace) -> Output:
    project = await s.project(args.project)
    reply = await s.pm.delete_project(project_id=project.id, expected_version=args.expected_version)
    return Output(to_json(reply.project), f"deleted project {reply.project.key}")


# -- members ---------------------------------------------------------------------


def _members_table(members: Iterable[entities_pb2.ProjectMember]) -> str:
    rows = [(m.user_id, enum_name(ROLE, m.role), local_time(m.created_at)) for m in members]
    return table(("user", "role", "since"), rows, empty="no members")


def _member_line(verb: str, member: entities_pb2.ProjectMember, key: str) -> str:
    return f"{verb} {member.user_id} in {key} as {enum_name(ROLE, member.role)}"


async def add_member(s: Session, args: argparse.Namespace) -> Output:
    project = await s.project(args.project)
    reply = await s.pm.add_member(project_id=project.id, user_id=s.user(args.user), role=args.role)
    return Output(to_json(reply.member), _member_line("added", reply.member, project.key))


async def change_role(s: Session, args: argparse.Namespace) -> Output:
    project = await s.project(args.project)
    reply = await s.pm.change_member_role(
        project_id=project.id,
        user_id=s.user(args.user),
        role=args.role,
        expected_version=args.expected_version,
    )
    return Output(to_json(reply.member), _member_line("changed", reply.member, project.key))


async def remove_member(s: Session, args: argparse.Namespace) -> Output:
    project = await s.project(args.project)
    reply = await s.pm.remove_member(
        project_id=project.id, user_id=s.user(args.user), expected_version=args.expected_version
    )
    return Output(to_json(reply.member), f"removed {reply.member.user_id} from {project.key}")


async def list_members(s: Session, args: argparse.Namespace) -> Output:
    project = await s.project(args.project)
    reply = await s.pm.list_members(project_id=project.id)
    return Output(to_json(reply), _members_table(reply.members))
