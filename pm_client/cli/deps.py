"""``pm dep ...``: ``blocks`` and ``relates_to`` links between work items.

``all`` and ``blocked`` are the project-wide reads: one command per page of up
to 1,000, every page read, however many items the project has.
"""

from __future__ import annotations

import argparse
from typing import Final

from pm_client.cli.exits import NotFound, UsageError
from pm_client.cli.options import (
    Subcommands,
    add_project,
    choices,
    enum_arg,
    group,
    looks_like_id,
)
from pm_client.cli.output import Output, enum_name, table, to_json
from pm_client.cli.session import Session
from pm_core.enums import EntityType
from pm_proto.v1 import commands_pb2, entities_pb2

#: Its group takes the entity over from the generated one (pm_client.cli.crud): the
#: verbs are written here, to keep the lookups and the output people know.
ENTITY: Final = EntityType.DEPENDENCY

TYPE = entities_pb2.DependencyType.DESCRIPTOR
STATUS = entities_pb2.WorkItemStatus.DESCRIPTOR


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    add = group(
        commands,
        common,
        "dep",
        "dependencies between items: add, remove, list, all, blocked",
        description="dependencies: FROM `blocks` (default) or `relates_to` TO; `remove` takes "
        "the dependency's id or FROM TO; `all` lists a project's, `blocked` its open items "
        "waiting on an open blocker",
    )
    p = add("add", add_dep, "FROM blocks (or relates to) TO")
    p.add_argument("from_item", metavar="FROM", help="display key (PM-12) or id")
    p.add_argument("to_item", metavar="TO", help="display key (PM-13) or id")
    _type_option(p, "blocks")

    p = add("remove", remove, "remove a dependency: by its id, or by FROM and TO")
    p.add_argument("refs", metavar="ID | FROM TO", nargs="+")
    _type_option(p, None)

    p = add("list", list_deps, "what an item blocks and what blocks it")
    p.add_argument("item", metavar="ITEM", help="display key (PM-12) or id")

    p = add("all", list_all, "every dependency of a project")
    add_project(p)
    _type_option(p, None)

    p = add("blocked", list_blocked, "open items of a project waiting on an open blocker")
    add_project(p)


def _type_option(parser: argparse.ArgumentParser, default: str | None) -> None:
    parser.add_argument(
        "--type",
        type=enum_arg(TYPE),
        default=entities_pb2.DEPENDENCY_TYPE_BLOCKS if default else None,
        help=f"{choices(TYPE)}" + (f" (default {default})" if default else " (default: any)"),
    )


async def dep_line(s: Session, dep: entities_pb2.Dependency) -> str:
    source = await s.item_key(dep.from_item_id)
    target = await s.item_key(dep.to_item_id)
    return f"{source} {enum_name(TYPE, dep.type)} {target} (id {dep.id})"


async def add_dep(s: Session, args: argparse.Namespace) -> Output:
    source = await s.item(args.from_item)
    target = await s.item(args.to_item)
    reply = await s.pm.create_dependency(
        from_item_id=source.id, to_item_id=target.id, type=args.type
    )
    return Output(to_json(reply.dependency), f"added {await dep_line(s, reply.dependency)}")


async def remove(s: Session, args: argparse.Namespace) -> Output:
    if len(args.refs) == 1 and looks_like_id(args.refs[0]) and args.type is None:
        dependency_id = args.refs[0]
    elif len(args.refs) == 2:
        dependency_id = await _find(s, args.refs[0], args.refs[1], args.type)
    else:
        raise UsageError("name the dependency: its id, or FROM TO (e.g. PM-1 PM-2)")
    reply = await s.pm.delete_dependency(dependency_id=dependency_id)
    return Output(to_json(reply.dependency), f"removed {await dep_line(s, reply.dependency)}")


async def _find(s: Session, from_ref: str, to_ref: str, dep_type: int | None) -> str:
    source = await s.item(from_ref)
    target = await s.item(to_ref)
    deps = await s.pm.list_dependencies(item_id=source.id)
    found = [
        d
        for d in deps.outgoing
        if d.to_item_id == target.id and (dep_type is None or d.type == dep_type)
    ]
    if not found:
        raise NotFound(f"dependency {source.display_key} -> {target.display_key} not found")
    if len(found) > 1:
        raise UsageError(
            f"{source.display_key} has several links to {target.display_key}: add --type"
        )
    return found[0].id


async def list_deps(s: Session, args: argparse.Namespace) -> Output:
    item = await s.item(args.item)
    reply = await s.pm.list_dependencies(item_id=item.id)
    rows = [
        (
            await s.item_key(d.from_item_id),
            enum_name(TYPE, d.type),
            await s.item_key(d.to_item_id),
            d.id,
        )
        for d in [*reply.outgoing, *reply.incoming]
    ]
    text = table(
        ("from", "type", "to", "id"), rows, empty=f"{item.display_key} has no dependencies"
    )
    return Output(to_json(reply), text)


#: The largest page of a project-wide read.
PAGE: Final = 1000


async def list_all(s: Session, args: argparse.Namespace) -> Output:
    project = await s.project(args.project)
    types = [args.type] if args.type is not None else []
    found: list[entities_pb2.Dependency] = []
    keys: dict[str, str] = {}
    after = ""
    while True:
        page = await s.pm.list_project_dependencies(
            project_id=project.id, types=types, limit=PAGE, after=after
        )
        found += page.dependencies
        keys.update(page.display_keys)
        if not page.next_after:
            break
        after = page.next_after
    rows = [
        (keys[d.from_item_id], enum_name(TYPE, d.type), keys[d.to_item_id], d.id) for d in found
    ]
    data = {
        "dependencies": [
            to_json(d) | {"from_key": keys[d.from_item_id], "to_key": keys[d.to_item_id]}
            for d in found
        ],
        "seq": page.seq,
    }
    text = table(("from", "type", "to", "id"), rows, empty=f"{project.key} has no dependencies")
    return Output(data, text)


async def list_blocked(s: Session, args: argparse.Namespace) -> Output:
    project = await s.project(args.project)
    found: list[commands_pb2.BlockedItem] = []
    after = ""
    while True:
        page = await s.pm.list_blocked_items(project_id=project.id, limit=PAGE, after=after)
        found += page.items
        if not page.next_after:
            break
        after = page.next_after
    rows = [
        (
            entry.item.display_key,
            enum_name(STATUS, entry.item.status),
            entry.item.title,
            ", ".join(b.display_key for b in entry.blockers),
        )
        for entry in found
    ]
    data = {"items": [to_json(entry) for entry in found], "seq": page.seq}
    text = table(("item", "status", "title", "blocked by"), rows, empty="nothing is blocked")
    return Output(data, text)
