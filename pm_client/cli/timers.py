"""``pm timer ...`` (your running timer) and ``pm time ...`` (time entries)."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Final

from pm_client.cli.exits import UsageError
from pm_client.cli.options import (
    Subcommands,
    add_project,
    add_quiet,
    add_version,
    group,
    parse_duration,
    parse_time,
)
from pm_client.cli.output import Output, duration, local_time, table, to_datetime, to_json
from pm_client.cli.paging import every_page
from pm_client.cli.session import Session
from pm_core.enums import EntityType
from pm_proto.v1 import commands_pb2, entities_pb2

#: Its group takes the entity over from the generated one (pm_client.cli.crud): the
#: verbs are written here, to keep the lookups and the output people know.
ENTITY: Final = EntityType.TIME_ENTRY


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    add = group(
        commands,
        common,
        "timer",
        "your timer: start, stop, status",
        description="your timer (starting one stops the one running)",
    )
    p = add("start", start, "start your timer on an item (stops the one running)")
    p.add_argument("item", metavar="ITEM", help="display key (PM-12) or id")
    p.add_argument("--note", default="")

    add("stop", stop, "stop your running timer")
    add("status", status, "your running timer, if any")

    add = group(
        commands,
        common,
        "time",
        "time entries: log, list, update, delete",
        description="time entries (`log` takes `--duration 1h30m`, or `--start` and `--end`)",
    )
    p = add("log", log, "log time spent on an item")
    p.add_argument("item", metavar="ITEM", help="display key (PM-12) or id")
    p.add_argument("--duration", type=parse_duration, help="45m, 1h30m, 1.5h (ends --end or now)")
    p.add_argument("--start", type=parse_time, metavar="TIME", help="when the work started")
    p.add_argument("--end", type=parse_time, metavar="TIME", help="when it ended (default now)")
    p.add_argument("--note", default="")
    add_quiet(p, "entry's id")

    p = add("list", list_entries, "time entries, newest first (default: yours)")
    p.add_argument("--item", metavar="ITEM", help="of one item (everyone's)")
    add_project(p, "of one project (everyone's)")
    p.add_argument("--user", metavar="USER", help="of one user ('me' for yours)")
    p.add_argument("--limit", type=int, default=0, help="at most this many (server default 50)")
    p.add_argument("--all", action="store_true", help="every page, not just one")

    p = add("update", update, "correct a time entry")
    p.add_argument("entry", metavar="ENTRY_ID")
    p.add_argument("--start", type=parse_time, metavar="TIME")
    p.add_argument("--end", type=parse_time, metavar="TIME")
    p.add_argument("--note")
    add_version(p)

    p = add("delete", delete, "delete a time entry")
    p.add_argument("entry", metavar="ENTRY_ID")
    add_version(p)


def spent(entry: entities_pb2.TimeEntry) -> str:
    """How long the entry lasts (so far, for a running timer)."""
    start = to_datetime(entry.started_at)
    end = to_datetime(entry.ended_at) if entry.HasField("ended_at") else datetime.now(start.tzinfo)
    return duration((end - start).total_seconds())


async def entry_line(s: Session, entry: entities_pb2.TimeEntry) -> str:
    key = await s.item_key(entry.work_item_id)
    if entry.HasField("ended_at"):
        return f"{spent(entry)} on {key} from {local_time(entry.started_at)} (id {entry.id})"
    since = local_time(entry.started_at, seconds=True)
    return f"running on {key} since {since} ({spent(entry)}, id {entry.id})"


def _or_null(entry: entities_pb2.TimeEntry, present: bool) -> object:
    return to_json(entry) if present else None


async def start(s: Session, args: argparse.Namespace) -> Output:
    item = await s.item(args.item)
    reply = await s.pm.start_timer(work_item_id=item.id, note=args.note)
    lines = [f"timer {await entry_line(s, reply.entry)}"]
    if reply.HasField("stopped"):
        lines.append(f"stopped {await entry_line(s, reply.stopped)}")
    data = {
        "entry": to_json(reply.entry),
        "stopped": _or_null(reply.stopped, reply.HasField("stopped")),
    }
    return Output(data, "\n".join(lines))


async def stop(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.stop_timer()
    return Output(to_json(reply.entry), f"stopped: {await entry_line(s, reply.entry)}")


async def status(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.get_running_timer()
    running = reply.HasField("entry")
    text = f"timer {await entry_line(s, reply.entry)}" if running else "no timer running"
    return Output({"entry": _or_null(reply.entry, running)}, text)


async def log(s: Session, args: argparse.Namespace) -> Output:
    item = await s.item(args.item)
    end: datetime = args.end or datetime.now().astimezone()
    if args.duration is not None and args.start is not None:
        raise UsageError("give --duration or --start, not both")
    if args.duration is not None:
        begin = end - args.duration
    elif args.start is not None:
        begin = args.start
    else:
        raise UsageError("say how long: --duration 45m, or --start TIME [--end TIME]")
    reply = await s.pm.create_time_entry(
        work_item_id=item.id, started_at=begin, ended_at=end, note=args.note
    )
    entry = reply.entry
    text = entry.id if args.quiet else f"logged {await entry_line(s, entry)}"
    return Output(to_json(entry), text)


async def list_entries(s: Session, args: argparse.Namespace) -> Output:
    item_id = await s.item_id(args.item) if args.item else None
    project_id = (await s.project(args.project)).id if args.project else None
    pages: list[commands_pb2.TimeEntryList] = []

    async def page(
        before: entities_pb2.TimeEntry | None,
    ) -> tuple[list[entities_pb2.TimeEntry], entities_pb2.TimeEntry | None]:
        listed = await s.pm.list_time_entries(
            user_id=s.user(args.user) if args.user else None,
            work_item_id=item_id,
            project_id=project_id,
            limit=args.limit,
            before_started_at=to_datetime(before.started_at) if before is not None else None,
            before_id=before.id if before is not None else "",
        )
        pages.append(listed)
        return list(listed.entries), listed.entries[-1] if listed.entries else None

    found = await every_page(page) if args.all else (await page(None))[0]
    reply = pages[0]
    del reply.entries[:]
    reply.entries.extend(found)
    rows = [
        (
            local_time(e.started_at),
            spent(e) + ("" if e.HasField("ended_at") else " (running)"),
            e.user_id,
            await s.item_key(e.work_item_id),
            e.note,
            e.id,
        )
        for e in reply.entries
    ]
    text = table(("started", "spent", "user", "item", "note", "id"), rows, empty="no time entries")
    return Output(to_json(reply), text)


async def update(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.update_time_entry(
        entry_id=args.entry,
        expected_version=args.expected_version,
        started_at=args.start,
        ended_at=args.end,
        note=args.note,
    )
    return Output(to_json(reply.entry), f"updated {await entry_line(s, reply.entry)}")


async def delete(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.delete_time_entry(
        entry_id=args.entry, expected_version=args.expected_version
    )
    return Output(to_json(reply.entry), f"deleted time entry {reply.entry.id}")
