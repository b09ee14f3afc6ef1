"""kill -9 during concurrent writes, restart, and nothing acknowledged is lost.

Each cycle: four users write from their own connections (work items and
comments in two projects, a few requests in flight each), the server process
gets SIGKILL after a random delay, and a new process starts on the same data
directory. Then, against the restarted server and the database file:

1. every mutation ever acknowledged is stored with at least the acknowledged
   version, and its event is in the log at the seq its sender saw;
2. the event log runs 1..max with no gap and no duplicate, and every event a
   client received before the crash is stored with the same bytes;
3. a subscription resumed from acknowledged seqs replays exactly the stored
   events after it (seq and bytes), without ``must_refetch``;
4. re-sending an acknowledged request id returns the first reply byte for byte
   and writes nothing.

``PM_CRASH_CYCLES`` sets the number of cycles (20 here; ``make crash`` runs 50);
``PM_CRASH_SEED`` replays a run (the seed is printed).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pm_proto.v1 import commands_pb2, entities_pb2
from tests.pm_server.crash_support import (
    USERS,
    Ack,
    Findings,
    ServerProcess,
    Store,
    TapClient,
    World,
    Writer,
    check_store,
    connect,
    live_stream_faults,
    read_store,
)

CYCLES = int(os.environ.get("PM_CRASH_CYCLES", "20"))
SEED = int(os.environ.get("PM_CRASH_SEED", str(random.randrange(1 << 32))))
#: The longest a write burst runs before the kill (the shortest is a few ms).
MAX_BURST_SECONDS = 1.0


@dataclass(slots=True)
class Totals:
    cycles: int = 0
    acks: int = 0
    acks_checked: int = 0
    lost: list[str] = field(default_factory=list)
    gaps: list[int] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    resumes: int = 0
    resent: int = 0
    inflight_at_kill: int = 0
    seq_unseen: int = 0

    def add(self, found: Findings, cycle: int) -> None:
        self.acks_checked += found.acks_checked
        self.lost += [f"after crash {cycle}: {line}" for line in found.lost]
        self.gaps += found.gaps
        self.duplicates += found.duplicates
        self.faults += found.wrong_seq

    def assert_clean(self) -> None:
        assert self.lost == [], "acknowledged writes lost:\n" + "\n".join(self.lost[:50])
        assert self.gaps == [], f"gaps in the event log: {self.gaps[:50]}"
        assert self.duplicates == [], f"duplicates in the event log: {self.duplicates[:50]}"
        assert self.faults == [], "\n".join(self.faults[:50])

    def line(self) -> str:
        return (
            f"crash: seed={SEED} cycles={self.cycles} acknowledged={self.acks} "
            f"acknowledged_checked={self.acks_checked} lost={len(self.lost)} "
            f"gaps={len(self.gaps)} duplicates={len(self.duplicates)} "
            f"resumes_checked={self.resumes} idempotent_resends={self.resent} "
            f"in_flight_at_kill={self.inflight_at_kill} seq_not_seen_before_reply="
            f"{self.seq_unseen} other_faults={len(self.faults)}"
        )


async def set_up(server: ServerProcess) -> World:
    """Two projects owned by alice; everyone else an editor of both."""
    for user in USERS[1:]:  # a user exists once it has connected
        await (await connect(server, user)).close()
    alice = await connect(server, "alice")
    try:
        ids = []
        for key in ("CRASHA", "CRASHB"):
            reply = await alice.request(
                "create_project", commands_pb2.CreateProject(key=key, name=key)
            )
            ids.append(reply.project.project.id)
            for user in USERS[1:]:
                await alice.request(
                    "add_member",
                    commands_pb2.AddMember(
                        project_id=ids[-1], user_id=user, role=entities_pb2.ROLE_EDITOR
                    ),
                )
        subscribed = await alice.request("subscribe", commands_pb2.Subscribe(project_ids=ids))
    finally:
        await alice.close()
    return World(project_ids=ids, epoch=subscribed.subscribed.epoch)


async def burst_then_kill(
    server: ServerProcess, world: World, cycle: int, rng: random.Random, totals: Totals
) -> list[Writer]:
    """Write from every user until SIGKILL lands at a random moment."""
    writers = []
    for user in USERS:
        writer = Writer(await connect(server, user), user, cycle, world, rng.randrange(1 << 32))
        await writer.subscribe()
        writers.append(writer)
    runs = [asyncio.ensure_future(w.run()) for w in writers]
    await asyncio.sleep(rng.uniform(0.005, MAX_BURST_SECONDS))
    totals.inflight_at_kill += sum(w.inflight for w in writers)
    await server.kill()
    await asyncio.wait_for(asyncio.gather(*runs), timeout=30)
    for writer in writers:
        await writer.client.close()
    return writers


async def resend_acknowledged(
    server: ServerProcess, acks: list[Ack], before: Store, totals: Totals
) -> None:
    """Each resent request id gets its first reply back, and the store does not move."""
    clients: dict[str, TapClient] = {}
    try:
        for ack in acks:
            if ack.user not in clients:
                clients[ack.user] = await connect(server, ack.user)
            message = await clients[ack.user].call(ack.name, ack.command, request_id=ack.request_id)
            assert message.WhichOneof("kind") == "reply", f"resent {ack.name}: {message}"
            assert message.reply.SerializeToString() == ack.reply, f"resent {ack.name}"
            totals.resent += 1
    finally:
        for client in clients.values():
            await client.close()
    after = read_store(server.db_path)
    assert after == before, "re-sending acknowledged requests wrote something"


async def resume_from(
    server: ServerProcess, world: World, store: Store, points: list[int], totals: Totals
) -> None:
    """Subscriptions resumed at each point replay exactly the stored events after it."""
    clients: list[TapClient] = []
    try:
        for n, seq in enumerate(points):
            client = await connect(server, USERS[n % len(USERS)])
            clients.append(client)
            resume = commands_pb2.ResumePosition(epoch=world.epoch, seq=seq)
            reply = await client.request(
                "subscribe", commands_pb2.Subscribe(project_ids=world.project_ids, resume=resume)
            )
            assert not reply.subscribed.must_refetch, f"resume from {seq} must not refetch"
            assert (reply.subscribed.epoch, reply.subscribed.seq) == (world.epoch, seq)
        expected = [[(e.seq, e.payload) for e in store.after(seq)] for seq in points]
        with contextlib.suppress(TimeoutError):  # the comparison below says what is missing
            async with asyncio.timeout(10):
                while any(len(c.stream) < len(e) for c, e in zip(clients, expected, strict=True)):
                    await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # anything beyond the stored events would show up now
        for seq, client, events in zip(points, clients, expected, strict=True):
            assert client.stream == events, (
                f"resume from {seq}: got seqs {[s for s, _ in client.stream][:20]}, "
                f"stored {[s for s, _ in events][:20]}"
            )
            totals.resumes += 1
    finally:
        for client in clients:
            await client.close()


async def verify_after_restart(
    server: ServerProcess,
    world: World,
    writers: list[Writer],
    cycle: int,
    rng: random.Random,
    totals: Totals,
) -> None:
    # The restarted server opens (and recovers) the database before we read it.
    probe = await connect(server, "alice")
    await probe.request("list_projects", commands_pb2.ListProjects())
    await probe.close()

    acks = [a for w in writers for a in w.acks]
    totals.acks += len(acks)
    totals.seq_unseen += sum(a.seq is None for a in acks)
    store = read_store(server.db_path)
    delivered = [event for w in writers for event in w.client.stream]
    totals.add(check_store(store, world.acks, delivered), cycle)
    for writer in writers:
        totals.faults += live_stream_faults(writer.subscribed_at, writer.client.stream)
    totals.assert_clean()  # stop at the first crash that lost something, with the evidence

    acked_seqs = sorted({a.seq for a in acks if a.seq is not None})
    points = {min(w.subscribed_at for w in writers)}  # replays the whole burst
    points |= {w.client.stream[-1][0] for w in writers if w.client.stream}  # last seen
    points |= {a.seq for w in writers for a in w.acks[-1:] if a.seq is not None}  # last acked
    points |= set(rng.sample(acked_seqs, min(2, len(acked_seqs))))

    last_acks = [w.acks[-1] for w in writers if w.acks]
    earlier = world.acks[: len(world.acks) - len(acks)]
    resend = last_acks + rng.sample(earlier, min(2, len(earlier)))
    await resend_acknowledged(server, resend, store, totals)
    await resume_from(server, world, store, sorted(points), totals)


@pytest.mark.slow
@pytest.mark.timeout(120 + 30 * CYCLES)
async def test_kill_9_during_writes_loses_no_acknowledged_mutation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(SEED)
    server = ServerProcess(tmp_path / "data", tmp_path / "server.log")
    totals = Totals()
    try:
        await server.start()
        world = await set_up(server)
        for cycle in range(1, CYCLES + 1):
            writers = await burst_then_kill(server, world, cycle, rng, totals)
            await server.start()
            await verify_after_restart(server, world, writers, cycle, rng, totals)
            totals.cycles += 1
        assert await server.stop() == 0
        # The store as the stopped server left it, read with nothing but sqlite3.
        totals.add(check_store(read_store(server.db_path), world.acks, []), totals.cycles)
        conn = sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            conn.close()
    finally:
        await server.stop()
        with capsys.disabled():
            print(f"\n{totals.line()}")

    assert totals.cycles == CYCLES
    assert totals.acks > 10 * CYCLES, "the bursts acknowledged too little to prove anything"
    totals.assert_clean()
    assert totals.resumes >= CYCLES
