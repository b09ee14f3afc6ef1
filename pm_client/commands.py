"""Every command of the protocol: its message, its reply, and one typed method each.

:data:`COMMANDS` maps each ``ClientMessage.command`` field name to the command
message class, the ``Reply.result`` field that answers it, and how the client
may carry it over a reconnect (:class:`Kind`). Reading the table shows the
whole command surface; a test checks it against the schema.

:class:`CommandMethods` holds one typed method per command: its name is the
command's name, its keyword arguments are the command message's fields, and it
returns the reply's result message. Each builds the message and hands it to
:meth:`CommandMethods.request`, which :class:`pm_client.client.PmClient`
implements (the methods live here so the connection logic stays readable).
In update commands an argument left at ``None`` is left unchanged by the
server; for nullable ids an empty string clears the value.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, TypeAlias

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from pm_proto.timestamps import to_timestamp
from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2

ProjectStatus: TypeAlias = entities_pb2.ProjectStatus.ValueType
Role: TypeAlias = entities_pb2.Role.ValueType
WorkItemType: TypeAlias = entities_pb2.WorkItemType.ValueType
WorkItemStatus: TypeAlias = entities_pb2.WorkItemStatus.ValueType
Priority: TypeAlias = entities_pb2.Priority.ValueType
SprintStatus: TypeAlias = entities_pb2.SprintStatus.ValueType
DependencyType: TypeAlias = entities_pb2.DependencyType.ValueType
LlmContextType: TypeAlias = entities_pb2.LlmContextType.ValueType
#: A point in time: an aware datetime, or a protobuf Timestamp as it is.
When: TypeAlias = datetime | Timestamp


class Kind(enum.Enum):
    """What the client does with a command in flight when the connection drops."""

    #: Sent again after the reconnect: reading twice changes nothing.
    READ = "read"
    #: Sent again after the reconnect with the same request id: the server
    #: applies it once, or returns the reply it stored when it committed.
    MUTATION = "mutation"
    #: Its effect belongs to one connection (subscriptions, presence): the
    #: caller gets ConnectionLost. What was in place before is restored by the
    #: client itself on reconnect.
    SESSION = "session"


@dataclass(frozen=True, slots=True)
class Command:
    message: type[Message]
    #: The ``Reply.result`` field that answers it.
    reply: str
    kind: Kind


_R, _M, _S = Kind.READ, Kind.MUTATION, Kind.SESSION

COMMANDS: Final[Mapping[str, Command]] = {
    "create_project": Command(commands_pb2.CreateProject, "project", _M),
    "update_project": Command(commands_pb2.UpdateProject, "project", _M),
    "archive_project": Command(commands_pb2.ArchiveProject, "project", _M),
    "delete_project": Command(commands_pb2.DeleteProject, "project", _M),
    "get_project": Command(commands_pb2.GetProject, "project", _R),
    "list_projects": Command(commands_pb2.ListProjects, "projects", _R),
    "add_member": Command(commands_pb2.AddMember, "member", _M),
    "change_member_role": Command(commands_pb2.ChangeMemberRole, "member", _M),
    "remove_member": Command(commands_pb2.RemoveMember, "member", _M),
    "list_members": Command(commands_pb2.ListMembers, "members", _R),
    "create_work_item": Command(commands_pb2.CreateWorkItem, "work_item", _M),
    "update_work_item": Command(commands_pb2.UpdateWorkItem, "work_item", _M),
    "delete_work_item": Command(commands_pb2.DeleteWorkItem, "work_item", _M),
    "get_work_item": Command(commands_pb2.GetWorkItem, "work_item", _R),
    "list_work_items": Command(commands_pb2.ListWorkItems, "work_items", _R),
    "create_sprint": Command(commands_pb2.CreateSprint, "sprint", _M),
    "update_sprint": Command(commands_pb2.UpdateSprint, "sprint", _M),
    "transition_sprint": Command(commands_pb2.TransitionSprint, "sprint", _M),
    "delete_sprint": Command(commands_pb2.DeleteSprint, "sprint", _M),
    "list_sprints": Command(commands_pb2.ListSprints, "sprints", _R),
    "create_comment": Command(commands_pb2.CreateComment, "comment", _M),
    "edit_comment": Command(commands_pb2.EditComment, "comment", _M),
    "delete_comment": Command(commands_pb2.DeleteComment, "comment", _M),
    "list_comments": Command(commands_pb2.ListComments, "comments", _R),
    "start_timer": Command(commands_pb2.StartTimer, "time_entry", _M),
    "stop_timer": Command(commands_pb2.StopTimer, "time_entry", _M),
    "create_time_entry": Command(commands_pb2.CreateTimeEntry, "time_entry", _M),
    "update_time_entry": Command(commands_pb2.UpdateTimeEntry, "time_entry", _M),
    "delete_time_entry": Command(commands_pb2.DeleteTimeEntry, "time_entry", _M),
    "list_time_entries": Command(commands_pb2.ListTimeEntries, "time_entries", _R),
    "get_running_timer": Command(commands_pb2.GetRunningTimer, "running_timer", _R),
    "create_dependency": Command(commands_pb2.CreateDependency, "dependency", _M),
    "delete_dependency": Command(commands_pb2.DeleteDependency, "dependency", _M),
    "list_dependencies": Command(commands_pb2.ListDependencies, "dependencies", _R),
    "create_swim_lane": Command(commands_pb2.CreateSwimLane, "swim_lane", _M),
    "update_swim_lane": Command(commands_pb2.UpdateSwimLane, "swim_lane", _M),
    "delete_swim_lane": Command(commands_pb2.DeleteSwimLane, "swim_lane", _M),
    "list_swim_lanes": Command(commands_pb2.ListSwimLanes, "swim_lanes", _R),
    "list_activity": Command(commands_pb2.ListActivity, "activity", _R),
    "list_llm_context": Command(commands_pb2.ListLlmContext, "llm_contexts", _R),
    "create_llm_context": Command(commands_pb2.CreateLlmContext, "llm_context", _M),
    "update_llm_context": Command(commands_pb2.UpdateLlmContext, "llm_context", _M),
    "delete_llm_context": Command(commands_pb2.DeleteLlmContext, "llm_context", _M),
    "join_presence": Command(commands_pb2.JoinPresence, "presence", _S),
    "leave_presence": Command(commands_pb2.LeavePresence, "presence", _S),
    "list_presence": Command(commands_pb2.ListPresence, "presence", _R),
    "subscribe": Command(commands_pb2.Subscribe, "subscribed", _S),
    "unsubscribe": Command(commands_pb2.Unsubscribe, "unsubscribed", _S),
    "ping": Command(commands_pb2.Ping, "pong", _R),
}


def _ts(value: When | None) -> Timestamp | None:
    if value is None or isinstance(value, Timestamp):
        return value
    return to_timestamp(value)


def _one_of(**given: str) -> dict[str, str]:
    """The one non-empty argument of a ``oneof``; ValueError when several are."""
    chosen = {name: value for name, value in given.items() if value}
    if len(chosen) > 1:
        raise ValueError(f"give one of {', '.join(given)}, not several")
    return chosen


class CommandMethods:
    """One typed method per command (mixed into :class:`pm_client.client.PmClient`)."""

    async def request(
        self,
        command: str,
        message: Message,
        *,
        request_id: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (raises RequestTimeout with the id)
    ) -> envelope_pb2.Reply:
        """Send ``message`` as ``command``; the Reply, or ServerError (see PmClient)."""
        raise NotImplementedError

    # -- projects ----------------------------------------------------------------

    async def create_project(
        self, *, key: str, name: str, description: str = ""
    ) -> commands_pb2.ProjectReply:
        """Create a project; the caller becomes its admin."""
        cmd = commands_pb2.CreateProject(key=key, name=name, description=description)
        return (await self.request("create_project", cmd)).project

    async def update_project(
        self,
        *,
        project_id: str,
        expected_version: int = 0,
        name: str | None = None,
        description: str | None = None,
        status: ProjectStatus | None = None,
    ) -> commands_pb2.ProjectReply:
        cmd = commands_pb2.UpdateProject(
            project_id=project_id,
            expected_version=expected_version,
            name=name,
            description=description,
            status=status,
        )
        return (await self.request("update_project", cmd)).project

    async def archive_project(
        self, *, project_id: str, expected_version: int = 0
    ) -> commands_pb2.ProjectReply:
        cmd = commands_pb2.ArchiveProject(project_id=project_id, expected_version=expected_version)
        return (await self.request("archive_project", cmd)).project

    async def delete_project(
        self, *, project_id: str, expected_version: int = 0
    ) -> commands_pb2.ProjectReply:
        """Soft-delete a project and everything in it."""
        cmd = commands_pb2.DeleteProject(project_id=project_id, expected_version=expected_version)
        return (await self.request("delete_project", cmd)).project

    async def get_project(
        self, *, project_id: str = "", key: str = ""
    ) -> commands_pb2.ProjectReply:
        """One project, by id or by key."""
        cmd = commands_pb2.GetProject(**_one_of(project_id=project_id, key=key))
        return (await self.request("get_project", cmd)).project

    async def list_projects(self, *, include_archived: bool = False) -> commands_pb2.ProjectList:
        cmd = commands_pb2.ListProjects(include_archived=include_archived)
        return (await self.request("list_projects", cmd)).projects

    # -- members -----------------------------------------------------------------

    async def add_member(
        self, *, project_id: str, user_id: str, role: Role
    ) -> commands_pb2.MemberReply:
        cmd = commands_pb2.AddMember(project_id=project_id, user_id=user_id, role=role)
        return (await self.request("add_member", cmd)).member

    async def change_member_role(
        self, *, project_id: str, user_id: str, role: Role, expected_version: int = 0
    ) -> commands_pb2.MemberReply:
        cmd = commands_pb2.ChangeMemberRole(
            project_id=project_id, user_id=user_id, role=role, expected_version=expected_version
        )
        return (await self.request("change_member_role", cmd)).member

    async def remove_member(
        self, *, project_id: str, user_id: str, expected_version: int = 0
    ) -> commands_pb2.MemberReply:
        cmd = commands_pb2.RemoveMember(
            project_id=project_id, user_id=user_id, expected_version=expected_version
        )
        return (await self.request("remove_member", cmd)).member

    async def list_members(self, *, project_id: str) -> commands_pb2.MemberList:
        cmd = commands_pb2.ListMembers(project_id=project_id)
        return (await self.request("list_members", cmd)).members

    # -- work items --------------------------------------------------------------

    async def create_work_item(
        self,
        *,
        project_id: str,
        type: WorkItemType,
        title: str,
        description: str = "",
        status: WorkItemStatus = entities_pb2.WORK_ITEM_STATUS_UNSPECIFIED,
        priority: Priority = entities_pb2.PRIORITY_UNSPECIFIED,
        story_points: int | None = None,
        position: float | None = None,
        parent_id: str | None = None,
        sprint_id: str | None = None,
        assignee_id: str | None = None,
    ) -> commands_pb2.WorkItemReply:
        """Create an epic, story or task (status defaults to backlog, priority to medium)."""
        cmd = commands_pb2.CreateWorkItem(
            project_id=project_id,
            type=type,
            title=title,
            description=description,
            status=status,
            priority=priority,
            story_points=story_points,
            position=position,
            parent_id=parent_id,
            sprint_id=sprint_id,
            assignee_id=assignee_id,
        )
        return (await self.request("create_work_item", cmd)).work_item

    async def update_work_item(
        self,
        *,
        item_id: str,
        expected_version: int = 0,
        title: str | None = None,
        description: str | None = None,
        type: WorkItemType | None = None,
        status: WorkItemStatus | None = None,
        priority: Priority | None = None,
        story_points: int | None = None,
        clear_story_points: bool = False,
        position: float | None = None,
        parent_id: str | None = None,
        sprint_id: str | None = None,
        assignee_id: str | None = None,
    ) -> commands_pb2.WorkItemReply:
        """Change an item; also reparent, move to a sprint ("" = backlog) and reorder."""
        cmd = commands_pb2.UpdateWorkItem(
            item_id=item_id,
            expected_version=expected_version,
            title=title,
            description=description,
            type=type,
            status=status,
            priority=priority,
            story_points=story_points,
            clear_story_points=clear_story_points,
            position=position,
            parent_id=parent_id,
            sprint_id=sprint_id,
            assignee_id=assignee_id,
        )
        return (await self.request("update_work_item", cmd)).work_item

    async def delete_work_item(
        self, *, item_id: str, expected_version: int = 0
    ) -> commands_pb2.WorkItemReply:
        cmd = commands_pb2.DeleteWorkItem(item_id=item_id, expected_version=expected_version)
        return (await self.request("delete_work_item", cmd)).work_item

    async def get_work_item(
        self, *, item_id: str = "", display_key: str = ""
    ) -> commands_pb2.WorkItemReply:
        """One item, by id or by display key (``PM-12``, case-insensitive)."""
        cmd = commands_pb2.GetWorkItem(**_one_of(item_id=item_id, display_key=display_key))
        return (await self.request("get_work_item", cmd)).work_item

    async def list_work_items(
        self,
        *,
        project_id: str,
        types: Iterable[WorkItemType] = (),
        statuses: Iterable[WorkItemStatus] = (),
        sprint_id: str | None = None,
        parent_id: str | None = None,
        assignee_id: str | None = None,
        descendants_of: str | None = None,
        ancestors_of: str | None = None,
        exclude_done: bool = False,
        limit: int = 0,
        after: str = "",
    ) -> commands_pb2.WorkItemList:
        """Items of a project in board order; ``""`` for sprint/parent/assignee means none.

        A full page carries ``next_after``: pass it as ``after`` for the next page.
        """
        cmd = commands_pb2.ListWorkItems(
            project_id=project_id,
            types=types,
            statuses=statuses,
            sprint_id=sprint_id,
            parent_id=parent_id,
            assignee_id=assignee_id,
            descendants_of=descendants_of,
            ancestors_of=ancestors_of,
            exclude_done=exclude_done,
            limit=limit,
            after=after,
        )
        return (await self.request("list_work_items", cmd)).work_items

    # -- sprints -----------------------------------------------------------------

    async def create_sprint(
        self,
        *,
        project_id: str,
        name: str,
        goal: str = "",
        starts_at: When | None = None,
        ends_at: When | None = None,
    ) -> commands_pb2.SprintReply:
        cmd = commands_pb2.CreateSprint(
            project_id=project_id,
            name=name,
            goal=goal,
            starts_at=_ts(starts_at),
            ends_at=_ts(ends_at),
        )
        return (await self.request("create_sprint", cmd)).sprint

    async def update_sprint(
        self,
        *,
        sprint_id: str,
        expected_version: int = 0,
        name: str | None = None,
        goal: str | None = None,
        starts_at: When | None = None,
        ends_at: When | None = None,
        clear_starts_at: bool = False,
        clear_ends_at: bool = False,
    ) -> commands_pb2.SprintReply:
        cmd = commands_pb2.UpdateSprint(
            sprint_id=sprint_id,
            expected_version=expected_version,
            name=name,
            goal=goal,
            starts_at=_ts(starts_at),
            ends_at=_ts(ends_at),
            clear_starts_at=clear_starts_at,
            clear_ends_at=clear_ends_at,
        )
        return (await self.request("update_sprint", cmd)).sprint

    async def transition_sprint(
        self, *, sprint_id: str, status: SprintStatus, expected_version: int = 0
    ) -> commands_pb2.SprintReply:
        """Start, complete or cancel a sprint."""
        cmd = commands_pb2.TransitionSprint(
            sprint_id=sprint_id, status=status, expected_version=expected_version
        )
        return (await self.request("transition_sprint", cmd)).sprint

    async def delete_sprint(
        self, *, sprint_id: str, expected_version: int = 0
    ) -> commands_pb2.SprintReply:
        cmd = commands_pb2.DeleteSprint(sprint_id=sprint_id, expected_version=expected_version)
        return (await self.request("delete_sprint", cmd)).sprint

    async def list_sprints(
        self, *, project_id: str, statuses: Iterable[SprintStatus] = ()
    ) -> commands_pb2.SprintList:
        cmd = commands_pb2.ListSprints(project_id=project_id, statuses=statuses)
        return (await self.request("list_sprints", cmd)).sprints

    # -- comments ----------------------------------------------------------------

    async def create_comment(self, *, work_item_id: str, body: str) -> commands_pb2.CommentReply:
        cmd = commands_pb2.CreateComment(work_item_id=work_item_id, body=body)
        return (await self.request("create_comment", cmd)).comment

    async def edit_comment(
        self, *, comment_id: str, body: str, expected_version: int = 0
    ) -> commands_pb2.CommentReply:
        """Change a comment's body (its author only)."""
        cmd = commands_pb2.EditComment(
            comment_id=comment_id, body=body, expected_version=expected_version
        )
        return (await self.request("edit_comment", cmd)).comment

    async def delete_comment(
        self, *, comment_id: str, expected_version: int = 0
    ) -> commands_pb2.CommentReply:
        cmd = commands_pb2.DeleteComment(comment_id=comment_id, expected_version=expected_version)
        return (await self.request("delete_comment", cmd)).comment

    async def list_comments(
        self, *, work_item_id: str, limit: int = 0, after_id: str = ""
    ) -> commands_pb2.CommentList:
        """Comments of an item, oldest first; page with ``after_id``."""
        cmd = commands_pb2.ListComments(work_item_id=work_item_id, limit=limit, after_id=after_id)
        return (await self.request("list_comments", cmd)).comments

    # -- time entries ------------------------------------------------------------

    async def start_timer(
        self, *, work_item_id: str, note: str = ""
    ) -> commands_pb2.TimeEntryReply:
        """Start the caller's timer on an item; a running one is stopped (``stopped``)."""
        cmd = commands_pb2.StartTimer(work_item_id=work_item_id, note=note)
        return (await self.request("start_timer", cmd)).time_entry

    async def stop_timer(self) -> commands_pb2.TimeEntryReply:
        """Stop the caller's running timer (NOT_FOUND when none runs)."""
        return (await self.request("stop_timer", commands_pb2.StopTimer())).time_entry

    async def create_time_entry(
        self, *, work_item_id: str, started_at: When, ended_at: When, note: str = ""
    ) -> commands_pb2.TimeEntryReply:
        """Log time by hand: start before end, at most 24 h, not in the future."""
        cmd = commands_pb2.CreateTimeEntry(
            work_item_id=work_item_id,
            started_at=_ts(started_at),
            ended_at=_ts(ended_at),
            note=note,
        )
        return (await self.request("create_time_entry", cmd)).time_entry

    async def update_time_entry(
        self,
        *,
        entry_id: str,
        expected_version: int = 0,
        started_at: When | None = None,
        ended_at: When | None = None,
        note: str | None = None,
    ) -> commands_pb2.TimeEntryReply:
        cmd = commands_pb2.UpdateTimeEntry(
            entry_id=entry_id,
            expected_version=expected_version,
            started_at=_ts(started_at),
            ended_at=_ts(ended_at),
            note=note,
        )
        return (await self.request("update_time_entry", cmd)).time_entry

    async def delete_time_entry(
        self, *, entry_id: str, expected_version: int = 0
    ) -> commands_pb2.TimeEntryReply:
        cmd = commands_pb2.DeleteTimeEntry(entry_id=entry_id, expected_version=expected_version)
        return (await self.request("delete_time_entry", cmd)).time_entry

    async def list_time_entries(
        self,
        *,
        user_id: str | None = None,
        work_item_id: str | None = None,
        project_id: str | None = None,
        limit: int = 0,
        before_started_at: When | None = None,
        before_id: str = "",
    ) -> commands_pb2.TimeEntryList:
        """Time entries, newest first; page with ``before_started_at`` + ``before_id``."""
        cmd = commands_pb2.ListTimeEntries(
            user_id=user_id,
            work_item_id=work_item_id,
            project_id=project_id,
            limit=limit,
            before_started_at=_ts(before_started_at),
            before_id=before_id,
        )
        return (await self.request("list_time_entries", cmd)).time_entries

    async def get_running_timer(self) -> commands_pb2.RunningTimerReply:
        """The caller's running timer; ``entry`` is absent when none runs."""
        reply = await self.request("get_running_timer", commands_pb2.GetRunningTimer())
        return reply.running_timer

    # -- dependencies ------------------------------------------------------------

    async def create_dependency(
        self, *, from_item_id: str, to_item_id: str, type: DependencyType
    ) -> commands_pb2.DependencyReply:
        cmd = commands_pb2.CreateDependency(
            from_item_id=from_item_id, to_item_id=to_item_id, type=type
        )
        return (await self.request("create_dependency", cmd)).dependency

    async def delete_dependency(self, *, dependency_id: str) -> commands_pb2.DependencyReply:
        cmd = commands_pb2.DeleteDependency(dependency_id=dependency_id)
        return (await self.request("delete_dependency", cmd)).dependency

    async def list_dependencies(self, *, item_id: str) -> commands_pb2.DependencyList:
        """The ``outgoing`` and ``incoming`` dependencies of one item."""
        cmd = commands_pb2.ListDependencies(item_id=item_id)
        return (await self.request("list_dependencies", cmd)).dependencies

    # -- swim lanes --------------------------------------------------------------

    async def create_swim_lane(
        self,
        *,
        project_id: str,
        name: str,
        status: WorkItemStatus,
        position: int | None = None,
        wip_limit: int | None = None,
    ) -> commands_pb2.SwimLaneReply:
        cmd = commands_pb2.CreateSwimLane(
            project_id=project_id, name=name, status=status, position=position, wip_limit=wip_limit
        )
        return (await self.request("create_swim_lane", cmd)).swim_lane

    async def update_swim_lane(
        self,
        *,
        lane_id: str,
        expected_version: int = 0,
        name: str | None = None,
        status: WorkItemStatus | None = None,
        position: int | None = None,
        wip_limit: int | None = None,
        clear_wip_limit: bool = False,
    ) -> commands_pb2.SwimLaneReply:
        cmd = commands_pb2.UpdateSwimLane(
            lane_id=lane_id,
            expected_version=expected_version,
            name=name,
            status=status,
            position=position,
            wip_limit=wip_limit,
            clear_wip_limit=clear_wip_limit,
        )
        return (await self.request("update_swim_lane", cmd)).swim_lane

    async def delete_swim_lane(
        self, *, lane_id: str, expected_version: int = 0
    ) -> commands_pb2.SwimLaneReply:
        cmd = commands_pb2.DeleteSwimLane(lane_id=lane_id, expected_version=expected_version)
        return (await self.request("delete_swim_lane", cmd)).swim_lane

    async def list_swim_lanes(self, *, project_id: str) -> commands_pb2.SwimLaneList:
        cmd = commands_pb2.ListSwimLanes(project_id=project_id)
        return (await self.request("list_swim_lanes", cmd)).swim_lanes

    # -- activity log ------------------------------------------------------------

    async def list_activity(
        self,
        *,
        project_id: str = "",
        entity: commands_pb2.EntityRef | None = None,
        limit: int = 0,
        before_id: str = "",
    ) -> commands_pb2.ActivityList:
        """The audit trail of a project or of one entity, newest first."""
        if project_id and entity is not None:
            raise ValueError("give one of project_id, entity, not several")
        cmd = commands_pb2.ListActivity(limit=limit, before_id=before_id)
        if entity is not None:
            cmd.entity.CopyFrom(entity)
        elif project_id:
            cmd.project_id = project_id
        return (await self.request("list_activity", cmd)).activity

    # -- llm_context -------------------------------------------------------------

    async def list_llm_context(
        self,
        *,
        project_id: str | None = None,
        exclude_global: bool = False,
        types: Iterable[LlmContextType] = (),
        category: str | None = None,
        limit: int = 0,
    ) -> commands_pb2.LlmContextList:
        """Project rows and (unless ``exclude_global``) tenant-wide rows."""
        cmd = commands_pb2.ListLlmContext(
            project_id=project_id,
            exclude_global=exclude_global,
            types=types,
            category=category,
            limit=limit,
        )
        return (await self.request("list_llm_context", cmd)).llm_contexts

    async def create_llm_context(
        self,
        *,
        context_type: LlmContextType,
        title: str,
        content: str,
        project_id: str | None = None,
        category: str = "",
        example_sql: str | None = None,
        priority: int | None = None,
    ) -> commands_pb2.LlmContextReply:
        """A context row of a project, or tenant-wide without ``project_id``."""
        cmd = commands_pb2.CreateLlmContext(
            project_id=project_id,
            context_type=context_type,
            category=category,
            title=title,
            content=content,
            example_sql=example_sql,
            priority=priority,
        )
        return (await self.request("create_llm_context", cmd)).llm_context

    async def update_llm_context(
        self,
        *,
        context_id: str,
        expected_version: int = 0,
        context_type: LlmContextType | None = None,
        category: str | None = None,
        title: str | None = None,
        content: str | None = None,
        example_sql: str | None = None,
        priority: int | None = None,
    ) -> commands_pb2.LlmContextReply:
        cmd = commands_pb2.UpdateLlmContext(
            context_id=context_id,
            expected_version=expected_version,
            context_type=context_type,
            category=category,
            title=title,
            content=content,
            example_sql=example_sql,
            priority=priority,
        )
        return (await self.request("update_llm_context", cmd)).llm_context

    async def delete_llm_context(
        self, *, context_id: str, expected_version: int = 0
    ) -> commands_pb2.LlmContextReply:
        cmd = commands_pb2.DeleteLlmContext(
            context_id=context_id, expected_version=expected_version
        )
        return (await self.request("delete_llm_context", cmd)).llm_context

    # -- presence ----------------------------------------------------------------

    async def join_presence(self, *, project_id: str) -> commands_pb2.PresenceList:
        """Be shown as present in a project (rejoined after a reconnect)."""
        cmd = commands_pb2.JoinPresence(project_id=project_id)
        return (await self.request("join_presence", cmd)).presence

    async def leave_presence(self, *, project_id: str) -> commands_pb2.PresenceList:
        cmd = commands_pb2.LeavePresence(project_id=project_id)
        return (await self.request("leave_presence", cmd)).presence

    async def list_presence(self, *, project_id: str) -> commands_pb2.PresenceList:
        cmd = commands_pb2.ListPresence(project_id=project_id)
        return (await self.request("list_presence", cmd)).presence

    # -- subscriptions -----------------------------------------------------------

    async def subscribe(
        self, project_ids: Sequence[str], *, resume: tuple[str, int] | None = None
    ) -> commands_pb2.SubscribeReply:
        """Receive the events of these projects, from ``resume = (epoch, seq)`` or from now.

        Subscribe every project in one call to get one ordered stream. The
        reply's ``must_refetch`` says the position could not be honoured.
        """
        cmd = commands_pb2.Subscribe(project_ids=project_ids)
        if resume is not None:
            cmd.resume.epoch, cmd.resume.seq = resume
        return (await self.request("subscribe", cmd)).subscribed

    async def unsubscribe(self, project_ids: Sequence[str]) -> commands_pb2.UnsubscribeReply:
        cmd = commands_pb2.Unsubscribe(project_ids=project_ids)
        return (await self.request("unsubscribe", cmd)).unsubscribed

    async def ping(self, *, nonce: int = 0) -> commands_pb2.Pong:
        """Round trip to the server; echoes ``nonce`` with the server's time."""
        return (await self.request("ping", commands_pb2.Ping(nonce=nonce))).pong
