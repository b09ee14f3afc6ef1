"""A board to test work items and what hangs off them: a project, an editor, a watching viewer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2, events_pb2
from tests.pm_server.conftest import Server, create_project, subscribe
from tests.pm_server.wsclient import WsClient

STORY = entities_pb2.WORK_ITEM_TYPE_STORY


@dataclass
class Board:
    """alice created the project (admin), bob edits, vic views and watches its events."""

    alice: WsClient
    bob: WsClient
    vic: WsClient
    project: entities_pb2.Project
    tenant: str = "acme"


async def board(server: Server, key: str = "PM", tenant: str = "acme") -> Board:
    alice = await server.client(tenant, user="alice")
    project = await create_project(alice, key, "Board")
    bob = await server.client(tenant, user="bob")
    vic = await server.client(tenant, user="vic")
    for user, role in (("bob", entities_pb2.ROLE_EDITOR), ("vic", entities_pb2.ROLE_VIEWER)):
        await alice.request(
            "add_member", commands_pb2.AddMember(project_id=project.id, user_id=user, role=role)
        )
    await subscribe(vic, project.id)
    return Board(alice, bob, vic, project, tenant)


async def new_item(
    client: WsClient,
    project_id: str,
    title: str,
    type: entities_pb2.WorkItemType.ValueType = STORY,
    **fields: Any,
) -> entities_pb2.WorkItem:
    reply = await client.request(
        "create_work_item",
        commands_pb2.CreateWorkItem(project_id=project_id, type=type, title=title, **fields),
    )
    return reply.work_item.item


async def update(client: WsClient, item_id: str, **fields: Any) -> entities_pb2.WorkItem:
    reply = await client.request(
        "update_work_item", commands_pb2.UpdateWorkItem(item_id=item_id, **fields)
    )
    return reply.work_item.item


def changes(event: events_pb2.Event) -> dict[str, tuple[Any, Any]]:
    return {c.field: (json.loads(c.old_json), json.loads(c.new_json)) for c in event.changes}


def code(error: envelope_pb2.Error) -> str:
    return envelope_pb2.ErrorCode.Name(error.code)
