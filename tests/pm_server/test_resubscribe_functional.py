"""Subscribing again to a project while its events flow sends each event once and skips none.

A client subscribed to a project, with writers busy, sends ``subscribe`` for
the same project again, with a resume position from before what it was sent
or with none. Over a real socket, what it receives is compared with the
event log: every event of the project after the first subscribe, in order,
exactly once.
"""

from __future__ import annotations

import asyncio
import functools

import pytest

from pm_db.unit_of_work import UnitOfWork
from pm_proto.v1 import commands_pb2, events_pb2
from tests.pm_server.conftest import Server, create_project, subscribe
from tests.pm_server.wsclient import WsClient, seqs

WRITERS = 3
UPDATES_PER_WRITER = 60
RESUBSCRIBES = 10


async def rename_many(client: WsClient, project_id: str, tag: str) -> None:
    for n in range(UPDATES_PER_WRITER):
        await client.request(
            "update_project",
            commands_pb2.UpdateProject(project_id=project_id, name=f"{tag} {n}"),
            request_id=f"{tag}-{n}",  # one user on every socket: ids must not repeat
        )


async def stored_seqs(server: Server, project_id: str, after: int) -> list[int]:
    def read(uow: UnitOfWork) -> list[int]:
        return [e.seq for e in uow.events.after(after, project_ids=[project_id], limit=10_000)]

    async with server.state.databases.use("acme") as db:
        return await db.read(functools.partial(read))


@pytest.mark.parametrize("resume", [True, False], ids=["with-resume", "without-resume"])
async def test_resubscribing_while_events_flow_sends_each_event_once_and_skips_none(
    server: Server, resume: bool
) -> None:
    alice = await server.client(user="alice")
    project = await create_project(alice, "RESUB", "Resubscribe")
    writers = [await server.client(user="alice") for _ in range(WRITERS)]
    watcher = await server.client(user="alice")
    first = await subscribe(watcher, project.id)

    writing = asyncio.gather(
        *(rename_many(writer, project.id, f"w{n}") for n, writer in enumerate(writers))
    )
    received: list[events_pb2.Event] = []
    for _ in range(RESUBSCRIBES):
        received.append(await watcher.next_event())  # events are flowing
        again = commands_pb2.Subscribe(project_ids=[project.id])
        if resume:  # from before everything it was sent: nothing is owed again
            again.resume.CopyFrom(commands_pb2.ResumePosition(epoch=first.epoch, seq=first.seq))
        reply = await watcher.request("subscribe", again, request_id=f"again-{len(received)}")
        assert not reply.subscribed.must_refetch
    await writing
    await alice.request(
        "update_project",
        commands_pb2.UpdateProject(project_id=project.id, name="last"),
        request_id="last",
    )
    while received[-1].project.name != "last":
        received.append(await watcher.next_event())

    expected = await stored_seqs(server, project.id, first.seq)
    assert len(expected) == WRITERS * UPDATES_PER_WRITER + 1
    got = seqs(received)
    duplicates = len(got) - len(set(got))
    missing = sorted(set(expected) - set(got))
    assert (duplicates, missing[:10]) == (0, [])
    assert got == expected
    await watcher.no_event()
