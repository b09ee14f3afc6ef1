"""``get_context_pack``: the context pack of a project, in one command, within a budget.

Role: viewer of the project (NOT_FOUND for a project the caller cannot read).
Everything is read in one snapshot on a read connection -- the project, its
and the tenant's ``llm_context`` rows, the active sprint, every open item
(page by page of the board-order index) and the blocked ones -- so the pack's
``seq`` is exactly where it was read. What goes in, in which order and within
which budget is :mod:`pm_server.context_pack`'s.
"""

from __future__ import annotations

from typing import Final

from pm_core.enums import Role, SprintStatus
from pm_core.errors import ValidationError
from pm_db.repositories.work_items import MAX_LIMIT, WorkItemFilter
from pm_db.unit_of_work import UnitOfWork
from pm_proto.v1 import commands_pb2, envelope_pb2
from pm_server import access
from pm_server import context_pack as packs
from pm_server.context import Context

#: Every llm_context row of a project and the tenant: the repository's largest page.
MAX_CONTEXT_ROWS: Final = 1000


def _budget(budget: int) -> int:
    if budget == 0:
        return packs.DEFAULT_BUDGET
    if not packs.MIN_BUDGET <= budget <= packs.MAX_BUDGET:
        raise ValidationError(
            "budget_tokens",
            f"budget_tokens must be 0 (default {packs.DEFAULT_BUDGET}) or between "
            f"{packs.MIN_BUDGET} and {packs.MAX_BUDGET}",
        )
    return budget


async def get_context_pack(ctx: Context, cmd: commands_pb2.GetContextPack) -> envelope_pb2.Reply:
    principal = ctx.principal
    budget = _budget(cmd.budget_tokens)

    def read(uow: UnitOfWork) -> packs.PackInput:
        project = access.project(uow, principal, cmd.project_id, Role.VIEWER)
        contexts = uow.llm_context.list(project_id=project.id, limit=MAX_CONTEXT_ROWS)
        active = uow.sprints.list(project.id, [SprintStatus.ACTIVE])
        open_items = []
        after = None
        while True:
            page = uow.work_items.list(
                project.id, WorkItemFilter(include_done=False, limit=MAX_LIMIT, after=after)
            )
            open_items += page
            if len(page) < MAX_LIMIT:
                break
            after = (page[-1].position, page[-1].item_number)
        blockers: dict[str, list[int]] = {}
        number = 0
        while True:
            blocked = uow.dependencies.blocked(project.id, after=number, limit=MAX_LIMIT)
            for item, by in blocked:
                blockers[item.id] = [b.item_number for b in by]
            if len(blocked) < MAX_LIMIT:
                break
            number = blocked[-1][0].item_number
        return packs.PackInput(
            project=project,
            caller_id=principal.user_id,
            now=uow.now,
            seq=uow.events.latest_seq(),
            contexts=contexts,
            active_sprint=active[0] if active else None,
            open_items=open_items,
            blockers=blockers,
        )

    data = await ctx.db.read(read)
    # Built off the read connection: rendering a large board is CPU, not a snapshot.
    pack = packs.build(data, budget)
    return envelope_pb2.Reply(
        context_pack=commands_pb2.ContextPack(
            text=pack.text,
            tokens=pack.tokens,
            budget_tokens=pack.budget,
            seq=data.seq,
            open_items=pack.open_items,
            item_keys=pack.item_keys,
            contexts=pack.contexts,
            context_ids=pack.context_ids,
            left_out=pack.left_out,
        )
    )
