"""Fuzz: hostile frames against a live server, while a legitimate client works alongside.

Tenant ``acme``: ``alice`` owns project P (with a deep hierarchy, a chain of
25 blocking dependencies, planned/active/completed sprints and a row of every
kind), project Q, and project L, where she works during the whole run. Tenant
``globex``: ``gary`` owns project G. The hostile users (see
:mod:`tests.pm_server.fuzz_frames`): ``trudy`` (editor of P) sends only
poisoned commands; ``mallory`` (viewer of P) and ``eve`` (of globex) send
random bytes, text, truncated, oversized and schema-generated hostile
envelopes. Frames are drawn by hypothesis in batches and pipelined; alice's
commands run interleaved with them.

Invariants, checked after every batch and at the end:

- the server stays up: ``/healthz`` answers 200 and a ping on every hostile
  connection is answered after each batch;
- every frame gets exactly one answer, a coded error or a reply, carrying
  its request id whenever the frame had a readable one (no frame silently
  dropped); an oversized frame closes its connection with 1009 and the
  hostile user reconnects; no INTERNAL error; no hostile write succeeds;
  no hostile user receives an event of a project they may not read;
- every result of alice's traffic is what it must be (her model of L), and
  she receives exactly one event per write of hers, in order;
- invalid requests change no data: both tenants' databases, dumped before
  and after, differ only by alice's writes in L (their rows, events,
  activity and idempotency records, each accounted for).

``PM_FUZZ_FRAMES`` sets the number of hostile frames (10,000 by default;
``make fuzz`` sends 100,000) and ``PM_FUZZ_SEED`` the hypothesis seed. The
counts are printed at the end (``pytest -s``).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest

from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2, events_pb2
from tests.pm_server.conftest import Server, start_server
from tests.pm_server.fuzz_frames import Frame, Targets
from tests.pm_server.fuzz_traffic import (
    Batch,
    FuzzStats,
    HostileConnection,
    LegitOp,
    generate_batches,
)
from tests.pm_server.isolation_seed import STORY, diff_dumps, dump_tenant, seed_board
from tests.pm_server.wsclient import WsClient

P = commands_pb2
E = entities_pb2

FRAMES: Final = int(os.environ.get("PM_FUZZ_FRAMES", "10000"))
SEED: Final = int(os.environ.get("PM_FUZZ_SEED", str(random.randrange(2**32))))
BATCH_SIZE: Final = 25
#: Batches generated at a time (in a thread, while the previous ones are sent).
CHUNK: Final = 40
CHAIN_LENGTH: Final = 25
#: Live items alice keeps in L at most (a list of them is one page).
MAX_LEGIT_ITEMS: Final = 300
MAX_FRAME_BYTES: Final = 65_536
#: The fuzz run measures hostile input, not the rate limits (tested on their own):
#: unknown settings are ignored, so this also runs against a server without them.
NO_RATE_LIMITS: Final[dict[str, Any]] = {
    "rate_limit_connection_per_second": 0,
    "rate_limit_tenant_per_second": 0,
    "rate_limit_flood_refusals": 0,
}


# -- the world ----------------------------------------------------------------------------


@dataclass
class World:
    targets: Targets
    alice: WsClient
    board_items: dict[str, entities_pb2.WorkItem]  # P's items as seeded


async def seed_world(server: Server) -> World:
    alice = await server.client("acme", "alice")
    for user in ("trudy", "mallory", "bob"):
        await server.client("acme", user)  # users exist once they connected
    p = await seed_board(alice, "trudy", "PFZ", "SECRET-P")
    await alice.request(
        "add_member", P.AddMember(project_id=p.project_id, user_id="mallory", role=E.ROLE_VIEWER)
    )
    q = await seed_board(alice, "bob", "QFZ", "SECRET-Q")
    gary = await server.client("globex", "gary")
    for user in ("gina", "eve"):
        await server.client("globex", user)
    g = await seed_board(gary, "gina", "GFZ", "SECRET-G")

    chain = []
    for i in range(CHAIN_LENGTH):
        reply = await alice.request(
            "create_work_item",
            P.CreateWorkItem(project_id=p.project_id, type=STORY, title=f"SECRET-P chain {i}"),
        )
        chain.append(reply.work_item.item.id)
    for before, after in itertools.pairwise(chain):
        await alice.request(
            "create_dependency",
            P.CreateDependency(
                from_item_id=before, to_item_id=after, type=E.DEPENDENCY_TYPE_BLOCKS
            ),
        )
    sprints = []
    for name, statuses in (
        ("done", (E.SPRINT_STATUS_ACTIVE, E.SPRINT_STATUS_COMPLETED)),
        ("active", (E.SPRINT_STATUS_ACTIVE,)),
    ):
        reply = await alice.request(
            "create_sprint", P.CreateSprint(project_id=p.project_id, name=f"SECRET-P {name}")
        )
        sprint_id = reply.sprint.sprint.id
        for status in statuses:
            await alice.request(
                "transition_sprint", P.TransitionSprint(sprint_id=sprint_id, status=status)
            )
        sprints.append(sprint_id)
    contexts = (await alice.request("list_llm_context", P.ListLlmContext())).llm_contexts
    legit = (
        await alice.request("create_project", P.CreateProject(key="LEGIT", name="Legit"))
    ).project.project
    targets = Targets(
        p=p,
        q=q,
        g=g,
        legit_project_id=legit.id,
        chain=tuple(chain),
        completed_sprint_id=sprints[0],
        active_sprint_id=sprints[1],
        global_context_id=contexts.contexts[0].id,
        users=("alice", "bob", "trudy", "mallory", "gary", "gina", "eve", "nobody"),
    )
    items = (
        await alice.request("list_work_items", P.ListWorkItems(project_id=p.project_id))
    ).work_items.items
    return World(targets, alice, {item.id: item for item in items})


# -- the legitimate client ------------------------------------------------------------------


@dataclass
class Legit:
    """Alice at work in L: every reply checked against her model of L."""

    alice: WsClient
    world: World
    project_id: str
    items: dict[str, tuple[str, int]] = field(default_factory=dict)  # id -> (title, version)
    comments: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (item, body)
    #: (entity id, action) of each write, in order: the events she must receive.
    writes: list[tuple[str, int]] = field(default_factory=list)
    request_ids: set[str] = field(default_factory=set)
    ops: int = 0
    _next: int = 0

    def _rid(self) -> str:
        self._next += 1
        return f"legit-{self._next}"

    async def _write(self, name: str, command: Any) -> envelope_pb2.Reply:
        request_id = self._rid()
        reply = await self.alice.request(name, command, request_id=request_id)
        self.request_ids.add(request_id)
        return reply

    def _pick(self, op: LegitOp) -> str | None:
        if not self.items:
            return None
        return sorted(self.items)[op.pick % len(self.items)]

    async def run(self, ops: tuple[LegitOp, ...]) -> None:
        for op in ops:
            await self.apply(op)
            self.ops += 1

    async def apply(self, op: LegitOp) -> None:
        item_id = self._pick(op)
        if op.op == "create" and len(self.items) >= MAX_LEGIT_ITEMS:
            op = LegitOp("delete", op.pick, op.text)  # L stays within one page of list_work_items
        if op.op == "create" or (item_id is None and op.op in ("retitle", "comment", "delete")):
            reply = await self._write(
                "create_work_item",
                P.CreateWorkItem(project_id=self.project_id, type=STORY, title=op.text),
            )
            item = reply.work_item.item
            assert (item.title, item.version, item.project_id) == (op.text, 1, self.project_id)
            self.items[item.id] = (op.text, 1)
            self.writes.append((item.id, E.ACTION_CREATED))
        elif op.op == "retitle":
            assert item_id is not None
            title, version = self.items[item_id]
            reply = await self._write(
                "update_work_item",
                P.UpdateWorkItem(item_id=item_id, expected_version=version, title=op.text),
            )
            item = reply.work_item.item
            if op.text == title:  # changes nothing: no new version, no event
                assert (item.id, item.title, item.version) == (item_id, title, version)
            else:
                assert (item.id, item.title, item.version) == (item_id, op.text, version + 1)
                self.items[item_id] = (op.text, version + 1)
                self.writes.append((item_id, E.ACTION_UPDATED))
        elif op.op == "comment":
            assert item_id is not None
            reply = await self._write(
                "create_comment", P.CreateComment(work_item_id=item_id, body=op.text)
            )
            comment = reply.comment.comment
            assert (comment.work_item_id, comment.body, comment.author_id) == (
                item_id,
                op.text,
                "alice",
            )
            self.comments[comment.id] = (item_id, op.text)
            self.writes.append((comment.id, E.ACTION_CREATED))
        elif op.op == "delete":
            assert item_id is not None
            _, version = self.items.pop(item_id)
            reply = await self._write(
                "delete_work_item", P.DeleteWorkItem(item_id=item_id, expected_version=version)
            )
            assert reply.work_item.item.id == item_id
            assert reply.work_item.item.HasField("deleted_at")
            gone = sorted(k for k, v in self.comments.items() if v[0] == item_id)
            self.comments = {k: v for k, v in self.comments.items() if v[0] != item_id}
            self.writes.append((item_id, E.ACTION_DELETED))
            # Each comment the delete took along has a delete event of its own, in id order.
            self.writes.extend((comment_id, E.ACTION_DELETED) for comment_id in gone)
        elif op.op == "list":
            await self.check_list()
        elif op.op == "check_board":
            await self.check_board(op.pick)
        else:
            joined = await self.alice.request(
                "join_presence", P.JoinPresence(project_id=self.project_id)
            )
            assert "alice" in joined.presence.user_ids
            left = await self.alice.request(
                "leave_presence", P.LeavePresence(project_id=self.project_id)
            )
            assert "alice" not in left.presence.user_ids

    async def check_list(self) -> None:
        reply = await self.alice.request(
            "list_work_items", P.ListWorkItems(project_id=self.project_id)
        )
        listed = {i.id: (i.title, i.version) for i in reply.work_items.items}
        assert listed == self.items

    async def check_board(self, pick: int) -> None:
        """P, the target of all hostile traffic, reads exactly as seeded."""
        board = self.world.board_items
        item_id = sorted(board)[pick % len(board)]
        reply = await self.alice.request("get_work_item", P.GetWorkItem(item_id=item_id))
        assert reply.work_item.item == board[item_id]

    async def check_events(self) -> None:
        """One event per write of hers, in commit order, with increasing seq."""
        got: list[events_pb2.Event] = []
        while len(got) < len(self.writes):
            event = await self.alice.next_event(timeout=10)
            if event.seq:  # presence events (seq 0) are not stored writes
                got.append(event)
        assert [(e.entity_id, e.action) for e in got] == self.writes
        seqs = [e.seq for e in got]
        assert seqs == sorted(set(seqs))
        assert {e.project_id for e in got} <= {self.project_id}


# -- the run --------------------------------------------------------------------------------


async def batches(targets: Targets, total_frames: int) -> AsyncIterator[Batch]:
    """The run's batches, each chunk drawn in a thread while the previous one is sent."""
    count = -(-total_frames // BATCH_SIZE)
    made = 0

    def chunk(index: int) -> asyncio.Future[list[Batch]]:
        size = min(CHUNK, count - index * CHUNK)
        return asyncio.ensure_future(
            asyncio.to_thread(
                generate_batches, targets, size, BATCH_SIZE, MAX_FRAME_BYTES, SEED + index * 7919
            )
        )

    pending = chunk(0)
    index = 0
    while made < count:
        ready = await pending
        index += 1
        made += len(ready)
        if made < count:
            pending = chunk(index)
        for batch in ready:
            yield batch


def _failure(stats: FuzzStats, when: str) -> str:
    return f"seed {SEED} (rerun with PM_FUZZ_SEED={SEED}), {when}: {stats.summary()}\n" + "\n".join(
        stats.violations[:20]
    )


async def send_all(connection: HostileConnection, frames: list[Frame]) -> None:
    for frame in frames:
        await connection.send(frame)


def account_for_legit_writes(
    before: dict[str, Any], after: dict[str, Any], legit: Legit
) -> list[str]:
    """What changed in acme's database beyond alice's writes in L (should be nothing)."""
    problems = []
    project = legit.project_id
    changes = diff_dumps(before, after)
    added_events = added_activity = added_keys = 0
    for table, (gone, added) in changes.items():
        for row in [*gone, *added]:
            in_l = row.get("project_id") == project or (
                table == "projects" and row["id"] == project
            )
            if table == "events":
                ok = row in added and row["project_id"] == project
                added_events += ok
            elif table == "activity_log":
                ok = row in added and in_l and row["actor_id"] == "alice"
                added_activity += ok
            elif table == "idempotency_keys":
                ok = row in added and row["request_id"] in legit.request_ids
                ok = ok and row["user_id"] == "alice"
                added_keys += ok
            else:
                ok = in_l and table in ("work_items", "comments", "projects")
            if not ok:
                problems.append(f"{table}: unexpected {'new' if row in added else 'old'} row {row}")
    if added_events != len(legit.writes):
        problems.append(f"{added_events} new events for {len(legit.writes)} writes")
    if added_keys != len(legit.request_ids):
        problems.append(f"{added_keys} idempotency records for {len(legit.request_ids)} writes")
    if not added_activity and legit.writes:
        problems.append("no activity rows for alice's writes")
    live = {
        row["id"]: (row["title"], row["version"])
        for row in after["work_items"]
        if row["project_id"] == project and row["deleted_at"] is None
    }
    if live != legit.items:
        problems.append(f"L's items in the database {live} != alice's model {legit.items}")
    comments = {
        row["id"]: (row["work_item_id"], row["body"])
        for row in after["comments"]
        if row["project_id"] == project and row["deleted_at"] is None
    }
    if comments != legit.comments:
        problems.append("L's comments in the database differ from alice's model")
    return problems


async def test_hostile_frames_keep_server_up_answered_and_data_unchanged(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server, runner = await start_server(data_dir, **NO_RATE_LIMITS)
    stats = FuzzStats()
    connections: dict[str, HostileConnection] = {}
    try:
        world = await seed_world(server)
        t = world.targets
        legit = Legit(world.alice, world, t.legit_project_id)
        await world.alice.request("subscribe", P.Subscribe(project_ids=[t.legit_project_id]))
        before = {tenant: dump_tenant(data_dir, tenant) for tenant in ("acme", "globex")}

        for name, tenant, readable in (
            ("trudy", "acme", {t.p.project_id}),
            ("mallory", "acme", {t.p.project_id}),
            ("eve", "globex", set()),
        ):
            connection = HostileConnection(
                server.ws_url,
                server.token(tenant, name),
                name,
                stats,
                frozenset(readable),
                MAX_FRAME_BYTES,
            )
            await connection.open()
            connections[name] = connection

        async with aiohttp.ClientSession() as http:
            number = 0
            async for batch in batches(t, FRAMES):
                number += 1
                by_sender: dict[str, list[Frame]] = {name: [] for name in connections}
                for frame in batch.frames:
                    by_sender[frame.sender].append(frame)
                await asyncio.gather(
                    legit.run(batch.legit),
                    *(send_all(connections[n], frames) for n, frames in by_sender.items()),
                )
                for connection in connections.values():
                    await connection.settle()
                async with http.get(f"{server.base_url}/healthz") as response:
                    assert response.status == 200, (
                        f"/healthz {response.status} after batch {number}"
                    )
                for connection in connections.values():
                    await connection.ping(number)
                assert not stats.violations, _failure(stats, f"after batch {number}")

        await legit.check_list()
        await legit.check_events()
        after = {tenant: dump_tenant(data_dir, tenant) for tenant in ("acme", "globex")}
        problems = account_for_legit_writes(before["acme"], after["acme"], legit)
        problems += [
            f"globex {t}: {c}" for t, c in diff_dumps(before["globex"], after["globex"]).items()
        ]
        print(
            f"\nfuzz seed {SEED}: {stats.summary()}; legitimate commands: {legit.ops} "
            f"({len(legit.writes)} writes)"
        )
        if os.environ.get("PM_FUZZ_VERBOSE"):
            for (kind, code), count in sorted(stats.outcomes.items()):
                print(f"  {kind:45} {code:18} {count}")
        assert not problems, f"seed {SEED}: data changed:\n" + "\n".join(problems[:20])
        assert stats.total_sent >= FRAMES
        assert stats.crashes == 0, _failure(stats, "at the end")
        assert not stats.violations, _failure(stats, "at the end")
    finally:
        for connection in connections.values():
            await connection.close()
        for client in server.clients:
            await client.close()
        await runner.cleanup()


# -- what the fuzz run found, pinned down -------------------------------------------------------


async def _next_error(client: WsClient) -> envelope_pb2.Error:
    for _ in range(250):
        for frame in client.frames:
            if frame.WhichOneof("kind") == "error":
                client.frames.remove(frame)
                return frame.error
        await asyncio.sleep(0.02)
    raise AssertionError("no error arrived")


@pytest.mark.parametrize(
    "frame",
    [
        b"\x0a\x02r1\x7a",  # the key of a command, then nothing (its length is missing)
        b"\x0a\x02r1\xf2",  # a key cut in the middle of its varint
        b"\x0a\x02r1\x8a\x02",  # the key of subscribe, then nothing
        b"\x0a\x02r1\x52\x85",  # a length cut in the middle of its varint
    ],
    ids=["length_missing", "key_cut", "subscribe_key_only", "length_cut"],
)
async def test_truncated_frame_is_answered_with_the_request_id_it_carries(
    server: Server, frame: bytes
) -> None:
    """The request id arrived whole before the cut, so the error must carry it."""
    client = await server.client()
    await client.send_raw(frame)
    error = await _next_error(client)
    assert envelope_pb2.ErrorCode.Name(error.code) == "INVALID_MESSAGE"
    assert error.request_id == "r1"
