"""The machinery of the crash test: a server process, writers that record what was
acknowledged, and the checks run against the store after a restart.

A writer is a WebSocket client subscribed to every project it writes to. The
server queues a mutation's event on the sender's connection before its reply
(the event is published on commit, before the caller resumes), so by the time
a reply arrives the client has already seen the event and knows its ``seq``.
Each acknowledged reply is recorded as an :class:`Ack`: the entity, the version
the reply announced and that seq.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from google.protobuf.message import Message

from pm_auth.tokens import load_or_create_signing_key, mint_token
from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2, events_pb2
from tests import serve_process
from tests.pm_server.wsclient import WsClient

TENANT = "crash"
USERS = ("alice", "bob", "carol", "dave")
LANES_PER_WRITER = 3
#: Errors a writer may meet under load: nothing was written, try something else.
RETRYABLE = {"RATE_LIMITED", "UNAVAILABLE"}
CLOSED = (ConnectionError, TimeoutError, aiohttp.ClientError)


# -- the server process ----------------------------------------------------------


class ServerProcess(serve_process.ServerProcess):
    """The crash test's server: its tenant's database file and tokens for its users."""

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        super().__init__(data_dir, log_path)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "tenants" / TENANT / "main.db"

    def token(self, user: str) -> str:
        key = load_or_create_signing_key(self.data_dir)
        return mint_token(key, tenant_id=TENANT, user_id=user, name=user.title())


# -- a client that keeps the exact bytes of every event ---------------------------


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(field number, bytes) of every length-delimited field of one message."""
    pos = 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        wire = tag & 7
        if wire == 2:
            length, pos = _varint(data, pos)
            yield tag >> 3, data[pos : pos + length]
            pos += length
        elif wire == 0:
            _, pos = _varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unexpected wire type {wire}")


def raw_events(frame: bytes) -> list[bytes]:
    """The bytes of each Event in a ServerMessage frame, exactly as the server sent them."""
    found: list[bytes] = []
    for number, value in _fields(frame):
        if number == envelope_pb2.ServerMessage.EVENT_FIELD_NUMBER:
            found.append(value)
        elif number == envelope_pb2.ServerMessage.EVENTS_FIELD_NUMBER:
            found.extend(
                v for n, v in _fields(value) if n == envelope_pb2.EventBatch.EVENTS_FIELD_NUMBER
            )
    return found


