"""Driving the fuzz run: batches of frames, hostile connections that count every answer.

A :class:`HostileConnection` pipelines frames without waiting for answers and
matches each answer to its frame by request id. It records what a user of the
server would notice: a frame that got no answer, an answer with no code, an
INTERNAL error (an unexpected exception in the server), a hostile write that
succeeded, an event of a project the user may not read, a close other than
1009 after an oversized frame.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

import aiohttp
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from pm_proto.v1 import envelope_pb2
from tests.pm_server.fuzz_frames import Built, Frame, Targets, hostile_frame
from tests.pm_server.fuzz_poisons import poison_frame

CLOSE_TOO_BIG: Final = 1009

# -- batches ------------------------------------------------------------------------------

LEGIT_TEXT: Final = st.text(
    alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "S"]), min_size=1, max_size=40
)


@dataclass(frozen=True)
class LegitOp:
    op: str  # create, retitle, comment, delete, list, check_board, presence
    pick: int  # which existing item (modulo how many there are)
    text: str


LEGIT_OPS: Final = st.builds(
    LegitOp,
    op=st.sampled_from(
        [
            "create",
            "create",
            "retitle",
            "retitle",
            "comment",
            "delete",
            "list",
            "check_board",
            "presence",
        ]
    ),
    pick=st.integers(0, 10**6),
    text=LEGIT_TEXT,
)


@dataclass(frozen=True)
class Batch:
    frames: tuple[Frame, ...]
    legit: tuple[LegitOp, ...]


def batch_strategy(t: Targets, size: int, max_frame_bytes: int) -> st.SearchStrategy[Batch]:
    pool = t.id_pool()
    by_sender = {
        "trudy": poison_frame(t),
        "mallory": hostile_frame("mallory", pool, max_frame_bytes),
        "eve": hostile_frame("eve", pool, max_frame_bytes),
    }
    frame = st.sampled_from(sorted(by_sender)).flatmap(by_sender.__getitem__)
    return st.builds(
        Batch,
        frames=st.lists(frame, min_size=size, max_size=size).map(tuple),
        legit=st.lists(LEGIT_OPS, min_size=1, max_size=3).map(tuple),
    )


def generate_batches(
    t: Targets, count: int, size: int, max_frame_bytes: int, run_seed: int
) -> list[Batch]:
    """``count`` batches drawn by hypothesis (one example per batch; generation only)."""
    batches: list[Batch] = []
    strategy = batch_strategy(t, size, max_frame_bytes)
    attempt = 0
    while len(batches) < count:

        @seed(run_seed + attempt)
        @settings(
            max_examples=count - len(batches),
            database=None,
            phases=[Phase.generate],
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def collect(batch: Batch) -> None:
            batches.append(batch)

        collect()
        attempt += 1
    return batches[:count]


# -- counting -------------------------------------------------------------------------------


@dataclass
class FuzzStats:
    frames_sent: Counter[str] = field(default_factory=Counter)  # by kind
    frames_by_sender: Counter[str] = field(default_factory=Counter)
    replies: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # by code
    unmatched_answers: int = 0  # answers to frames whose id could not be told in advance
    reconnects_after_1009: int = 0
    #: Connections that ended other than with 1009 after an oversized frame.
    unexpected_closes: int = 0
    #: (frame kind, answer code) of every frame whose answer was matched to it.
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)

    @property
    def total_sent(self) -> int:
        return sum(self.frames_sent.values())

    @property
    def crashes(self) -> int:
        """Unexpected exceptions in the server (INTERNAL) and connections it dropped."""
        return self.errors["INTERNAL"] + self.unexpected_closes

    def violation(self, text: str) -> None:
        if len(self.violations) < 200:
            self.violations.append(text)

    def summary(self) -> str:
        kinds = Counter({k.split(":")[0]: 0 for k in self.frames_sent})
        for kind, n in self.frames_sent.items():
            kinds[kind.split(":")[0]] += n
        return (
            f"frames sent: {self.total_sent} ({dict(self.frames_by_sender)}); "
            f"by kind: {dict(kinds.most_common())}; replies: {self.replies}; "
            f"errors: {dict(self.errors.most_common())}; "
            f"answers matched by count only: {self.unmatched_answers}; "
            f"reconnects after 1009: {self.reconnects_after_1009}; "
            f"crashes: {self.crashes}; violations: {len(self.violations)}"
        )


def _describe(frame: Frame, built: Built) -> str:
    data = built.data
    shown = data[:160] if isinstance(data, bytes) else data[:80].encode()
    what = f"{frame.kind} {built.command}".strip()
    return f"{frame.sender} {what} ({len(data)} bytes) {shown.hex()}"


class HostileConnection:
    """One hostile user's connection: pipelined frames, every answer accounted for."""

    def __init__(
        self,
        ws_url: str,
        token: str,
        name: str,
        stats: FuzzStats,
        readable_projects: frozenset[str],
        max_frame_bytes: int,
    ) -> None:
        self.ws_url = ws_url
        self.token = token
        self.name = name
        self.stats = stats
        self.readable = readable_projects
        self.max_frame_bytes = max_frame_bytes
        self._ids: Iterator[int] = iter(range(10**12))
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._expected: dict[str, deque[tuple[Frame, Built]]] = {}
        self._outstanding = 0
        self._settled = asyncio.Event()
        self._settled.set()
        self._pongs: dict[str, asyncio.Future[envelope_pb2.ServerMessage]] = {}

    async def open(self) -> None:
        self._session = aiohttp.ClientSession()
        self._ws = await self._session.ws_connect(
            self.ws_url, headers={"Authorization": f"Bearer {self.token}"}, max_msg_size=0
        )
        welcome = envelope_pb2.ServerMessage.FromString(await self._ws.receive_bytes(timeout=10))
        assert welcome.WhichOneof("kind") == "welcome", welcome
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await asyncio.wait({self._reader}, timeout=5)
        if self._session is not None:
            await self._session.close()

    async def _reopen(self) -> None:
        await self.close()
        await self.open()

    # -- reading ---------------------------------------------------------------------------

    async def _read(self) -> None:
        assert self._ws is not None
        async for message in self._ws:
            if message.type != aiohttp.WSMsgType.BINARY:
                self.stats.violation(f"{self.name}: a non-binary frame from the server: {message}")
                continue
            try:
                decoded = envelope_pb2.ServerMessage.FromString(message.data)
            except Exception as exc:  # the server must only send what clients can decode
                self.stats.violation(f"{self.name}: undecodable server frame: {exc!r}")
                continue
            kind = decoded.WhichOneof("kind")
            if kind == "reply":
                self._answered(decoded.reply.request_id, decoded)
            elif kind == "error":
                self._answered(decoded.error.request_id, decoded)
            elif kind == "event":
                self._event(decoded.event.project_id)
            elif kind == "events":
                for event in decoded.events.events:
                    self._event(event.project_id)

    def _event(self, project_id: str) -> None:
        if project_id not in self.readable:
            self.stats.violation(f"{self.name}: received an event of project {project_id}")

    def _answered(self, request_id: str, message: envelope_pb2.ServerMessage) -> None:
        pong = self._pongs.pop(request_id, None)
        if pong is not None:
            pong.set_result(message)
            return
        is_error = message.WhichOneof("kind") == "error"
        if is_error:
            code = envelope_pb2.ErrorCode.Name(message.error.code)
            self.stats.errors[code] += 1
        else:
            self.stats.replies += 1
            if message.reply.WhichOneof("result") is None:
                self.stats.violation(f"{self.name}: a reply without a result: {message}")
        waiting = self._expected.get(request_id)
        if waiting:
            frame, built = waiting.popleft()
            code = envelope_pb2.ErrorCode.Name(message.error.code) if is_error else "reply"
            self.stats.outcomes[frame.kind, code] += 1
            if not waiting:
                del self._expected[request_id]
            if is_error and message.error.code in (
                envelope_pb2.INTERNAL,
                envelope_pb2.ERROR_CODE_UNSPECIFIED,
            ):
                self.stats.violation(f"{self.name}: {message.error} for {_describe(frame, built)}")
            if not is_error and built.must_fail:
                self.stats.violation(
                    f"{self.name}: hostile {built.command} succeeded: {_describe(frame, built)}"
                    f" -> {message.reply}"
                )
        else:
            self.stats.unmatched_answers += 1
            if is_error and message.error.code == envelope_pb2.INTERNAL:
                self.stats.violation(f"{self.name}: INTERNAL for a random frame: {message.error}")
        self._outstanding -= 1
        if self._outstanding <= 0:
            self._settled.set()

    # -- sending ---------------------------------------------------------------------------

    def _next_id(self) -> str:
        return f"{self.name}-{next(self._ids)}"

    async def send(self, frame: Frame) -> None:
        built = frame.build(self._next_id())
        data = built.data
        size = len(data.encode() if isinstance(data, str) else data)
        kind = f"{frame.kind}:{built.command}" if frame.kind == "generated" else frame.kind
        self.stats.frames_sent[kind] += 1
        self.stats.frames_by_sender[self.name] += 1
        if size > self.max_frame_bytes:
            await self._send_oversized(frame, built)
            return
        if self._reader is None or self._reader.done():
            self.stats.unexpected_closes += 1
            self.stats.violation(f"{self.name}: connection closed ({self._close_code()})")
            await self._reopen()
        assert self._ws is not None
        if built.request_id is not None:
            self._expected.setdefault(built.request_id, deque()).append((frame, built))
        self._outstanding += 1
        self._settled.clear()
        if isinstance(data, str):
            await self._ws.send_str(data)
        else:
            await self._ws.send_bytes(data)

    def _close_code(self) -> int | None:
        return None if self._ws is None else self._ws.close_code

    async def _send_oversized(self, frame: Frame, built: Built) -> None:
        """Everything before it answered first; then the frame, the 1009 close, a new connection."""
        await self.settle()
        data = built.data
        assert self._ws is not None
        assert self._reader is not None
        with contextlib.suppress(ConnectionError, aiohttp.ClientError):
            if isinstance(data, str):
                await self._ws.send_str(data)
            else:
                await self._ws.send_bytes(data)
        done, _ = await asyncio.wait({self._reader}, timeout=10)
        if not done:
            self.stats.violation(f"{self.name}: no close after {_describe(frame, built)}")
        elif self._close_code() != CLOSE_TOO_BIG:
            self.stats.unexpected_closes += 1
            self.stats.violation(
                f"{self.name}: closed with {self._close_code()} after {_describe(frame, built)}"
            )
        self.stats.reconnects_after_1009 += 1
        await self._reopen()

    async def settle(self, timeout: float = 30) -> None:
        """Wait until every frame sent so far got its answer; record the ones that did not."""
        try:
            await asyncio.wait_for(self._settled.wait(), timeout)
        except TimeoutError:
            lost = [
                _describe(frame, built)
                for waiting in self._expected.values()
                for frame, built in waiting
            ]
            self.stats.violation(
                f"{self.name}: {self._outstanding} frames unanswered after {timeout}s: {lost[:5]}"
            )
            self._expected.clear()
            self._outstanding = 0
            self._settled.set()
            return
        if self._expected:
            lost = [
                _describe(frame, built)
                for waiting in self._expected.values()
                for frame, built in waiting
            ]
            self.stats.violation(f"{self.name}: answers with the wrong request id for {lost[:5]}")
            self._expected.clear()

    async def ping(self, nonce: int) -> None:
        """A ping of this connection must still be answered."""
        request_id = f"{self.name}-ping-{nonce}"
        future = asyncio.get_running_loop().create_future()
        self._pongs[request_id] = future
        message = envelope_pb2.ClientMessage(request_id=request_id)
        message.ping.nonce = nonce
        assert self._ws is not None
        await self._ws.send_bytes(message.SerializeToString())
        try:
            answer = await asyncio.wait_for(future, 10)
        except TimeoutError:
            self.stats.violation(f"{self.name}: ping {nonce} unanswered")
            return
        if answer.WhichOneof("kind") != "reply" or answer.reply.pong.nonce != nonce:
            self.stats.violation(f"{self.name}: ping {nonce} answered {answer}")
