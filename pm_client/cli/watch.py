"""``pm watch``: stream the events of projects, one line each, until interrupted.

The stream is the client library's event iterator: when the connection
drops (a server restart, a network cut) the client reconnects and resumes
from the last ``seq`` it printed, so no event is lost or printed twice. A
position the server cannot honour (the tenant was restored from a backup, or
the events were pruned) is reported on stderr and the stream goes on live.

``--since SEQ`` first replays every stored event after ``SEQ`` (``0``: the
whole history; ``pm context pack`` prints the ``seq`` it was read at), then
goes on live. ``--json`` prints each event as one JSON object per line.

On SIGINT or SIGTERM it first prints every event committed before the signal
(a ping to the server is answered after them), then exits 0: ``kill`` right
after the last command of a script loses nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import Final

from pm_client.cli.exits import UsageError
from pm_client.cli.options import Subcommands
from pm_client.cli.output import Output, actor, dumps_line, enum_name, local_time, to_json
from pm_client.cli.session import Session, default_project
from pm_client.client import PmClient
from pm_client.errors import ClientError, MustRefetch
from pm_client.events import EventStream
from pm_proto.v1 import entities_pb2, events_pb2

ENTITY = entities_pb2.EntityType.DESCRIPTOR
ACTION = entities_pb2.Action.DESCRIPTOR
ROLE = entities_pb2.Role.DESCRIPTOR
ITEM_TYPE = entities_pb2.WorkItemType.DESCRIPTOR
ITEM_STATUS = entities_pb2.WorkItemStatus.DESCRIPTOR
SPRINT_STATUS = entities_pb2.SprintStatus.DESCRIPTOR
DEPENDENCY = entities_pb2.DependencyType.DESCRIPTOR
CONTEXT_TYPE = entities_pb2.LlmContextType.DESCRIPTOR
#: After a stop signal: how long to wait for the final ping's answer, then at most how
#: long to go on printing what arrives...
FLUSH_TIMEOUT: Final = 3.0
#: ...until the stream has been quiet this long.
QUIET: Final = 0.2
#: How often the connection state is checked, to tell people about reconnects.
STATE_POLL: Final = 0.5
VALUE_WIDTH: Final = 40


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    text = "stream the events of projects until interrupted (resumes across reconnects)"
    description = (
        "stream a project's events, one line each, until interrupted; resumes across reconnects "
        "and server restarts without losing or repeating an event; `--since SEQ` first replays "
        "the stored events after SEQ (`0`: all); an agent (an API key's user) shows as "
        "`USER (agent)`"
    )
    p = commands.add_parser("watch", parents=[common], help=text, description=description)
    p.set_defaults(handler=watch)
    p.add_argument(
        "--project",
        "-p",
        dest="projects",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY",
        help="projects to watch, in one ordered stream (default: PM_PROJECT)",
    )
    p.add_argument(
        "--since",
        type=int,
        metavar="SEQ",
        help="first replay the stored events after SEQ (0: all of them)",
    )


async def watch(s: Session, args: argparse.Namespace) -> Output | None:
    refs = args.projects or ([default_project()] if default_project() else [])
    if not refs:
        raise UsageError("name a project: --project KEY (repeatable), or set PM_PROJECT")
    if args.since is not None and args.since < 0:
        raise UsageError("--since takes a seq of 0 or more")
    projects = [await s.project(ref) for ref in refs]
    project_ids = list(dict.fromkeys(p.id for p in projects))
    resume = None
    if args.since is not None:
        resume = (await _epoch(s, project_ids), args.since)
    reply = await s.pm.subscribe(project_ids, resume=resume)
    keys = ", ".join(p.key for p in projects)
    if reply.must_refetch:
        _note(
            f"events after seq {args.since} are no longer stored; watching {keys} live "
            f"from seq {reply.seq}"
        )
    elif resume is not None:
        _note(f"watching {keys}: the events after seq {reply.seq}, then live (Ctrl-C to stop)")
    else:
        _note(f"watching {keys} from seq {reply.seq} (Ctrl-C to stop)")
    printer = _Printer(s, as_json=args.json)
    await _stream(s.pm, printer)
    return None


async def _epoch(s: Session, project_ids: list[str]) -> str:
    """The tenant's epoch, from a subscribe on a short second connection.

    (Subscribing twice on the main connection could print an event twice.)
    """
    settings = s.connection
    async with PmClient(
        settings.url, settings.token, request_timeout=settings.timeout, reconnect=False
    ) as probe:
        return (await probe.subscribe(project_ids)).epoch


def _note(text: str) -> None:
    print(f"pm: {text}", file=sys.stderr, flush=True)


async def _stream(pm: PmClient, printer: _Printer) -> None:
    """Print events until a stop signal, then the ones committed before it."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    watcher = loop.create_task(_report_reconnects(pm))
    stream = pm.events()
    stopping = loop.create_task(stop.wait())
    pending: asyncio.Task[events_pb2.Event | None] | None = None
    try:
        while True:
            if pending is None:
                pending = loop.create_task(_next(stream))
            await asyncio.wait({pending, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not pending.done():
                break  # stop requested
            event = pending.result()  # a ClientError ends the watch with its exit code
            pending = None
            if event is None:
                return  # the client was closed
            await printer.show(event)
        with contextlib.suppress(ClientError, TimeoutError):
            await asyncio.wait_for(pm.ping(), FLUSH_TIMEOUT)
        deadline = loop.time() + FLUSH_TIMEOUT
        while loop.time() < deadline:  # bounded, even while writes go on
            if pending is None:
                pending = loop.create_task(_next(stream))
            done, _ = await asyncio.wait({pending}, timeout=QUIET)
            if not done:
                break
            event = pending.result()
            pending = None
            if event is None:
                break
            await printer.show(event)
    finally:
        for task in (pending, stopping, watcher):
            if task is not None:
                task.cancel()
        for signum in signals:
            loop.remove_signal_handler(signum)


async def _next(stream: EventStream) -> events_pb2.Event | None:
    """The next event, None at the end; MustRefetch is reported and the stream goes on."""
    while True:
        try:
            return await anext(stream)
        except StopAsyncIteration:
            return None
        except MustRefetch as exc:
            _note(
                "some events could not be resumed (the tenant was restored, or they were "
                f"pruned); live again from seq {exc.seq}"
            )


async def _report_reconnects(pm: PmClient) -> None:
    connected = True
    while True:
        await asyncio.sleep(STATE_POLL)
        if connected and not pm.connected:
            _note("connection lost; reconnecting...")
        elif not connected and pm.connected:
            _note(f"reconnected; resumed after seq {pm.last_seq}")
        connected = pm.connected


class _Printer:
    """Turns events into lines: JSON, or a readable summary."""

    def __init__(self, s: Session, *, as_json: bool) -> None:
        self.s = s
        self.as_json = as_json

    async def show(self, event: events_pb2.Event) -> None:
        if event.HasField("work_item"):
            self.s.remember_item(event.work_item)
        line = dumps_line(to_json(event)) if self.as_json else await self.describe(event)
        print(line, flush=True)

    async def describe(self, event: events_pb2.Event) -> str:
        seq = f"#{event.seq}" if event.seq else "-"
        when = local_time(event.occurred_at, seconds=True)[11:]
        project = await self.s.project_key(event.project_id) if event.project_id else ""
        entity = enum_name(ENTITY, event.entity_type)
        action = enum_name(ACTION, event.action)
        what = await self.summary(event)
        who = actor(event.actor_id, event.actor_kind)
        line = f"{seq} {when} {project} {who} {action} {entity} {what}"
        if event.changes:
            line += ": " + ", ".join(
                f"{c.field} {_cut(c.old_json)} -> {_cut(c.new_json)}" for c in event.changes
            )
        return line.rstrip()

    async def summary(self, event: events_pb2.Event) -> str:
        kind = event.WhichOneof("entity")
        key = self.s.item_key
        if kind == "work_item":
            i = event.work_item
            return (
                f"{i.display_key} {enum_name(ITEM_TYPE, i.type)} {i.title!r} "
                f"[{enum_name(ITEM_STATUS, i.status)}]"
            )
        if kind == "comment":
            return f"on {await key(event.comment.work_item_id)}: {_cut(event.comment.body)}"
        if kind == "time_entry":
            t = event.time_entry
            state = "stopped" if t.HasField("ended_at") else "running"
            return f"of {t.user_id} on {await key(t.work_item_id)} ({state})"
        if kind == "dependency":
            d = event.dependency
            return (
                f"{await key(d.from_item_id)} {enum_name(DEPENDENCY, d.type)} "
                f"{await key(d.to_item_id)}"
            )
        if kind == "sprint":
            return f"{event.sprint.name!r} [{enum_name(SPRINT_STATUS, event.sprint.status)}]"
        if kind == "member":
            return f"{event.member.user_id} as {enum_name(ROLE, event.member.role)}"
        if kind == "project":
            return f"{event.project.key} {event.project.name!r}"
        if kind == "swim_lane":
            return f"{event.swim_lane.name!r} [{enum_name(ITEM_STATUS, event.swim_lane.status)}]"
        if kind == "llm_context":
            c = event.llm_context
            return f"{enum_name(CONTEXT_TYPE, c.context_type)} {c.title!r}"
        if kind == "presence":
            p = event.presence
            return f"{p.user_id} {'joined' if p.present else 'left'}"
        return event.entity_id


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"
