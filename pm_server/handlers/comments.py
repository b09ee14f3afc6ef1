"""Comments on work items: create, edit, delete, list (oldest first, keyset paged).

Roles: a viewer lists; an editor comments. Only the author edits a comment
(FORBIDDEN for anyone else, project and tenant admins included) and only
while still an editor. A comment is deleted by its author (an editor) or by
a project admin (or a tenant admin). A comment or item of a project the
caller cannot read is NOT_FOUND naming the id they sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from pm_auth.tokens import Principal
from pm_core.enums import Action, EntityType, Role
from pm_core.errors import ForbiddenError
from pm_core.models import Comment
from pm_db.unit_of_work import UnitOfWork
from pm_proto import entities as pb_entities
from pm_proto.v1 import commands_pb2, envelope_pb2
from pm_server import access
from pm_server.context import Context
from pm_server.events import Change
from pm_server.mutations import Mutation, mutate

DEFAULT_LIMIT: Final = 100


def _reply(comment: Comment) -> envelope_pb2.Reply:
    return envelope_pb2.Reply(
        comment=commands_pb2.CommentReply(comment=pb_entities.comment_to_pb(comment))
    )


async def create_comment(ctx: Context, cmd: commands_pb2.CreateComment) -> bytes:
    principal = ctx.principal

    def unit(uow: UnitOfWork) -> Mutation:
        item = access.work_item(uow, principal, cmd.work_item_id, Role.EDITOR).entity
        comment = uow.comments.create(item=item, author_id=principal.user_id, body=cmd.body)
        change = Change(EntityType.COMMENT, Action.CREATED, comment, comment.project_id)
        return Mutation(_reply(comment), change)

    return await mutate(ctx, unit)


async def edit_comment(ctx: Context, cmd: commands_pb2.EditComment) -> bytes:
    principal = ctx.principal

    def unit(uow: UnitOfWork) -> Mutation:
        comment = access.comment(uow, principal, cmd.comment_id, Role.VIEWER).entity
        if comment.author_id != principal.user_id:
            raise ForbiddenError("only the author may edit a comment")
        access.project(uow, principal, comment.project_id, Role.EDITOR)
        updated = uow.comments.edit(comment.id, cmd.expected_version or None, cmd.body)
        change = Change(
            EntityType.COMMENT,
            Action.UPDATED,
            updated.entity,
            comment.project_id,
            updated.changes,
        )
        return Mutation(_reply(updated.entity), change)

    return await mutate(ctx, unit)


async def delete_comment(ctx: Context, cmd: commands_pb2.DeleteComment) -> bytes:
    principal = ctx.principal

    def unit(uow: UnitOfWork) -> Mutation:
        comment = access.comment(uow, principal, cmd.comment_id, _delete_role(principal)).entity
        deleted = uow.comments.soft_delete(comment.id, cmd.expected_version or None)
        change = Change(EntityType.COMMENT, Action.DELETED, deleted, deleted.project_id)
        return Mutation(_reply(deleted), change)

    return await mutate(ctx, unit)


def _delete_role(principal: Principal) -> Callable[[Comment], Role]:
    """The author deletes as an editor; anyone else needs to be an admin of the project."""
    return lambda comment: Role.EDITOR if comment.author_id == principal.user_id else Role.ADMIN


async def list_comments(ctx: Context, cmd: commands_pb2.ListComments) -> envelope_pb2.Reply:
    principal = ctx.principal

    def read(uow: UnitOfWork) -> envelope_pb2.Reply:
        item = access.work_item(uow, principal, cmd.work_item_id, Role.VIEWER).entity
        comments = uow.comments.list(
            item.id, limit=cmd.limit or DEFAULT_LIMIT, after_id=cmd.after_id or None
        )
        return envelope_pb2.Reply(
            comments=commands_pb2.CommentList(
                comments=[pb_entities.comment_to_pb(c) for c in comments],
                seq=uow.events.latest_seq(),
            )
        )

    return await ctx.db.read(read)
