"""``pm comment ...``: comments on work items."""

from __future__ import annotations

import argparse
import sys
from typing import Final

from pm_client.cli.options import Subcommands, add_quiet, add_version, group
from pm_client.cli.output import Output, local_time, table, to_json
from pm_client.cli.paging import every_page
from pm_client.cli.session import Session
from pm_core.enums import EntityType
from pm_proto.v1 import commands_pb2, entities_pb2

#: Its group takes the entity over from the generated one (pm_client.cli.crud): the
#: verbs are written here, to keep the lookups and the output people know.
ENTITY: Final = EntityType.COMMENT


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    add = group(
        commands,
        common,
        "comment",
        "comments on work items: add, edit, delete, list",
        description="comments (`-` as TEXT reads it from stdin)",
    )
    p = add("add", add_comment, "comment on an item")
    p.add_argument("item", metavar="ITEM", help="display key (PM-12) or id")
    p.add_argument("body", metavar="TEXT", help="the comment ('-' reads it from stdin)")
    add_quiet(p, "comment's id")

    p = add("edit", edit, "change your comment")
    p.add_argument("comment", metavar="COMMENT_ID")
    p.add_argument("body", metavar="TEXT", help="the new text ('-' reads it from stdin)")
    add_version(p)

    p = add("delete", delete, "delete a comment (its author or a project admin)")
    p.add_argument("comment", metavar="COMMENT_ID")
    add_version(p)

    p = add("list", list_comments, "comments of an item, oldest first")
    p.add_argument("item", metavar="ITEM", help="display key (PM-12) or id")
    p.add_argument("--limit", type=int, default=0, help="at most this many (server default 100)")
    p.add_argument("--after", metavar="COMMENT_ID", default="", help="the page after this one")
    p.add_argument("--all", action="store_true", help="every page, not just one")


def text_arg(value: str) -> str:
    """The text itself, or stdin for ``-``."""
    return sys.stdin.read().rstrip("\n") if value == "-" else value


async def add_comment(s: Session, args: argparse.Namespace) -> Output:
    item = await s.item(args.item)
    reply = await s.pm.create_comment(work_item_id=item.id, body=text_arg(args.body))
    comment = reply.comment
    text = comment.id if args.quiet else f"commented on {item.display_key} (id {comment.id})"
    return Output(to_json(comment), text)


async def edit(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.edit_comment(
        comment_id=args.comment, body=text_arg(args.body), expected_version=args.expected_version
    )
    comment = reply.comment
    return Output(to_json(comment), f"edited comment {comment.id} (version {comment.version})")


async def delete(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.delete_comment(
        comment_id=args.comment, expected_version=args.expected_version
    )
    return Output(to_json(reply.comment), f"deleted comment {reply.comment.id}")


async def list_comments(s: Session, args: argparse.Namespace) -> Output:
    item = await s.item(args.item)
    pages: list[commands_pb2.CommentList] = []

    async def page(after: str | None) -> tuple[list[entities_pb2.Comment], str | None]:
        listed = await s.pm.list_comments(
            work_item_id=item.id, limit=args.limit, after_id=after or args.after
        )
        pages.append(listed)
        return list(listed.comments), listed.comments[-1].id if listed.comments else None

    found = await every_page(page) if args.all else (await page(None))[0]
    reply = pages[0]
    del reply.comments[:]
    reply.comments.extend(found)
    rows = [(local_time(c.created_at), c.author_id, c.body, c.id) for c in reply.comments]
    text = table(("when", "author", "text", "id"), rows, empty=f"no comments on {item.display_key}")
    return Output(to_json(reply), text)
