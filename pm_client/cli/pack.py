"""``pm context pack``: everything an agent needs to start work on a project, in one call.

The pack holds:

- the project (key, name, description);
- the llm_context rows that apply to it: the project's rows and the
  tenant-wide instructions, business rules and examples in full; the
  tenant-wide schema docs and query patterns (they describe the database's
  SQL, not the commands) as an index of titles and ids, in full with ``--full``;
- the active sprint and all its items;
- the open (not done) items, grouped by status in board order;
- the blocked items: open items with a ``blocks`` dependency from an item that
  is not done, each with what blocks it;
- ``seq``: the event-log position the pack was read at, so ``pm watch
  --project KEY --since SEQ`` continues exactly where the pack ends.

Markdown (default) for reading, JSON (``--format json`` or ``--json``) for
programs. Items are compact: key, type, title, status, priority, assignee,
points, parent key.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from pm_client.cli.options import add_project
from pm_client.cli.output import Output, dumps, enum_name, iso
from pm_client.cli.session import Session
from pm_proto.v1 import entities_pb2

TYPE = entities_pb2.WorkItemType.DESCRIPTOR
STATUS = entities_pb2.WorkItemStatus.DESCRIPTOR
PRIORITY = entities_pb2.Priority.DESCRIPTOR
CONTEXT_TYPE = entities_pb2.LlmContextType.DESCRIPTOR
#: Tenant-wide row types given as an index only unless ``--full``: they document SQL.
INDEXED_TYPES: Final = frozenset(
    {entities_pb2.LLM_CONTEXT_TYPE_SCHEMA_DOC, entities_pb2.LLM_CONTEXT_TYPE_QUERY_PATTERN}
)
#: Largest pages the server returns.
MAX_ITEMS: Final = 1000
MAX_ROWS: Final = 500
DONE: Final = entities_pb2.WORK_ITEM_STATUS_DONE

Json = dict[str, Any]


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add("pack", build, "everything an agent needs to work on a project, in one call")
    add_project(p)
    p.add_argument(
        "--format",
        choices=("markdown", "json"),
        default="markdown",
        help="markdown (default) or json (same as --json)",
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="include the tenant-wide schema docs and query patterns in full",
    )


async def build(s: Session, args: argparse.Namespace) -> Output:
    project = await s.project(args.project)
    contexts = await s.pm.list_llm_context(project_id=project.id, limit=MAX_ROWS)
    open_items = await s.pm.list_work_items(
        project_id=project.id, exclude_done=True, limit=MAX_ITEMS
    )
    sprints = await s.pm.list_sprints(
        project_id=project.id, statuses=[entities_pb2.SPRINT_STATUS_ACTIVE]
    )
    sprint_items: Sequence[entities_pb2.WorkItem] = []
    active = sprints.sprints[0] if sprints.sprints else None
    seqs = [contexts.seq, open_items.seq, sprints.seq]
    if active is not None:
        listed = await s.pm.list_work_items(
            project_id=project.id, sprint_id=active.id, limit=MAX_ITEMS
        )
        sprint_items = listed.items
        seqs.append(listed.seq)
    for item in [*open_items.items, *sprint_items]:
        s.remember_item(item)
    keys = {item.id: item.display_key for item in [*open_items.items, *sprint_items]}
    blocked = await _blocked(s, project.id)

    full, index = _split_contexts(contexts.contexts, full=args.full)
    data: Json = {
        "project": {
            "key": project.key,
            "name": project.name,
            "description": project.description,
            "id": project.id,
        },
        "seq": min(seqs),
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "context": [_context_json(row, project.key) for row in full],
        "context_index": [_context_json(row, project.key, content=False) for row in index],
        "active_sprint": None,
        "open_items": {
            enum_name(STATUS, status): [
                _item_json(item, keys) for item in open_items.items if item.status == status
            ]
            for status in _open_statuses()
        },
        "open_items_truncated": len(open_items.items) >= MAX_ITEMS,
        "blocked": blocked,
    }
    if active is not None:
        data["active_sprint"] = {
            "id": active.id,
            "name": active.name,
            "goal": active.goal,
            "starts_at": iso(active.starts_at) if active.HasField("starts_at") else None,
            "ends_at": iso(active.ends_at) if active.HasField("ends_at") else None,
            "items": [_item_json(item, keys) for item in sprint_items],
        }
    as_json = args.json or args.format == "json"
    return Output(data, dumps(data) if as_json else markdown(data))


def _open_statuses() -> list[int]:
    return [v.number for v in STATUS.values if v.number and v.number != DONE]


def _split_contexts(
    rows: Iterable[entities_pb2.LlmContext], *, full: bool
) -> tuple[list[entities_pb2.LlmContext], list[entities_pb2.LlmContext]]:
    """(rows in full, rows as an index): project rows first, then tenant-wide ones."""
    ordered = sorted(rows, key=lambda r: (not r.HasField("project_id"), -r.priority))
    shown = [
        r
        for r in ordered
        if full or r.HasField("project_id") or r.context_type not in INDEXED_TYPES
    ]
    indexed = [r for r in ordered if r not in shown]
    return shown, indexed


def _context_json(row: entities_pb2.LlmContext, key: str, *, content: bool = True) -> Json:
    data: Json = {
        "id": row.id,
        "type": enum_name(CONTEXT_TYPE, row.context_type),
        "scope": key if row.HasField("project_id") else "tenant",
        "category": row.category,
        "title": row.title,
        "priority": row.priority,
    }
    if content:
        data["content"] = row.content
        data["example_sql"] = row.example_sql if row.HasField("example_sql") else None
    return data


def _item_json(item: entities_pb2.WorkItem, keys: dict[str, str]) -> Json:
    return {
        "key": item.display_key,
        "type": enum_name(TYPE, item.type),
        "title": item.title,
        "status": enum_name(STATUS, item.status),
        "priority": enum_name(PRIORITY, item.priority),
        "assignee": item.assignee_id if item.HasField("assignee_id") else None,
        "points": item.story_points if item.HasField("story_points") else None,
        "parent": keys.get(item.parent_id, item.parent_id) if item.HasField("parent_id") else None,
    }


async def _blocked(s: Session, project_id: str) -> list[Json]:
    """Open items with a live incoming ``blocks`` from an item that is not done (every page)."""
    blocked: list[Json] = []
    after = ""
    while True:
        page = await s.pm.list_blocked_items(project_id=project_id, limit=MAX_ITEMS, after=after)
        for entry in page.items:
            item = entry.item
            blocked.append(
                {
                    "key": item.display_key,
                    "title": item.title,
                    "status": enum_name(STATUS, item.status),
                    "blocked_by": [
                        {
                            "key": b.display_key,
                            "title": b.title,
                            "status": enum_name(STATUS, b.status),
                        }
                        for b in entry.blockers
                    ],
                }
            )
        if not page.next_after:
            return blocked
        after = page.next_after


# -- Markdown ----------------------------------------------------------------------


def _md(text: object) -> str:
    """A table cell: one line, pipes escaped."""
    return " ".join(str("" if text is None else text).split()).replace("|", "\\|")


def _md_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_md(value) for value in row) + " |" for row in rows]
    return lines


def _item_rows(items: Iterable[Json], *, status: bool) -> list[list[object]]:
    return [
        [
            i["key"],
            i["type"],
            *([i["status"]] if status else []),
            i["title"],
            i["priority"],
            i["assignee"] or "",
            "" if i["points"] is None else i["points"],
            i["parent"] or "",
        ]
        for i in items
    ]


def _item_headers(*, status: bool) -> list[str]:
    return [
        "key",
        "type",
        *(["status"] if status else []),
        "title",
        "priority",
        "assignee",
        "points",
        "parent",
    ]


def markdown(data: Json) -> str:
    project = data["project"]
    out = [f"# Project {project['key']}: {project['name']}", ""]
    if project["description"]:
        out += [project["description"], ""]
    out += [
        f"Snapshot at seq {data['seq']} ({data['generated_at']}). Name items by key "
        f"({project['key']}-1); follow changes with "
        f"`pm watch --project {project['key']} --since {data['seq']}`.",
        "",
        "## Rules and docs",
        "",
    ]
    if not data["context"]:
        out += ["(none)", ""]
    for row in data["context"]:
        out += [
            f"### {row['title']}",
            f"_{row['type']}, {row['scope']}, id {row['id']}_",
            "",
            row["content"].strip(),
            "",
        ]
        if row["example_sql"]:
            out += ["```sql", row["example_sql"].strip(), "```", ""]
    if data["context_index"]:
        out += [
            "More reference (SQL schema docs and query patterns): `pm context show ID`, "
            "or `pm context pack --full`:",
            "",
        ]
        out += [f"- {row['type']}: {row['title']} (`{row['id']}`)" for row in data["context_index"]]
        out.append("")
    sprint = data["active_sprint"]
    if sprint is None:
        out += ["## Active sprint", "", "No sprint is active.", ""]
    else:
        out += [f"## Active sprint: {sprint['name']}", ""]
        dates = " to ".join(d[:10] for d in (sprint["starts_at"], sprint["ends_at"]) if d)
        if sprint["goal"] or dates:
            out += [
                "; ".join(
                    p for p in (f"Goal: {sprint['goal']}" if sprint["goal"] else "", dates) if p
                ),
                "",
            ]
        out += [
            *_md_table(_item_headers(status=True), _item_rows(sprint["items"], status=True)),
            "",
        ]
    total = sum(len(items) for items in data["open_items"].values())
    out += [f"## Open items by status ({total})", ""]
    if data["open_items_truncated"]:
        out += [f"(The first {MAX_ITEMS} in board order only.)", ""]
    for status, items in data["open_items"].items():
        if items:
            out += [f"### {status} ({len(items)})", ""]
            out += [*_md_table(_item_headers(status=False), _item_rows(items, status=False)), ""]
    out += ["## Blocked items", ""]
    if not data["blocked"]:
        out += ["None.", ""]
    for item in data["blocked"]:
        by = ", ".join(f"{b['key']} {b['title']} ({b['status']})" for b in item["blocked_by"])
        out.append(f"- {item['key']} {item['title']} ({item['status']}) is blocked by {by}")
    return "\n".join(out).rstrip()