class TapClient(WsClient):
    """A WsClient that also records every event's seq and wire bytes, in arrival order."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse):
        super().__init__(session, ws)
        self.stream: list[tuple[int, bytes]] = []

    @property
    def dead(self) -> bool:
        return self._reader is not None and self._reader.done()

    async def _read(self) -> None:
        async for frame in self.ws:
            if frame.type != aiohttp.WSMsgType.BINARY:
                continue
            message = envelope_pb2.ServerMessage.FromString(frame.data)
            self.frames.append(message)
            kind = message.WhichOneof("kind")
            if kind in ("reply", "error"):
                inner = message.reply if kind == "reply" else message.error
                self._resolve(inner.request_id, message)
            elif kind in ("event", "events"):
                for payload in raw_events(frame.data):
                    event = events_pb2.Event.FromString(payload)
                    self.stream.append((event.seq, payload))
                    self.events.put_nowait(event)
        self.close_code = self.ws.close_code
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError(f"closed with {self.close_code}"))


async def connect(server: ServerProcess, user: str) -> TapClient:
    client = await TapClient.connect(server.ws_url, server.token(user))
    assert isinstance(client, TapClient)
    return client


# -- what the writers did ----------------------------------------------------------


EntityKey = tuple[str, int]  # (entity id, version)


def event_key(event: events_pb2.Event) -> EntityKey:
    which = event.WhichOneof("entity")
    assert which is not None, event
    entity: Any = getattr(event, which)
    return event.entity_id, int(entity.version)


@dataclass(frozen=True, slots=True)
class Ack:
    """One acknowledged mutation, as its sender saw it."""

    cycle: int
    user: str
    request_id: str
    name: str
    command: Message
    reply: bytes
    table: str
    entity_id: str
    version: int
    #: The seq of its event, from the sender's own stream (None: not seen).
    seq: int | None


@dataclass(slots=True)
class World:
    """What exists for sure (acknowledged), shared by every cycle."""

    project_ids: list[str]
    epoch: str = ""
    items: list[str] = field(default_factory=list)
    comments: dict[str, list[str]] = field(default_factory=dict)
    acks: list[Ack] = field(default_factory=list)


class Writer:
    """One user's connection, writing from a few concurrent lanes until it dies."""

    def __init__(self, client: TapClient, user: str, cycle: int, world: World, seed: int):
        self.client = client
        self.user = user
        self.cycle = cycle
        self.world = world
        self.rng = random.Random(seed)
        self.acks: list[Ack] = []
        self.inflight = 0
        self.subscribed_at = 0
        self._seen: dict[EntityKey, int] = {}
        self._n = 0

    async def subscribe(self) -> None:
        reply = await self.client.request(
            "subscribe", commands_pb2.Subscribe(project_ids=self.world.project_ids)
        )
        self.subscribed_at = reply.subscribed.seq
        assert reply.subscribed.epoch == self.world.epoch, "the epoch changed over a restart"

    async def run(self) -> None:
        await asyncio.gather(*(self._lane() for _ in range(LANES_PER_WRITER)))

    async def _lane(self) -> None:
        while not self.client.dead:
            name, command, table = self._pick()
            request_id = uuid.uuid4().hex
            self.inflight += 1
            try:
                message = await self.client.call(name, command, request_id=request_id, timeout=10)
            except CLOSED:
                return
            finally:
                self.inflight -= 1
            if message.WhichOneof("kind") == "error":
                code = envelope_pb2.ErrorCode.Name(message.error.code)
                assert code in RETRYABLE, f"{name} failed: {message.error}"
                await asyncio.sleep(max(message.error.retry_after_ms, 10) / 1000)
                continue
            self._record(name, command, table, request_id, message.reply)

    def _pick(self) -> tuple[str, Message, str]:
        self._n += 1
        text = f"c{self.cycle} {self.user} n{self._n}"
        roll = self.rng.random()
        items, own = self.world.items, self.world.comments.get(self.user, [])
        if not items or roll < 0.3:
            return (
                "create_work_item",
                commands_pb2.CreateWorkItem(
                    project_id=self.rng.choice(self.world.project_ids),
                    type=entities_pb2.WORK_ITEM_TYPE_TASK,
                    title=text,
                ),
                "work_items",
            )
        if roll < 0.55:
            return (
                "update_work_item",
                commands_pb2.UpdateWorkItem(item_id=self.rng.choice(items), title=text),
                "work_items",
            )
        if roll < 0.85 or not own:
            return (
                "create_comment",
                commands_pb2.CreateComment(work_item_id=self.rng.choice(items), body=text),
                "comments",
            )
        return (
            "edit_comment",
            commands_pb2.EditComment(comment_id=self.rng.choice(own), body=text),
            "comments",
        )

    def _record(
        self, name: str, command: Message, table: str, request_id: str, reply: envelope_pb2.Reply
    ) -> None:
        entity: Any = reply.work_item.item if table == "work_items" else reply.comment.comment
        while not self.client.events.empty():
            event = self.client.events.get_nowait()
            if event.seq:
                self._seen[event_key(event)] = event.seq
        ack = Ack(
            cycle=self.cycle,
            user=self.user,
            request_id=request_id,
            name=name,
            command=command,
            reply=reply.SerializeToString(),
            table=table,
            entity_id=entity.id,
            version=entity.version,
            seq=self._seen.get((entity.id, entity.version)),
        )
        self.acks.append(ack)
        self.world.acks.append(ack)
        if name == "create_work_item":
            self.world.items.append(entity.id)
        elif name == "create_comment":
            self.world.comments.setdefault(self.user, []).append(entity.id)


