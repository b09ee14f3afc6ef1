"""``pm item ...``: epics, stories and tasks, named by display key (``PM-12``) or id."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Final

from pm_client.cli.exits import UsageError
from pm_client.cli.labels import label_id
from pm_client.cli.options import (
    Subcommands,
    add_filter,
    add_project,
    add_quiet,
    add_version,
    choices,
    enum_arg,
    group,
)
from pm_client.cli.output import Output, enum_name, fields, local_time, table, to_json
from pm_client.cli.paging import every_page, note_next_page
from pm_client.cli.session import Session
from pm_core.enums import EntityType
from pm_proto.v1 import commands_pb2, entities_pb2

#: Its group takes the entity over from the generated one (pm_client.cli.crud): the
#: verbs are written here, to keep the lookups and the output people know.
ENTITY: Final = EntityType.WORK_ITEM

TYPE = entities_pb2.WorkItemType.DESCRIPTOR
STATUS = entities_pb2.WorkItemStatus.DESCRIPTOR
PRIORITY = entities_pb2.Priority.DESCRIPTOR
DEPENDENCY = entities_pb2.DependencyType.DESCRIPTOR
#: Largest page the server returns for one list.
MAX_ITEMS = 1000


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    add = group(
        commands,
        common,
        "item",
        "work items: create, list, show, update, bulk, move, delete",
        description="epics, stories and tasks; ITEM is a display key (`PM-12`) or an id; "
        "`create` takes `--type`, `--parent ITEM`, `--points N`, `--assignee USER` and more; "
        "`move` changes the status, the sprint (`--sprint NAME`, `active` or `backlog`), the "
        "parent (`--parent ITEM` or `none`) and the board position (`--before ITEM`, "
        "`--after ITEM`, `--top`, `--bottom`)",
    )
    p = add("create", create, "create an epic, story or task")
    p.add_argument("title", metavar="TITLE")
    p.add_argument(
        "--type",
        "-t",
        type=enum_arg(TYPE),
        default=entities_pb2.WORK_ITEM_TYPE_TASK,
        help=f"{choices(TYPE)} (default task)",
    )
    add_project(p, "the project (default: the parent's, or PM_PROJECT)")
    p.add_argument("--description", "-d", default="")
    p.add_argument("--status", type=enum_arg(STATUS), help=f"{choices(STATUS)} (default backlog)")
    p.add_argument(
        "--priority", type=enum_arg(PRIORITY), help=f"{choices(PRIORITY)} (default medium)"
    )
    p.add_argument("--points", type=int, help="story points")
    p.add_argument("--parent", metavar="ITEM", help="an epic (for a story) or a story (for a task)")
    p.add_argument("--sprint", metavar="SPRINT", help="sprint name, id or 'active'")
    p.add_argument("--assignee", metavar="USER", help="user id, or 'me'")
    p.add_argument("--position", type=float, help="board order (default: last)")
    _date_arguments(p, clearable=False)
    add_quiet(p, "item's key")
    _list_parser(add("list", list_items, "items of a project, in board order"))
    _search_parser(add("search", search, "find items by words in titles, descriptions, comments"))
    _change_parsers(add)


def _list_parser(p: argparse.ArgumentParser) -> None:
    add_project(p)
    add_filter(p, "--type", "-t", dest="types", descriptor=TYPE)
    add_filter(p, "--status", "-s", dest="statuses", descriptor=STATUS)
    p.add_argument("--open", action="store_true", help="leave out done items")
    p.add_argument("--sprint", metavar="SPRINT", help="sprint name, id, 'active' or 'backlog'")
    p.add_argument("--parent", metavar="ITEM", help="children of ITEM; 'none' for top-level items")
    p.add_argument("--under", metavar="ITEM", help="every descendant of ITEM")
    p.add_argument("--assignee", metavar="USER", help="user id, 'me' or 'none'")
    p.add_argument(
        "--label",
        "-l",
        dest="labels",
        action="append",
        metavar="LABEL",
        help="items carrying this label (name or id; several: all of them)",
    )
    p.add_argument("--due-before", metavar="DATE", help="due strictly before DATE (YYYY-MM-DD)")
    p.add_argument("--overdue", action="store_true", help="due before today (UTC) and not done")
    p.add_argument(
        "--limit",
        type=int,
        default=0,
        help=f"at most this many per page (server default 500, max {MAX_ITEMS})",
    )
    p.add_argument("--after", metavar="CURSOR", default="", help="the page after this cursor")
    p.add_argument("--all", action="store_true", help="every page, not just one")


def _search_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("query", metavar="WORDS", help="every word must match (as a prefix)")
    p.add_argument("--project", "-p", metavar="KEY", help="only this project (default: all)")
    add_filter(p, "--type", "-t", dest="types", descriptor=TYPE)
    add_filter(p, "--status", "-s", dest="statuses", descriptor=STATUS)
    p.add_argument("--assignee", metavar="USER", help="user id or 'me'")
    p.add_argument("--sprint", metavar="SPRINT", help="sprint name, id or 'active' (needs -p)")
    p.add_argument("--label", "-l", metavar="LABEL", help="label name or id (needs -p)")
    p.add_argument("--limit", type=int, default=0, help="at most this many (default 20, max 100)")
    p.add_argument("--offset", type=int, default=0, help="skip this many (the next page)")


def _change_parsers(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add("show", show, "one item with its children, dependencies and comments")
    p.add_argument("item", metavar="ITEM", help="display key (PM-12) or id")

    p = add("update", update, "change an item's fields")
    p.add_argument("item", metavar="ITEM", help="display key (PM-12) or id")
    p.add_argument("--title")
    p.add_argument("--description", "-d")
    p.add_argument("--type", "-t", type=enum_arg(TYPE), help=choices(TYPE))
    p.add_argument("--status", type=enum_arg(STATUS), help=choices(STATUS))
    p.add_argument("--priority", type=enum_arg(PRIORITY), help=choices(PRIORITY))
    points = p.add_mutually_exclusive_group()
    points.add_argument("--points", type=int, help="story points")
    points.add_argument("--clear-points", action="store_true", help="remove the story points")
    p.add_argument("--assignee", metavar="USER", help="user id, 'me', or 'none' to unassign")
    _date_arguments(p, clearable=True)
    add_version(p)

    p = add("bulk", bulk, "the same changes to several items at once (all or none)")
    p.add_argument("items", metavar="ITEM", nargs="+", help="display keys (PM-12) or ids")
    p.add_argument("--status", type=enum_arg(STATUS), help=choices(STATUS))
    p.add_argument("--priority", type=enum_arg(PRIORITY), help=choices(PRIORITY))
    p.add_argument("--sprint", metavar="SPRINT", help="sprint name, id, 'active', or 'backlog'")
    p.add_argument("--assignee", metavar="USER", help="user id, 'me', or 'none' to unassign")
    _date_arguments(p, clearable=True)

    p = add("move", move, "move an item: to a status, a sprint, another parent, another place")
    p.add_argument("item", metavar="ITEM", help="display key (PM-12) or id")
    p.add_argument("--status", type=enum_arg(STATUS), help=choices(STATUS))
    p.add_argument("--sprint", metavar="SPRINT", help="sprint name, id, 'active', or 'backlog'")
    p.add_argument("--parent", metavar="ITEM", help="the new parent, or 'none'")
    place = p.add_mutually_exclusive_group()
    place.add_argument("--before", metavar="ITEM", help="just before ITEM in board order")
    place.add_argument("--after", metavar="ITEM", help="just after ITEM in board order")
    place.add_argument("--top", action="store_true", help="first in board order")
    place.add_argument("--bottom", action="store_true", help="last in board order")
    place.add_argument("--position", type=float, help="this exact position")
    add_version(p)

    p = add("delete", delete, "delete an item (refused while it has children)")
    p.add_argument("item", metavar="ITEM", help="display key (PM-12) or id")
    add_version(p)


def _date_arguments(p: argparse.ArgumentParser, *, clearable: bool) -> None:
    clear = "; 'none' removes it" if clearable else ""
    p.add_argument("--start", metavar="DATE", help=f"start date, YYYY-MM-DD{clear}")
    p.add_argument("--due", metavar="DATE", help=f"due date, YYYY-MM-DD{clear}")


def _date(value: str | None) -> str | None:
    """A date option as the protocol takes it: "" removes the date."""
    if value is None:
        return None
    return "" if value == "none" else value


def item_line(item: entities_pb2.WorkItem) -> str:
    return (
        f"{item.display_key} {enum_name(TYPE, item.type)} [{enum_name(STATUS, item.status)}] "
        f"{item.title} (version {item.version})"
    )


def points(item: entities_pb2.WorkItem) -> str:
    return str(item.story_points) if item.HasField("story_points") else ""


async def items_table(s: Session, items: Sequence[entities_pb2.WorkItem], *, empty: str) -> str:
    """Items as rows: key, type, status, priority, points, assignee, sprint, parent, title."""
    keys = {item.id: item.display_key for item in items}
    sprint_names: dict[str, str] = {}
    for project_id in {item.project_id for item in items if item.HasField("sprint_id")}:
        sprint_names.update(await s.sprint_names(project_id))
    rows = []
    for item in items:
        parent = ""
        if item.HasField("parent_id"):
            parent = keys.get(item.parent_id) or await s.item_key(item.parent_id)
        rows.append(
            (
                item.display_key,
                enum_name(TYPE, item.type),
                enum_name(STATUS, item.status),
                enum_name(PRIORITY, item.priority),
                points(item),
                item.assignee_id if item.HasField("assignee_id") else "",
                sprint_names.get(item.sprint_id, "") if item.HasField("sprint_id") else "",
                parent,
                item.title,
            )
        )
    headers = ("key", "type", "status", "priority", "pts", "assignee", "sprint", "parent", "title")
    return table(headers, rows, empty=empty)


async def create(s: Session, args: argparse.Namespace) -> Output:
    parent = await s.item(args.parent) if args.parent else None
    if parent is not None and not args.project:
        project_id = parent.project_id
    else:
        project_id = (await s.project(args.project)).id
    reply = await s.pm.create_work_item(
        project_id=project_id,
        type=args.type,
        title=args.title,
        description=args.description,
        status=args.status or entities_pb2.WORK_ITEM_STATUS_UNSPECIFIED,
        priority=args.priority or entities_pb2.PRIORITY_UNSPECIFIED,
        story_points=args.points,
        position=args.position,
        parent_id=parent.id if parent is not None else None,
        sprint_id=await s.sprint_id(args.sprint, project_id) if args.sprint else None,
        assignee_id=s.user(args.assignee) if args.assignee else None,
        start_date=args.start,
        due_date=args.due,
    )
    item = reply.item
    return Output(to_json(item), item.display_key if args.quiet else f"created {item_line(item)}")


async def list_items(s: Session, args: argparse.Namespace) -> Output:
    project = await s.project(args.project)
    sprint_id = await s.sprint_id(args.sprint, project.id) if args.sprint else None
    parent_id = await s.optional_item_id(args.parent) if args.parent else None
    descendants_of = await s.item_id(args.under) if args.under else None
    label_ids = [await label_id(s, project.id, name) for name in args.labels or ()]
    first: list[commands_pb2.WorkItemList] = []

    async def page(after: str | None) -> tuple[list[entities_pb2.WorkItem], str | None]:
        reply = await s.pm.list_work_items(
            project_id=project.id,
            types=args.types,
            statuses=args.statuses,
            sprint_id=sprint_id,
            parent_id=parent_id,
            assignee_id=s.user(args.assignee) if args.assignee else None,
            descendants_of=descendants_of,
            exclude_done=args.open,
            due_before=args.due_before or "",
            label_ids=label_ids,
            overdue=args.overdue,
            limit=args.limit,
            after=after or args.after,
        )
        first.append(reply)
        return list(reply.items), reply.next_after or None

    if args.all:
        items = await every_page(page)
        reply = first[0]
        del reply.items[:]
        reply.items.extend(items)
        reply.next_after = ""
    else:
        await page(None)
        reply = first[0]
        if reply.next_after and not args.json:
            note_next_page("--after", reply.next_after)
    text = await items_table(s, reply.items, empty="no items")
    return Output(to_json(reply), text)


async def search(s: Session, args: argparse.Namespace) -> Output:
    project_id: str | None = None
    sprint_id: str | None = None
    label: str | None = None
    if args.project or args.sprint or args.label:
        project_id = (await s.project(args.project)).id
        sprint_id = await s.sprint_id(args.sprint, project_id) if args.sprint else None
        label = await label_id(s, project_id, args.label) if args.label else None
    reply = await s.pm.search(
        query=args.query,
        project_id=project_id,
        types=args.types,
        statuses=args.statuses,
        assignee_id=s.user(args.assignee) if args.assignee else None,
        sprint_id=sprint_id,
        label_id=label,
        limit=args.limit,
        offset=args.offset,
    )
    rows = [
        (
            hit.item.display_key,
            enum_name(STATUS, hit.item.status),
            hit.item.title,
            " ".join(hit.snippet.replace("\x02", "*").replace("\x03", "*").split()),
        )
        for hit in reply.hits
    ]
    text = table(("key", "status", "title", "match"), rows, empty="nothing found")
    if reply.next_offset:
        text += f"\nmore: --offset {reply.next_offset}"
    return Output(to_json(reply), text)


async def show(s: Session, args: argparse.Namespace) -> Output:
    item = await s.item(args.item)
    children = (await s.pm.list_work_items(project_id=item.project_id, parent_id=item.id)).items
    deps = await s.pm.list_dependencies(item_id=item.id)
    comments = (await s.pm.list_comments(work_item_id=item.id)).comments
    sprint = ""
    if item.HasField("sprint_id"):
        sprint = (await s.sprint_names(item.project_id)).get(item.sprint_id, item.sprint_id)
    parent = await s.item_key(item.parent_id) if item.HasField("parent_id") else ""
    lines = [
        fields(
            [
                ("item", f"{item.display_key}: {item.title}"),
                ("type", enum_name(TYPE, item.type)),
                ("status", enum_name(STATUS, item.status)),
                ("priority", enum_name(PRIORITY, item.priority)),
                ("points", points(item)),
                ("assignee", item.assignee_id if item.HasField("assignee_id") else ""),
                ("sprint", sprint),
                ("parent", parent),
                ("start", item.start_date),
                ("due", item.due_date),
                ("created", f"{local_time(item.created_at)} by {item.created_by}"),
                ("updated", local_time(item.updated_at)),
                ("version", item.version),
                ("id", item.id),
            ]
        )
    ]
    if item.description:
        lines += ["", item.description]
    if children:
        lines += ["", "children:", await items_table(s, children, empty="")]
    dep_rows = [
        (
            d.id,
            await s.item_key(d.from_item_id),
            enum_name(DEPENDENCY, d.type),
            await s.item_key(d.to_item_id),
        )
        for d in [*deps.outgoing, *deps.incoming]
    ]
    if dep_rows:
        lines += ["", "dependencies:", table(("id", "from", "type", "to"), dep_rows)]
    if comments:
        lines += ["", "comments:"]
        lines += [f"- {c.author_id}, {local_time(c.created_at)}: {c.body}" for c in comments]
    data = {
        "item": to_json(item),
        "children": [to_json(child) for child in children],
        "dependencies": {
            "outgoing": [to_json(d) for d in deps.outgoing],
            "incoming": [to_json(d) for d in deps.incoming],
        },
        "comments": [to_json(c) for c in comments],
    }
    return Output(data, "\n".join(lines))


async def update(s: Session, args: argparse.Namespace) -> Output:
    item = await s.item(args.item)
    reply = await s.pm.update_work_item(
        item_id=item.id,
        expected_version=args.expected_version,
        title=args.title,
        description=args.description,
        type=args.type,
        status=args.status,
        priority=args.priority,
        story_points=args.points,
        clear_story_points=args.clear_points,
        assignee_id=s.user(args.assignee) if args.assignee is not None else None,
        start_date=_date(args.start),
        due_date=_date(args.due),
    )
    return Output(to_json(reply.item), f"updated {item_line(reply.item)}")


async def bulk(s: Session, args: argparse.Namespace) -> Output:
    items = [await s.item(name) for name in args.items]
    project_ids = {item.project_id for item in items}
    sprint_id = None
    if args.sprint:
        if len(project_ids) > 1:
            raise UsageError("--sprint needs items of one project")
        sprint_id = await s.sprint_id(args.sprint, items[0].project_id)
    reply = await s.pm.bulk_update_work_items(
        item_ids=[item.id for item in items],
        status=args.status,
        priority=args.priority,
        sprint_id=sprint_id,
        assignee_id=s.user(args.assignee) if args.assignee is not None else None,
        start_date=_date(args.start),
        due_date=_date(args.due),
    )
    lines = [f"updated {item_line(item)}" for item in reply.items]
    return Output([to_json(item) for item in reply.items], "\n".join(lines))


async def move(s: Session, args: argparse.Namespace) -> Output:
    item = await s.item(args.item)
    position = args.position
    if args.before or args.after or args.top or args.bottom:
        position = await _new_position(s, item, args)
    changes = (args.status, args.sprint, args.parent, position)
    if all(change is None for change in changes):
        raise UsageError(
            "say where to: --status, --sprint, --parent, --before/--after/--top/--bottom "
            "or --position"
        )
    reply = await s.pm.update_work_item(
        item_id=item.id,
        expected_version=args.expected_version,
        status=args.status,
        sprint_id=await s.sprint_id(args.sprint, item.project_id) if args.sprint else None,
        parent_id=await s.optional_item_id(args.parent) if args.parent is not None else None,
        position=position,
    )
    return Output(to_json(reply.item), f"moved {item_line(reply.item)}")


async def _new_position(s: Session, item: entities_pb2.WorkItem, args: argparse.Namespace) -> float:
    """A position that puts ``item`` before/after another, or first/last, in board order."""
    reply = await s.pm.list_work_items(project_id=item.project_id, limit=MAX_ITEMS)
    order = [other for other in reply.items if other.id != item.id]
    if not order:
        return item.position
    if args.top:
        return order[0].position - 1.0
    if args.bottom:
        return order[-1].position + 1.0
    anchor = await s.item(args.before or args.after)
    if anchor.id == item.id:
        raise UsageError("an item cannot be placed next to itself")
    index = next((i for i, other in enumerate(order) if other.id == anchor.id), None)
    if index is None:
        raise UsageError(f"{anchor.display_key} is not in the same project as {item.display_key}")
    if args.before:
        before = order[index - 1].position if index > 0 else anchor.position - 2.0
        return (before + anchor.position) / 2
    after = order[index + 1].position if index + 1 < len(order) else anchor.position + 2.0
    return (anchor.position + after) / 2


async def delete(s: Session, args: argparse.Namespace) -> Output:
    item = await s.item(args.item)
    reply = await s.pm.delete_work_item(item_id=item.id, expected_version=args.expected_version)
    return Output(to_json(reply.item), f"deleted {reply.item.display_key}")
