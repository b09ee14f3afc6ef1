"""Boards with one row of every kind, and read-only dumps of a tenant's database.

Shared by the tenant isolation matrix and the fuzz suite: both need a tenant
whose rows are all known (to aim at them, and to recognise them if they ever
leak), and a way to prove that hostile traffic changed none of them.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from pm_proto.timestamps import to_timestamp
from pm_proto.v1 import commands_pb2, entities_pb2
from tests.pm_server.wsclient import WsClient

EPIC = entities_pb2.WORK_ITEM_TYPE_EPIC
STORY = entities_pb2.WORK_ITEM_TYPE_STORY
TASK = entities_pb2.WORK_ITEM_TYPE_TASK


@dataclass(frozen=True)
class BoardIds:
    """Every id of a seeded board, and the marker written into all of its text."""

    owner_id: str
    editor_id: str
    project_id: str
    key: str
    epic_id: str
    story_id: str
    story2_id: str
    task_id: str
    story_display_key: str
    sprint_id: str
    comment_id: str
    entry_id: str
    dependency_id: str
    lane_id: str
    context_id: str
    member_id: str
    activity_id: str
    label_id: str
    item_label_id: str
    watch_id: str
    marker: str
    #: An API key of the tenant (set by the tests that create one; tenant-wide, as keys are).
    api_key_id: str = ""
    webhook_id: str = ""
    #: The editor's notification of being assigned ``story2`` (set by the tests that read
    #: the editor's inbox: only the editor may).
    notification_id: str = ""

    def row_ids(self) -> list[str]:
        """The ids of the board's rows (not its users)."""
        skip = {"owner_id", "editor_id", "key", "story_display_key", "marker"}
        return [
            getattr(self, f.name)
            for f in fields(self)
            if f.name not in skip and getattr(self, f.name)
        ]


async def seed_board(owner: WsClient, editor_id: str, key: str, marker: str) -> BoardIds:
    """A project of ``owner`` (admin) with ``editor_id`` as editor and one row of each kind.

    Every text field holds ``marker``. The editor must have connected once
    (users are provisioned on connect).
    """
    r = owner.request
    project = (
        await r(
            "create_project",
            commands_pb2.CreateProject(key=key, name=f"{marker} project", description=marker),
        )
    ).project.project
    pid = project.id
    await r(
        "add_member",
        commands_pb2.AddMember(project_id=pid, user_id=editor_id, role=entities_pb2.ROLE_EDITOR),
    )

    async def item(title: str, type_: int, **extra: object) -> entities_pb2.WorkItem:
        reply = await r(
            "create_work_item",
            commands_pb2.CreateWorkItem(
                project_id=pid,
                type=type_,  # type: ignore[arg-type]
                title=f"{marker} {title}",
                description=marker,
                **extra,  # type: ignore[arg-type]
            ),
        )
        return reply.work_item.item

    epic = await item("epic", EPIC)
    story = await item("story", STORY, parent_id=epic.id)
    story2 = await item("story two", STORY, parent_id=epic.id)
    task = await item("task", TASK, parent_id=story.id)
    sprint = (
        await r(
            "create_sprint",
            commands_pb2.CreateSprint(project_id=pid, name=f"{marker} sprint", goal=marker),
        )
    ).sprint.sprint
    comment = (
        await r("create_comment", commands_pb2.CreateComment(work_item_id=story.id, body=marker))
    ).comment.comment
    now = datetime.now(UTC)
    entry = (
        await r(
            "create_time_entry",
            commands_pb2.CreateTimeEntry(
                work_item_id=story.id,
                started_at=to_timestamp(now - timedelta(hours=2)),
                ended_at=to_timestamp(now - timedelta(hours=1)),
                note=marker,
            ),
        )
    ).time_entry.entry
    dependency = (
        await r(
            "create_dependency",
            commands_pb2.CreateDependency(
                from_item_id=story.id,
                to_item_id=story2.id,
                type=entities_pb2.DEPENDENCY_TYPE_BLOCKS,
            ),
        )
    ).dependency.dependency
    # A project has one lane per status: free in_review (a default lane) for the seeded one.
    defaults = (await r("list_swim_lanes", commands_pb2.ListSwimLanes(project_id=pid))).swim_lanes
    (review,) = [x for x in defaults.lanes if x.status == entities_pb2.WORK_ITEM_STATUS_IN_REVIEW]
    await r("delete_swim_lane", commands_pb2.DeleteSwimLane(lane_id=review.id))
    lane = (
        await r(
            "create_swim_lane",
            commands_pb2.CreateSwimLane(
                project_id=pid,
                name=f"{marker} lane",
                status=entities_pb2.WORK_ITEM_STATUS_IN_REVIEW,
            ),
        )
    ).swim_lane.lane
    context = (
        await r(
            "create_llm_context",
            commands_pb2.CreateLlmContext(
                project_id=pid,
                context_type=entities_pb2.LLM_CONTEXT_TYPE_BUSINESS_RULE,
                category=marker,
                title=f"{marker} rule",
                content=marker,
            ),
        )
    ).llm_context.context
    label = (
        await r("create_label", commands_pb2.CreateLabel(project_id=pid, name=f"{marker} label"))
    ).label.label
    item_label = (
        await r("attach_label", commands_pb2.AttachLabel(work_item_id=story.id, label_id=label.id))
    ).item_label.item_label
    # The editor is notified of this assignment (and watches story2 from now on).
    await r(
        "update_work_item", commands_pb2.UpdateWorkItem(item_id=story2.id, assignee_id=editor_id)
    )
    watch = (
        await r("watch_work_item", commands_pb2.WatchWorkItem(work_item_id=story.id))
    ).watch.watch
    members = (await r("list_members", commands_pb2.ListMembers(project_id=pid))).members
    member = next(m for m in members.members if m.user_id == editor_id)
    activity = (
        await r("list_activity", commands_pb2.ListActivity(project_id=pid, limit=1))
    ).activity.entries[0]
    return BoardIds(
        owner_id=owner.welcome.user.id,
        editor_id=editor_id,
        project_id=pid,
        key=key,
        epic_id=epic.id,
        story_id=story.id,
        story2_id=story2.id,
        task_id=task.id,
        story_display_key=story.display_key,
        sprint_id=sprint.id,
        comment_id=comment.id,
        entry_id=entry.id,
        dependency_id=dependency.id,
        lane_id=lane.id,
        context_id=context.id,
        member_id=member.id,
        activity_id=activity.id,
        label_id=label.id,
        item_label_id=item_label.id,
        watch_id=watch.id,
        marker=marker,
    )


