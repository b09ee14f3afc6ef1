"""``pm context ...``: llm_context rows, the documentation agents read and write.

A row belongs to one project (editors write it) or to the whole tenant
(``--tenant``; tenant admins write it, everyone reads it). ``pm context pack``
(:mod:`pm_client.cli.pack`) puts the rows and the board's state together.
"""

from __future__ import annotations

import argparse
from typing import Final

from pm_client.cli import pack
from pm_client.cli.comments import text_arg
from pm_client.cli.exits import NotFound, UsageError
from pm_client.cli.options import (
    Subcommands,
    add_filter,
    add_project,
    add_quiet,
    add_version,
    choices,
    enum_arg,
    group,
)
from pm_client.cli.output import Output, enum_name, fields, local_time, table, to_json
from pm_client.cli.session import Session, default_project
from pm_core.enums import EntityType
from pm_proto.v1 import entities_pb2

#: Its group takes the entity over from the generated one (pm_client.cli.crud): the
#: verbs are written here, to keep the lookups and the output people know.
ENTITY: Final = EntityType.LLM_CONTEXT

TYPE = entities_pb2.LlmContextType.DESCRIPTOR
#: The server's largest page of llm_context rows.
MAX_ROWS = 500


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    add = group(
        commands,
        common,
        "context",
        "llm_context docs and rules for agents: list, show, add, update, delete, pack",
        description="`llm_context` rows of a project (or of the whole tenant with `--tenant`); "
        "`pack [--budget TOKENS] [--format markdown|json]` is everything an agent needs to work "
        "on a project, in one command (see For agents below)",
    )
    p = add("list", list_rows, "rows of a project and the tenant-wide ones")
    add_project(p)
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("--tenant", action="store_true", help="tenant-wide rows only")
    scope.add_argument("--project-only", action="store_true", help="the project's rows only")
    add_filter(p, "--type", "-t", dest="types", descriptor=TYPE)
    p.add_argument("--category")
    p.add_argument("--limit", type=int, default=0, help=f"at most this many (max {MAX_ROWS})")

    p = add("show", show, "one row in full")
    p.add_argument("context", metavar="CONTEXT_ID")
    add_project(p, "where to look besides the tenant-wide rows")

    p = add("add", add_row, "add a row to a project (editors) or the tenant (--tenant, admins)")
    p.add_argument("content", metavar="CONTENT", help="the text ('-' reads it from stdin)")
    p.add_argument(
        "--type", "-t", dest="context_type", type=enum_arg(TYPE), required=True, help=choices(TYPE)
    )
    p.add_argument("--title", required=True)
    add_project(p)
    p.add_argument("--tenant", action="store_true", help="a tenant-wide row instead")
    p.add_argument("--category", default="", help="a topic, e.g. work_items")
    p.add_argument("--priority", type=int, help="higher first (default 50)")
    p.add_argument("--example-sql")
    add_quiet(p, "row's id")

    p = add("update", update, "change a row")
    p.add_argument("context", metavar="CONTEXT_ID")
    p.add_argument("--content", help="the new text ('-' reads it from stdin)")
    p.add_argument("--type", "-t", dest="context_type", type=enum_arg(TYPE), help=choices(TYPE))
    p.add_argument("--title")
    p.add_argument("--category")
    p.add_argument("--priority", type=int)
    p.add_argument("--example-sql", help="'' removes it")
    add_version(p)

    p = add("delete", delete, "delete a row")
    p.add_argument("context", metavar="CONTEXT_ID")
    add_version(p)

    pack.register(add)


def scope_of(row: entities_pb2.LlmContext, keys: dict[str, str]) -> str:
    if not row.HasField("project_id"):
        return "tenant"
    return keys.get(row.project_id, row.project_id)


def row_text(row: entities_pb2.LlmContext, scope: str) -> str:
    head = fields(
        [
            ("title", row.title),
            ("type", enum_name(TYPE, row.context_type)),
            ("scope", scope),
            ("category", row.category),
            ("priority", row.priority),
            ("updated", local_time(row.updated_at)),
            ("version", row.version),
            ("id", row.id),
        ]
    )
    parts = [head, "", row.content]
    if row.HasField("example_sql"):
        parts += ["", "example SQL:", row.example_sql]
    return "\n".join(parts)


async def list_rows(s: Session, args: argparse.Namespace) -> Output:
    project_id: str | None = None
    keys: dict[str, str] = {}
    if not args.tenant and (args.project or default_project()):
        project = await s.project(args.project)
        project_id = project.id
        keys[project.id] = project.key
    elif args.project_only:
        raise UsageError("--project-only needs a project: --project KEY")
    reply = await s.pm.list_llm_context(
        project_id=project_id,
        exclude_global=args.project_only,
        types=args.types,
        category=args.category,
        limit=args.limit,
    )
    rows = [
        (enum_name(TYPE, r.context_type), scope_of(r, keys), r.category, r.priority, r.title, r.id)
        for r in reply.contexts
    ]
    text = table(("type", "scope", "category", "pri", "title", "id"), rows, empty="no rows")
    return Output(to_json(reply), text)


async def show(s: Session, args: argparse.Namespace) -> Output:
    """There is no get-by-id command: look in the tenant-wide rows, then in projects."""
    project_ids: list[str | None] = [None]
    keys: dict[str, str] = {}
    if args.project or default_project():
        project = await s.project(args.project)
        project_ids.append(project.id)
        keys[project.id] = project.key
    else:
        for project in (await s.pm.list_projects(include_archived=True)).projects:
            project_ids.append(project.id)
            keys[project.id] = project.key
    for project_id in project_ids:
        reply = await s.pm.list_llm_context(
            project_id=project_id, exclude_global=project_id is not None, limit=MAX_ROWS
        )
        for row in reply.contexts:
            if row.id == args.context:
                return Output(to_json(row), row_text(row, scope_of(row, keys)))
    raise NotFound(f"llm_context {args.context} not found")


async def add_row(s: Session, args: argparse.Namespace) -> Output:
    project_id: str | None = None
    if args.tenant:
        if args.project:
            raise UsageError("give --project or --tenant, not both")
    elif args.project or default_project():
        project_id = (await s.project(args.project)).id
    else:
        raise UsageError("say where the row goes: --project KEY, or --tenant for the whole tenant")
    reply = await s.pm.create_llm_context(
        project_id=project_id,
        context_type=args.context_type,
        title=args.title,
        content=text_arg(args.content),
        category=args.category,
        example_sql=args.example_sql,
        priority=args.priority,
    )
    row = reply.context
    text = (
        row.id
        if args.quiet
        else f"added {enum_name(TYPE, row.context_type)} {row.title!r} (id {row.id})"
    )
    return Output(to_json(row), text)


async def update(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.update_llm_context(
        context_id=args.context,
        expected_version=args.expected_version,
        context_type=args.context_type,
        category=args.category,
        title=args.title,
        content=text_arg(args.content) if args.content is not None else None,
        example_sql=args.example_sql,
        priority=args.priority,
    )
    row = reply.context
    return Output(to_json(row), f"updated {row.title!r} (version {row.version})")


async def delete(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.delete_llm_context(
        context_id=args.context, expected_version=args.expected_version
    )
    return Output(to_json(reply.context), f"deleted {reply.context.title!r}")
