"""Hostile frames for a seeded server: hypothesis strategies and the values they use.

Three hostile users send frames during the fuzz run:

- ``trudy``, an editor of project P: only *poisoned* commands, each broken in
  exactly one way the server must refuse (see :mod:`tests.pm_server.fuzz_poisons`).
  Being an editor she could write; none of these may.
- ``mallory``, a viewer of P (no member of Q or L), and ``eve``, a user of the
  other tenant: random bytes, text frames, truncated envelopes, oversized
  frames, odd request ids, unknown command numbers, and envelopes whose
  command is built from the schema with hostile values (ids of every project
  and tenant, huge strings, extreme numbers, unknown enum values,
  out-of-range timestamps). Mallory may read P but write nothing anywhere;
  eve can write nothing in this tenant and has nothing of her own.

Each :class:`Frame` builds its bytes around a unique request id chosen when
it is sent, and says which request id the answer must carry and whether a
success would mean a hostile write was accepted.
"""

from __future__ import annotations

import functools
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import strategies as st

from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2
from tests.pm_server import fuzz_wire as wire
from tests.pm_server.isolation_seed import BoardIds

P = commands_pb2
E = entities_pb2

COMMANDS: Final = {
    f.name: f for f in envelope_pb2.ClientMessage.DESCRIPTOR.oneofs_by_name["command"].fields
}
COMMAND_NUMBERS: Final = {f.number for f in COMMANDS.values()}
#: Writes that any user may make to their own rows (watching an item they can read,
#: marking their own notifications read): a hostile user's random one can succeed and
#: change data, so they are drawn only by trudy's poisons (``_inbox``), which must fail.
_OWN_WRITES: Final = frozenset({"watch_work_item", "unwatch_work_item", "mark_notifications_read"})
_COMMAND_NAMES: Final = sorted(set(COMMANDS) - _OWN_WRITES)
_MUTATION_PREFIXES: Final = (
    "create_",
    "update_",
    "delete_",
    "archive_",
    "add_",
    "change_",
    "remove_",
    "transition_",
    "edit_",
    "start_",
    "stop_",
    "invite_",
    "revoke_",
)
#: Commands that write. From a hostile user, every one of them must fail.
MUTATIONS: Final = frozenset(name for name in COMMANDS if name.startswith(_MUTATION_PREFIXES))
PROJECT_KEY: Final = re.compile(r"[A-Z][A-Z0-9]{1,9}")

INT32: Final = (-(2**31), 2**31 - 1)
INT64: Final = (-(2**63), 2**63 - 1)
#: An id no row has ever had.
GHOST_ID: Final = "01990000-0000-7000-8000-00000000dead"
#: Timestamp seconds pm accepts (years 1-9999).
MIN_SECONDS: Final = -62_135_596_800
MAX_SECONDS: Final = 253_402_300_799


class Pool(tuple[str, ...]):
    """Ids to draw from (with a short repr: hypothesis prints strategies' arguments)."""

    def pick(self, index: int) -> str:
        return self[index]

    def strategy(self) -> st.SearchStrategy[str]:
        return st.integers(0, len(self) - 1).map(self.pick)

    def __repr__(self) -> str:
        return f"Pool({len(self)} ids)"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis' pretty printer
        printer.text(repr(self))


@dataclass(frozen=True, repr=False)
class Targets:
    """What the hostile users aim at."""

    p: BoardIds  # trudy edits it, mallory views it
    q: BoardIds  # another project of the tenant: no hostile user is a member
    g: BoardIds  # a project of the other tenant
    legit_project_id: str  # L: the legitimate client works here during the run
    chain: tuple[str, ...]  # items of P, chain[i] blocks chain[i + 1]
    active_sprint_id: str  # of P
    completed_sprint_id: str  # of P
    global_context_id: str  # a tenant-wide llm_context row
    users: tuple[str, ...]  # user ids of both tenants

    def id_pool(self) -> Pool:
        """Every id and key the hostile users know of, of every project and tenant."""
        ids = [self.legit_project_id, self.active_sprint_id, self.completed_sprint_id]
        for board in (self.p, self.q, self.g):
            ids += board.row_ids()
            ids += [board.key, board.story_display_key, board.key.lower()]
        return Pool([*ids, *self.chain, self.global_context_id, *self.users])

    def __repr__(self) -> str:
        return f"Targets(p={self.p.key}, q={self.q.key}, g={self.g.key})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis' pretty printer
        printer.text(repr(self))


@dataclass(frozen=True)
class Frame:
    sender: str
    kind: str
    #: Given a unique request id: the frame and what its answer must be.
    build: Callable[[str], Built]


# -- values ----------------------------------------------------------------------------

