"""Setting the stage through the protocol: a project, its members, their first connection.

Runs in the harness process (a client like any other, never inside the
server). Users exist once they have connected, so members are connected once
before they are added.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from bench.client import Client, close_all, connect_many, session
from bench.server import PmServer
from pm_proto.v1 import commands_pb2, entities_pb2

OWNER = "owner"


@dataclass(frozen=True, slots=True)
class Project:
    tenant: str
    id: str
    key: str


def create_item(project_id: str, title: str) -> commands_pb2.CreateWorkItem:
    """The create every scenario sends: a task in the backlog, position left to the server."""
    return commands_pb2.CreateWorkItem(
        project_id=project_id, type=entities_pb2.WORK_ITEM_TYPE_TASK, title=title
    )


async def provision(
    server: PmServer,
    tenant: str,
    key: str,
    members: Sequence[tuple[str, entities_pb2.Role.ValueType]] = (),
) -> Project:
    """Create project ``key`` in ``tenant`` (owned by :data:`OWNER`) and add ``members``
    as ``(user id, pm.v1.Role)``."""
    async with session() as http:
        owner = await Client.connect(http, server.ws_url, server.token(tenant, OWNER))
        try:
            reply = await owner.request(
                "create_project", commands_pb2.CreateProject(key=key, name=f"Bench {key}")
            )
            project = Project(tenant, reply.project.project.id, key)
            for start in range(0, len(members), 500):
                chunk = members[start : start + 500]
                tokens = [server.token(tenant, user) for user, _ in chunk]
                await close_all(await connect_many(http, server.ws_url, tokens))
                await asyncio.gather(
                    *(
                        owner.request(
                            "add_member",
                            commands_pb2.AddMember(project_id=project.id, user_id=user, role=role),
                        )
                        for user, role in chunk
                    )
                )
        finally:
            await owner.close()
    return project
