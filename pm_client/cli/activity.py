"""``pm activity``: the audit trail of a project, an item or any entity, newest first."""

from __future__ import annotations

import argparse

from pm_client.cli.exits import NotFound, UsageError
from pm_client.cli.options import Subcommands, add_project, choices, enum_arg
from pm_client.cli.output import Output, actor, enum_name, local_time, table, to_json
from pm_client.cli.paging import every_page
from pm_client.cli.session import Session, default_project
from pm_proto.v1 import commands_pb2, entities_pb2

ENTITY = entities_pb2.EntityType.DESCRIPTOR
ACTION = entities_pb2.Action.DESCRIPTOR
#: Longest old/new value shown in the table (the JSON has them whole).
VALUE_WIDTH = 40


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    text = "the audit trail of a project (--project), an item (ITEM) or an entity (--entity)"
    description = (
        "the audit trail of an item, of `--project`, or of `--entity TYPE ID`, newest first; "
        "agents show as `USER (agent)`"
    )
    p = commands.add_parser("activity", parents=[common], help=text, description=description)
    p.set_defaults(handler=show)
    p.add_argument("item", metavar="ITEM", nargs="?", help="an item's display key (PM-12) or id")
    add_project(p)
    p.add_argument(
        "--entity",
        nargs=2,
        metavar=("TYPE", "ID"),
        help=f"any entity: {choices(ENTITY)} and its id",
    )
    p.add_argument("--limit", type=int, default=0, help="at most this many (server default 50)")
    p.add_argument("--before", metavar="ENTRY_ID", default="", help="the page after this entry")
    p.add_argument("--all", action="store_true", help="every page, not just one")


def _short(value: str) -> str:
    return value if len(value) <= VALUE_WIDTH else value[: VALUE_WIDTH - 1] + "…"


async def show(s: Session, args: argparse.Namespace) -> Output:
    scopes = [scope for scope in (args.item, args.project, args.entity) if scope]
    if len(scopes) > 1:
        raise UsageError("name one of ITEM, --project or --entity")
    entity: commands_pb2.EntityRef | None = None
    project_id: str | None = None
    if args.item:
        item = await s.item(args.item)
        entity = commands_pb2.EntityRef(type=entities_pb2.ENTITY_TYPE_WORK_ITEM, id=item.id)
    elif args.entity:
        kind = entities_pb2.EntityType.ValueType(enum_arg(ENTITY)(args.entity[0]))
        entity = commands_pb2.EntityRef(type=kind, id=args.entity[1])
    elif args.project or default_project():
        project_id = (await s.project(args.project)).id
    else:
        raise UsageError("name what to show: ITEM, --project KEY or --entity TYPE ID")
    pages: list[commands_pb2.ActivityList] = []

    async def page(before: str | None) -> tuple[list[entities_pb2.ActivityEntry], str | None]:
        listed = await s.pm.list_activity(
            project_id=project_id, entity=entity, limit=args.limit, before_id=before or args.before
        )
        pages.append(listed)
        return list(listed.entries), listed.entries[-1].id if listed.entries else None

    found = await every_page(page) if args.all else (await page(None))[0]
    reply = pages[0]
    del reply.entries[:]
    reply.entries.extend(found)
    names = _Names(s)
    rows = []
    for e in reply.entries:
        change = ""
        if e.HasField("field"):
            change = f"{e.field}: {_short(e.old_json)} -> {_short(e.new_json)}"
        rows.append(
            (
                local_time(e.created_at, seconds=True),
                actor(e.actor_id, e.actor_kind) if e.HasField("actor_id") else "",
                enum_name(ACTION, e.action),
                f"{enum_name(ENTITY, e.entity_type)} {await names.of(e)}",
                change,
            )
        )
    text = table(("when", "who", "action", "what", "change"), rows, empty="no activity")
    return Output(to_json(reply), text)


class _Names:
    """What people call an entity: an item's key, a sprint's or lane's name, a member's user."""

    def __init__(self, s: Session) -> None:
        self.s = s
        self._by_project: dict[str, dict[str, str]] = {}

    async def of(self, entry: entities_pb2.ActivityEntry) -> str:
        kind = entry.entity_type
        if kind == entities_pb2.ENTITY_TYPE_WORK_ITEM:
            return await self.s.item_key(entry.entity_id)
        if kind == entities_pb2.ENTITY_TYPE_PROJECT:
            try:
                return await self.s.project_key(entry.entity_id)
            except NotFound:
                return entry.entity_id
        if entry.HasField("project_id") and kind in _NAMED:
            names = await self._names(entry.project_id)
            return names.get(entry.entity_id, entry.entity_id)
        return entry.entity_id

    async def _names(self, project_id: str) -> dict[str, str]:
        if project_id not in self._by_project:
            pm = self.s.pm
            names = dict(await self.s.sprint_names(project_id))
            members = await pm.list_members(project_id=project_id)
            names.update({m.id: m.user_id for m in members.members})
            lanes = await pm.list_swim_lanes(project_id=project_id)
            names.update({lane.id: lane.name for lane in lanes.lanes})
            self._by_project[project_id] = names
        return self._by_project[project_id]


_NAMED = frozenset(
    {
        entities_pb2.ENTITY_TYPE_SPRINT,
        entities_pb2.ENTITY_TYPE_MEMBER,
        entities_pb2.ENTITY_TYPE_SWIM_LANE,
    }
)