_HOSTILE_TEXT: Final = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\u202e",
    "\ufeff",
    "%s%n%x",
    "'; DROP TABLE projects; --",
    "../../../etc/passwd",
    "SECA-0",
    "X-99999999999999999999",
    "a" * 65,
    "😀" * 3,
    "null",
    "NaN",
)
_FLOATS: Final = (float("nan"), float("inf"), float("-inf"), 0.0, -0.0, 1e308, -5e-324, 1.5)


def huge_text(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    """One character repeated: a huge string for two draws, not one per character."""
    return st.builds(
        lambda ch, n: ch * n,
        st.sampled_from(["a", "é", "\n", " ", "\x01", "😀", "Z"]),
        st.integers(min_size, max_size),
    )


def ascii_huge(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    """A huge string of one-byte characters (so it still fits in a frame)."""
    return st.builds(
        lambda ch, n: ch * n,
        st.sampled_from(["a", "\n", " ", "Z"]),
        st.integers(min_size, max_size),
    )


def int_range(lo: int, hi: int) -> st.SearchStrategy[int]:
    edges = sorted(e for e in {lo, hi, 0, -1, 1, 2, 101, 1001, 10_001} if lo <= e <= hi)
    return st.one_of(st.sampled_from(edges), st.integers(lo, hi))


class Values:
    """Hostile field values from one seeded ``Random`` (drawn by hypothesis).

    Drawing every field of a generated command through hypothesis costs
    40-100 µs a draw here, far too slow for tens of thousands of frames; so
    hypothesis picks the command and the seed, and this fills in the fields.
    """

    def __init__(self, rnd: random.Random, pool: Pool) -> None:
        self.rnd = rnd
        self.pool = pool

    def _int(self, lo: int, hi: int) -> int:
        r = self.rnd
        if r.random() < 0.5:
            return r.choice([e for e in (lo, hi, 0, -1, 1, 2, 101, 1001) if lo <= e <= hi])
        return r.randint(lo, hi)

    def string(self) -> str:
        r = self.rnd
        roll = r.random()
        if roll < 0.4:
            return r.choice(self.pool)
        if roll < 0.55:
            return r.choice(_HOSTILE_TEXT)
        if roll < 0.7:
            return "".join(
                chr(r.choice((r.randint(32, 126), r.randint(0xA0, 0xD7FF))))
                for _ in range(r.randint(1, 24))
            )
        if roll < 0.75:
            return r.choice("aé\n \x01😀Z") * min(int(r.paretovariate(1.0) * 50), 12_000)
        if roll < 0.85:
            return str(uuid.UUID(int=r.getrandbits(128)))
        return ""

    def scalar(self, f: FieldDescriptor) -> Any:
        r = self.rnd
        t = f.type
        if t == FieldDescriptor.TYPE_STRING:
            return self.string()
        if t == FieldDescriptor.TYPE_BYTES:
            return r.randbytes(r.randint(0, 32))
        if t == FieldDescriptor.TYPE_BOOL:
            return r.random() < 0.5
        if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            return r.choice(_FLOATS) if r.random() < 0.6 else r.uniform(-1e9, 1e9)
        if t == FieldDescriptor.TYPE_ENUM:
            if r.random() < 0.6 and f.enum_type is not None:
                return r.choice([v.number for v in f.enum_type.values])
            return self._int(*INT32)
        if t in (
            FieldDescriptor.TYPE_INT32,
            FieldDescriptor.TYPE_SINT32,
            FieldDescriptor.TYPE_SFIXED32,
        ):
            return self._int(*INT32)
        if t in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
            return self._int(0, 2**32 - 1)
        if t in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
            return self._int(0, 2**64 - 1)
        return self._int(*INT64)

    def timestamp(self) -> Timestamp:
        r = self.rnd
        seconds = r.choice((MIN_SECONDS - 1, MAX_SECONDS + 1, 0, 1_700_000_000, self._int(*INT64)))
        nanos = r.choice((0, -1, 10**9, 999_999_999, self._int(*INT32)))
        return Timestamp(seconds=seconds, nanos=nanos)

    def message(self, descriptor: Descriptor, depth: int = 0) -> Message:
        """A message of ``descriptor`` with each field absent or set to a hostile value."""
        r = self.rnd
        msg = message_factory.GetMessageClass(descriptor)()
        for f in descriptor.fields:
            if r.random() < 0.45:
                continue
            count = (
                (r.choice((0, 1, 2, 4, 1_001)) if r.random() < 0.9 else 1) if f.is_repeated else 1
            )
            if f.message_type is not None:
                if f.message_type.full_name == "google.protobuf.Timestamp":
                    values: list[Any] = [self.timestamp() for _ in range(count)]
                elif depth < 3:
                    values = [self.message(f.message_type, depth + 1) for _ in range(count)]
                else:
                    continue
                if f.is_repeated:
                    for value in values:
                        getattr(msg, f.name).add().CopyFrom(value)
                else:
                    getattr(msg, f.name).CopyFrom(values[0])
                continue
            values = [self.scalar(f) for _ in range(count)]
            if f.is_repeated:
                getattr(msg, f.name).extend(values)
            else:
                setattr(msg, f.name, values[0])
        return msg


# -- envelopes ---------------------------------------------------------------------------
#
# A frame's request id is chosen when it is sent (unique per run), not when it is
# drawn: drawing must not depend on state outside hypothesis. So a frame carries a
# builder: the unique id in, the bytes and what the answer must be out.
#
# Hypothesis repeats and splices the choices of earlier examples while it
# generates, so a drawn seed recurs often; the schema-generated commands are
# therefore expanded when the frame is built, from the drawn seed *and* the
# frame's unique request id: every frame differs, and a run is still
# reproduced by its hypothesis seed.


class Built(NamedTuple):
    data: bytes | str  # str: a text frame
    #: The request id the answer must carry; None when it cannot be told in advance.
    request_id: str | None
    #: A success would be a hostile write accepted (or a broken envelope let through).
    must_fail: bool
    command: str = ""


def _envelope(name: str, command: Message | bytes, request_id: str) -> bytes:
    payload = command if isinstance(command, bytes) else command.SerializeToString()
    return wire.envelope(request_id.encode(), COMMANDS[name].number, payload)


def _make_key_invalid(command: Message) -> None:
    """No hostile create_project may name a valid key (it would create a project)."""
    if isinstance(command, P.CreateProject) and PROJECT_KEY.fullmatch(command.key):
        command.key = "1" + command.key


def generated_command(pool: Pool, seed: int, salt: str) -> tuple[str, Message]:
    """A command of any kind, built from the schema with hostile values."""
    rnd = random.Random(f"{seed}:{salt}")
    name = rnd.choice(_COMMAND_NAMES)
    descriptor = COMMANDS[name].message_type
    assert descriptor is not None
    command = Values(rnd, pool).message(descriptor)
    _make_key_invalid(command)
    return name, command


SEEDS: Final = st.integers(0, 2**32 - 1)


def plain(name: str, command: Message | bytes, suffix: bytes, request_id: str) -> Built:
    """An envelope of a fixed command: a poison (trudy) or an oversized frame."""
    return Built(_envelope(name, command, request_id) + suffix, request_id, True, name)


def _generated(pool: Pool, seed: int, suffix: bytes, request_id: str) -> Built:
    name, command = generated_command(pool, seed, request_id)
    data = _envelope(name, command, request_id) + suffix
    return Built(data, request_id, name in MUTATIONS, name)


@st.composite
def generated_envelope(draw: st.DrawFn, sender: str, pool: Pool) -> Frame:
    extra = draw(st.sampled_from(["none"] * 6 + ["unknown_top_field", "protocol_version"]))
    kind = "generated"
    suffix = b""
    if extra == "unknown_top_field":  # a field a newer client might add: ignored
        suffix = wire.len_field(draw(st.integers(3, 9)), b"new")
    elif extra == "protocol_version":
        version = draw(st.one_of(st.sampled_from([0, 1, 2]), int_range(0, 2**32 - 1)))
        suffix = wire.varint_field(wire.PROTOCOL_VERSION_FIELD, version)
        kind = "protocol_version"
    return Frame(sender, kind, functools.partial(_generated, pool, draw(SEEDS), suffix))


def _truncated(whole: Callable[[str], Built], per_million: int, request_id: str) -> Built:
    built = whole(request_id)
    data = built.data
    assert isinstance(data, bytes)
    cut = len(data) * per_million // 1_000_000
    part = data[:cut]
    try:
        parsed = envelope_pb2.ClientMessage.FromString(part)
    except DecodeError:
        # Undecodable: the id is still read when its field arrived whole.
        expected = request_id if cut >= wire.request_id_end(data) else ""
        return Built(part, expected, built.must_fail, built.command)
    return Built(part, parsed.request_id, built.must_fail, built.command)


@st.composite
def truncated_envelope(draw: st.DrawFn, sender: str, pool: Pool) -> Frame:
    """A generated envelope cut short anywhere."""
    whole = draw(generated_envelope(sender, pool))
    per_million = draw(st.integers(0, 999_999))
    return Frame(sender, "truncated", functools.partial(_truncated, whole.build, per_million))


def _fixed(data: bytes | str, expected: str | None, must_fail: bool, request_id: str) -> Built:
    return Built(data, expected, must_fail)


@st.composite
def random_bytes(draw: st.DrawFn, sender: str) -> Frame:
    data = draw(st.binary(max_size=300))
    # Random bytes may decode into anything, with any id: the answer is counted, not matched.
    return Frame(sender, "random_bytes", functools.partial(_fixed, data, None, False))


@st.composite
def text_frame(draw: st.DrawFn, sender: str) -> Frame:
    data = draw(st.one_of(st.text(max_size=12), st.just('{"ping": {}}')))
    return Frame(sender, "text", functools.partial(_fixed, data, "", True))


@st.composite
def oversized_frame(draw: st.DrawFn, sender: str, max_frame_bytes: int) -> Frame:
    """A frame past the limit (an envelope with a huge comment): the server closes 1009."""
    size = draw(st.integers(max_frame_bytes + 1, max_frame_bytes * 4))
    command = wire.len_field(2, b"x" * size)
    return Frame(sender, "oversized", functools.partial(plain, "create_comment", command, b""))


def _odd_id(pool: Pool, seed: int, choice: str, size: int, request_id: str) -> Built:
    name, command = generated_command(pool, seed, request_id)
    # Without a valid id (none, or beyond 128 characters) nothing runs, whatever the command.
    must_fail = name in MUTATIONS or choice in ("empty", "huge", "invalid_utf8")
    if choice == "empty":
        return Built(_envelope(name, command, ""), "", must_fail, name)
    if choice == "huge":  # beyond 128 characters: refused, echoed cut to 128
        huge = (request_id + "-") * (size // (len(request_id) + 1) + 1)
        return Built(_envelope(name, command, huge), huge[:128], must_fail, name)
    if choice == "invalid_utf8":  # an id that is not UTF-8 cannot be echoed
        raw = b"\xff\xfe" + request_id.encode()
        data = wire.envelope(raw, COMMANDS[name].number, command.SerializeToString())
        return Built(data, "", must_fail, name)
    prefix = {"nul": "\x00", "space": " ", "emoji": "😀" * 40, "bidi": "\u202eabc"}[choice]
    odd = prefix[: 128 - len(request_id)] + request_id  # unusual but valid: at most 128
    return Built(_envelope(name, command, odd), odd, must_fail, name)


@st.composite
def odd_request_id(draw: st.DrawFn, sender: str, pool: Pool) -> Frame:
    """A command with an empty, huge, non-UTF-8 or unusual request id."""
    choice = draw(
        st.sampled_from(["empty", "huge", "invalid_utf8", "nul", "space", "emoji", "bidi"])
    )
    size = draw(st.integers(129, 4_000))
    build = functools.partial(_odd_id, pool, draw(SEEDS), choice, size)
    return Frame(sender, f"request_id:{choice}", build)


def with_body(body: bytes, command: str, request_id: str) -> Built:
    """An envelope of the request id and ``body`` as it is: no command the server knows."""
    data = wire.len_field(wire.REQUEST_ID_FIELD, request_id.encode()) + body
    return Built(data, request_id, True, command)


def _unknown(pool: Pool, seed: int, how: str, number: int, value: int, request_id: str) -> Built:
    name, command = generated_command(pool, seed, request_id)
    if how == "unknown_number":
        body = wire.len_field(number, command.SerializeToString())
    elif how == "wrong_wire_type":
        body = wire.varint_field(COMMANDS[name].number, value)
    else:
        body = wire.nested_groups(number, value % 300 + 1)
    return with_body(body, name, request_id)


@st.composite
def unknown_command(draw: st.DrawFn, sender: str, pool: Pool) -> Frame:
    """A command number the schema does not have, or the right one with the wrong wire type."""
    number = draw(
        st.one_of(st.integers(3, 9), st.integers(123, 2**29 - 1)).filter(
            lambda n: n not in COMMAND_NUMBERS
        )
    )
    how = draw(st.sampled_from(["unknown_number", "wrong_wire_type", "groups"]))
    value = draw(int_range(*INT64))
    build = functools.partial(_unknown, pool, draw(SEEDS), how, number, value)
    return Frame(sender, f"unknown_command:{how}", build)


def hostile_frame(sender: str, pool: Pool, max_frame_bytes: int) -> st.SearchStrategy[Frame]:
    """Any frame mallory or eve might send."""
    kind = st.sampled_from(
        ["generated"] * 8
        + ["truncated", "truncated", "random", "random", "odd_id", "unknown", "text"]
    )
    makers: dict[str, st.SearchStrategy[Frame]] = {
        "generated": generated_envelope(sender, pool),
        "truncated": truncated_envelope(sender, pool),
        "random": random_bytes(sender),
        "odd_id": odd_request_id(sender, pool),
        "unknown": unknown_command(sender, pool),
        "text": text_frame(sender),
    }

    oversized = oversized_frame(sender, max_frame_bytes)
    one_in_500 = st.integers(0, 499).map(lambda n: n == 250)  # (hypothesis favours 0 and 499)

    @st.composite
    def frame(draw: st.DrawFn) -> Frame:
        if draw(one_in_500):
            return draw(oversized)
        return draw(makers[draw(kind)])

    return frame()
