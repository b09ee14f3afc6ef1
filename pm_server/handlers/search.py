"""Full-text search: the items a caller may read, best match first.

Role: a member of the projects searched; without ``project_id`` every project
the caller is a member of (every project for a tenant admin). A
``project_id`` the caller cannot read is NOT_FOUND, like everywhere else;
ids in the other filters only narrow the result (another project's sprint or
label simply matches nothing). An empty query, or one past 16 words or 500
characters, is a VALIDATION_ERROR on ``query``.
"""

from __future__ import annotations

from typing import Final

from pm_core.enums import Role
from pm_core.search import match_query
from pm_db.repositories.search import SearchFilter
from pm_db.unit_of_work import UnitOfWork
from pm_proto import entities as pb_entities
from pm_proto import enums as pb_enums
from pm_proto.v1 import commands_pb2, envelope_pb2
from pm_server import access
from pm_server.context import Context

DEFAULT_LIMIT: Final = 20


def _filter(cmd: commands_pb2.Search) -> SearchFilter:
    return SearchFilter(
        query=match_query(cmd.query),
        project_id=cmd.project_id if cmd.HasField("project_id") else None,
        types=[pb_enums.from_pb_work_item_type(t, "types") for t in cmd.types] or None,
        statuses=[pb_enums.from_pb_work_item_status(s, "statuses") for s in cmd.statuses] or None,
        assignee_id=cmd.assignee_id if cmd.HasField("assignee_id") else None,
        sprint_id=cmd.sprint_id if cmd.HasField("sprint_id") else None,
        label_id=cmd.label_id if cmd.HasField("label_id") else None,
        limit=cmd.limit or DEFAULT_LIMIT,
        offset=cmd.offset,
    )


async def search(ctx: Context, cmd: commands_pb2.Search) -> envelope_pb2.Reply:
    principal = ctx.principal
    filters = _filter(cmd)

    def read(uow: UnitOfWork) -> envelope_pb2.Reply:
        if filters.project_id is not None:
            access.project(uow, principal, filters.project_id, Role.VIEWER)
        hits = uow.search.search(
            filters, user_id=principal.user_id, everywhere=principal.is_tenant_admin
        )
        full = len(hits) == filters.limit
        return envelope_pb2.Reply(
            search_results=commands_pb2.SearchResults(
                hits=[
                    commands_pb2.SearchHit(
                        item=pb_entities.work_item_to_pb(hit.item, hit.project_key),
                        snippet=hit.snippet,
                        score=hit.score,
                    )
                    for hit in hits
                ],
                next_offset=filters.offset + len(hits) if full else 0,
                seq=uow.events.latest_seq(),
            )
        )

    return await ctx.db.read(read)