# -- database dumps -------------------------------------------------------------

Dump = dict[str, list[dict[str, object]]]


def database_path(data_dir: Path, tenant: str) -> Path:
    return data_dir / "tenants" / tenant / "main.db"


def dump_tenant(data_dir: Path, tenant: str) -> Dump:
    """Every row of every table of the tenant's database, read-only, in a stable order.

    The full-text index (``search_index`` and FTS5's own tables behind it) is left out: it is
    derived from the items and comments, which are compared, and its storage blocks change
    with every indexed write.
    """
    path = database_path(data_dir, tenant)
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        conn.row_factory = sqlite3.Row
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'search_index%' ORDER BY name"
            )
        ]
        dump: Dump = {}
        for table in tables:
            rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()
            dump[table] = sorted((dict(row) for row in rows), key=repr)
        return dump


#: Tenant-wide tables that only a tenant admin (or the operator) changes.
TENANT_ADMIN_TABLES: Final = (
    "accounts",
    "invitations",
    "api_keys",
    "webhooks",
    "webhook_deliveries",
)


def project_rows(dump: Dump, project_ids: Iterable[str], user_ids: Iterable[str] = ()) -> Dump:
    """The rows of a dump that belong to the projects (and the users) named.

    A row belongs to a project when its ``project_id`` (or, for ``projects``,
    its ``id``) is one of them; idempotency records and user rows belong to
    their user. Tenant-wide ``llm_context`` rows (no project) and every row of
    :data:`TENANT_ADMIN_TABLES` are included: only a tenant admin may change them.
    """
    projects = set(project_ids)
    users = set(user_ids)
    out: Dump = {}
    for table, rows in dump.items():
        kept = []
        for row in rows:
            if table == "projects":
                keep = row["id"] in projects
            elif table == "users":
                keep = row["id"] in users
            elif table == "idempotency_keys":
                keep = row["user_id"] in users
            elif table == "llm_context":
                keep = row["project_id"] is None or row["project_id"] in projects
            elif table in TENANT_ADMIN_TABLES:
                keep = True
            elif "project_id" in row:
                keep = row["project_id"] in projects
            else:
                keep = False
            if keep:
                kept.append(row)
        out[table] = kept
    return out


def diff_dumps(before: Dump, after: Dump) -> dict[str, tuple[list[dict[str, object]], ...]]:
    """Per table with a difference: (rows only before, rows only after)."""
    changed: dict[str, tuple[list[dict[str, object]], ...]] = {}
    for table in sorted(set(before) | set(after)):
        old = before.get(table, [])
        new = after.get(table, [])
        old_keys = {repr(r) for r in old}
        new_keys = {repr(r) for r in new}
        gone = [r for r in old if repr(r) not in new_keys]
        added = [r for r in new if repr(r) not in old_keys]
        if gone or added:
            changed[table] = (gone, added)
    return changed