# -- the store as it is after a restart ---------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredEvent:
    seq: int
    project_id: str
    payload: bytes
    key: EntityKey


@dataclass(frozen=True, slots=True)
class Store:
    versions: dict[tuple[str, str], int]  # (table, id) -> version
    events: list[StoredEvent]

    @property
    def by_key(self) -> dict[EntityKey, StoredEvent]:
        return {e.key: e for e in self.events}

    @property
    def head(self) -> int:
        return self.events[-1].seq if self.events else 0

    def after(self, seq: int) -> list[StoredEvent]:
        return [e for e in self.events if e.seq > seq]


def read_store(db_path: Path) -> Store:
    """Everything the checks need, read with plain sqlite3 (read-only)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        versions = {}
        for table in ("work_items", "comments"):
            for entity_id, version in conn.execute(f"SELECT id, version FROM {table}"):
                versions[table, entity_id] = version
        events = [
            StoredEvent(seq, project_id, payload, event_key(events_pb2.Event.FromString(payload)))
            for seq, project_id, payload in conn.execute(
                "SELECT seq, project_id, payload FROM events ORDER BY seq"
            )
        ]
    finally:
        conn.close()
    return Store(versions, events)


@dataclass(slots=True)
class Findings:
    """What one look at the store found; every list holds evidence, not just a count."""

    acks_checked: int = 0
    lost: list[str] = field(default_factory=list)
    gaps: list[int] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    wrong_seq: list[str] = field(default_factory=list)


def check_store(store: Store, acks: list[Ack], delivered: list[tuple[int, bytes]]) -> Findings:
    """Acknowledged writes present, log contiguous, delivered events stored as delivered."""
    found = Findings()
    by_key = store.by_key
    for ack in acks:
        found.acks_checked += 1
        stored = store.versions.get((ack.table, ack.entity_id))
        event = by_key.get((ack.entity_id, ack.version))
        if stored is None or stored < ack.version or event is None:
            found.lost.append(
                f"{ack.name} by {ack.user} in cycle {ack.cycle}: {ack.table} {ack.entity_id} "
                f"acked v{ack.version} seq {ack.seq}; stored v{stored}, "
                f"event {'missing' if event is None else event.seq}"
            )
        elif ack.seq is not None and event.seq != ack.seq:
            found.wrong_seq.append(f"{ack.entity_id} v{ack.version}: {ack.seq} -> {event.seq}")
    seqs = [e.seq for e in store.events]
    present = set(seqs)
    found.gaps = [n for n in range(1, store.head + 1) if n not in present]
    found.duplicates = [f"seq {s} x{n}" for s, n in Counter(seqs).items() if n > 1]
    found.duplicates += [
        f"{k} x{n}" for k, n in Counter(e.key for e in store.events).items() if n > 1
    ]
    for e in store.events:
        if events_pb2.Event.FromString(e.payload).seq != e.seq:
            found.duplicates.append(f"row {e.seq} carries the event of seq {e.payload!r:.40}")
    by_seq = {e.seq: e.payload for e in store.events}
    for seq, payload in delivered:
        if by_seq.get(seq) != payload:
            found.lost.append(f"delivered event seq {seq} is not stored as delivered")
    return found


def live_stream_faults(start: int, stream: list[tuple[int, bytes]]) -> list[str]:
    """A live stream of all projects must run start+1, start+2, ... with nothing skipped."""
    seqs = [seq for seq, _ in stream if seq]
    expected = list(range(start + 1, start + 1 + len(seqs)))
    return [] if seqs == expected else [f"live stream from {start}: {seqs[:5]}...{seqs[-5:]}"]
