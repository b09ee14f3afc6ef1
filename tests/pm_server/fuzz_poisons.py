"""Trudy's poisons: commands an editor of P sends, each broken in exactly one way.

Each must be refused, and none may change anything: a reparent into a cycle
or to the wrong level of epic > story > task, a dependency closing a cycle
through a long chain, an unknown enum value, a negative or oversized number,
a text past its limit or with control characters, an out-of-range
timestamp, a stale version, a sprint transition the rules forbid, a row of
another project or tenant, someone else's comment or time entry, an admin's
command; and at the wire: a required text sent with the wrong wire type,
invalid UTF-8, a length past the end, groups nested deeper than a parser
recurses, an empty or oversized request id, an unknown protocol version or
command number around a command she *could* run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import strategies as st

from pm_proto.timestamps import to_timestamp
from pm_proto.v1 import commands_pb2, entities_pb2
from tests.pm_server import fuzz_wire as wire
from tests.pm_server.fuzz_frames import (
    COMMAND_NUMBERS,
    COMMANDS,
    GHOST_ID,
    INT32,
    INT64,
    MAX_SECONDS,
    MIN_SECONDS,
    PROJECT_KEY,
    Built,
    Frame,
    Targets,
    ascii_huge,
    huge_text,
    int_range,
    plain,
    with_body,
)

P = commands_pb2
E = entities_pb2


Poison = tuple[str, Message | bytes]
PoisonMaker = Callable[[st.DrawFn, Targets], Poison]


def _stale(draw: st.DrawFn) -> int:
    return draw(st.one_of(st.integers(1_000, INT64[1]), st.integers(INT64[0], -1)))


def _unknown(draw: st.DrawFn, descriptor_values: list[int]) -> int:
    return draw(
        st.one_of(
            st.integers(*INT32), st.sampled_from([-1, max(descriptor_values) + 1, 99])
        ).filter(lambda n: n not in descriptor_values or n == 0)
    )


def _ts(dt: datetime) -> Timestamp:
    return to_timestamp(dt)


def _now() -> datetime:
    return datetime.now(UTC)


def _bad_time(draw: st.DrawFn) -> Timestamp:
    return draw(
        st.one_of(
            st.builds(Timestamp, seconds=st.integers(MAX_SECONDS + 1, INT64[1])),
            st.builds(Timestamp, seconds=st.integers(INT64[0], MIN_SECONDS - 1)),
            st.builds(
                Timestamp,
                seconds=st.just(1_700_000_000),
                nanos=st.one_of(st.integers(INT32[0], -1), st.integers(10**9, INT32[1])),
            ),
        )
    )


def _foreign_item(draw: st.DrawFn, t: Targets) -> str:
    return draw(st.sampled_from([t.q.story_id, t.q.epic_id, t.g.story_id, t.g.epic_id, GHOST_ID]))


def _bad_title(draw: st.DrawFn) -> str:
    return draw(
        st.one_of(
            st.sampled_from(["", "   ", "\t", "a\nb", "x\x00", "\x7f"]),
            huge_text(501, 20_000).filter(lambda s: len(s.strip()) > 500 or "\x01" in s),
        )
    )


def _create_item(draw: st.DrawFn, t: Targets) -> Poison:
    base: dict[str, Any] = {"project_id": t.p.project_id, "type": E.WORK_ITEM_TYPE_STORY}
    base["title"] = "fine"
    flaw = draw(
        st.sampled_from(
            [
                "type",
                "status",
                "priority",
                "points",
                "position",
                "title",
                "description",
                "parent",
                "sprint",
                "assignee",
                "project",
                "epic_parent",
                "task_under_epic",
            ]
        )
    )
    types = [v.number for v in E.WorkItemType.DESCRIPTOR.values]
    statuses = [v.number for v in E.WorkItemStatus.DESCRIPTOR.values]
    priorities = [v.number for v in E.Priority.DESCRIPTOR.values]
    if flaw == "type":
        base["type"] = _unknown(draw, types)
    elif flaw == "status":
        base["status"] = _unknown(draw, statuses)
        if base["status"] == 0:
            base["status"] = -7
    elif flaw == "priority":
        base["priority"] = _unknown(draw, priorities)
        if base["priority"] == 0:
            base["priority"] = 77
    elif flaw == "points":
        base["story_points"] = draw(
            st.one_of(st.integers(INT32[0], -1), st.integers(1001, INT32[1]))
        )
    elif flaw == "position":
        base["position"] = draw(st.sampled_from([float("nan"), float("inf"), float("-inf")]))
    elif flaw == "title":
        base["title"] = _bad_title(draw)
    elif flaw == "description":
        base["description"] = draw(st.one_of(ascii_huge(50_001, 60_000), st.just("a\x00")))
    elif flaw == "parent":
        base["parent_id"] = draw(st.sampled_from([t.q.epic_id, t.g.epic_id, t.p.story_id]))
    elif flaw == "sprint":
        base["sprint_id"] = draw(
            st.sampled_from([t.q.sprint_id, t.g.sprint_id, t.completed_sprint_id, "nope"])
        )
    elif flaw == "assignee":
        base["assignee_id"] = draw(st.sampled_from(["nobody", "gary", "x" * 65]))
    elif flaw == "project":
        base["project_id"] = draw(
            st.sampled_from([t.q.project_id, t.g.project_id, t.legit_project_id, "", "x" * 5000])
        )
    elif flaw == "epic_parent":
        base.update(type=E.WORK_ITEM_TYPE_EPIC, parent_id=t.p.epic_id)
    else:
        base.update(type=E.WORK_ITEM_TYPE_TASK, parent_id=t.p.epic_id)
    return "create_work_item", P.CreateWorkItem(**base)


def _reparent(draw: st.DrawFn, t: Targets) -> Poison:
    """Moves that break the epic > story > task hierarchy or make an item its own ancestor."""
    p = t.p
    item_id, parent_id = draw(
        st.sampled_from(
            [
                (p.epic_id, p.story_id),  # an epic has no parent
                (p.epic_id, p.task_id),  # ... nor under its own grandchild
                (p.epic_id, p.epic_id),
                (p.story_id, p.task_id),  # under its own child
                (p.story_id, p.story_id),
                (p.story_id, p.story2_id),  # a story's parent is an epic
                (p.story2_id, p.story_id),
                (p.task_id, p.epic_id),  # a task's parent is a story
                (p.task_id, p.task_id),
                (p.story_id, t.q.epic_id),  # another project
                (p.story_id, t.g.epic_id),  # another tenant
                (p.story_id, GHOST_ID),
                (t.chain[-1], t.chain[0]),  # stories of the chain: a story under a story
            ]
        )
    )
    return "update_work_item", P.UpdateWorkItem(item_id=item_id, parent_id=parent_id)


def _retype(draw: st.DrawFn, t: Targets) -> Poison:
    p = t.p
    item_id, new_type = draw(
        st.sampled_from(
            [
                (p.epic_id, E.WORK_ITEM_TYPE_TASK),  # its stories no longer fit
                (p.epic_id, E.WORK_ITEM_TYPE_STORY),
                (p.story_id, E.WORK_ITEM_TYPE_EPIC),  # an epic cannot have a parent
                (p.story_id, E.WORK_ITEM_TYPE_TASK),
                (p.task_id, E.WORK_ITEM_TYPE_EPIC),
            ]
        )
    )
    return "update_work_item", P.UpdateWorkItem(item_id=item_id, type=new_type)


def _update_item(draw: st.DrawFn, t: Targets) -> Poison:
    p = t.p
    item = draw(st.sampled_from([p.story_id, p.story2_id, p.task_id, p.epic_id]))
    flaw = draw(
        st.sampled_from(
            [
                *("nothing", "stale", "points", "both_points", "title", "status", "foreign"),
                *("sprint", "bad_date", "due_before_start"),
            ]
        )
    )
    cmd = P.UpdateWorkItem(item_id=item)
    if flaw == "stale":
        cmd.expected_version = _stale(draw)
        cmd.title = "stale write"
    elif flaw == "points":
        cmd.story_points = draw(st.integers(INT32[0], -1))
    elif flaw == "both_points":
        cmd.story_points = 3
        cmd.clear_story_points = True
    elif flaw == "title":
        cmd.title = _bad_title(draw)
    elif flaw == "status":
        cmd.status = draw(st.sampled_from([0, 6, -1, INT32[1]]))  # type: ignore[assignment]
    elif flaw == "foreign":
        cmd.item_id = _foreign_item(draw, t)
        cmd.title = "hijack"
    elif flaw == "sprint":
        cmd.sprint_id = draw(st.sampled_from([t.q.sprint_id, t.g.sprint_id, t.completed_sprint_id]))
    elif flaw == "bad_date":
        cmd.due_date = _bad_date(draw)
    elif flaw == "due_before_start":
        cmd.start_date, cmd.due_date = "2026-05-10", "2026-05-09"
    return "update_work_item", cmd


def _bad_date(draw: st.DrawFn) -> str:
    return draw(
        st.sampled_from(
            ["2026-02-30", "0000-01-01", "2026-1-1", "20260101", "tomorrow", "2026-01-01T00:00"]
        )
    )


def _bulk(draw: st.DrawFn, t: Targets) -> Poison:
    """A bulk update of P's items that one item, one id or one value spoils: all refused."""
    p = t.p
    cmd = P.BulkUpdateWorkItems(item_ids=[p.story_id, p.story2_id, p.task_id], title="bulk")
    flaw = draw(
        st.sampled_from(
            ["foreign", "hierarchy", "dates", "bad_date", "twice", "too_many", "none", "nothing"]
        )
    )
    if flaw == "foreign":  # one item trudy may not change, anywhere in the list
        cmd.item_ids.insert(draw(st.integers(0, 3)), _foreign_item(draw, t))
    elif flaw == "hierarchy":  # the stories may hang under the epic, the epic may not
        cmd.item_ids[:] = [p.story_id, p.story2_id, p.epic_id]
        cmd.parent_id = p.epic_id
    elif flaw == "dates":
        cmd.start_date, cmd.due_date = "2026-05-10", "2026-05-09"
    elif flaw == "bad_date":
        cmd.start_date = _bad_date(draw)
    elif flaw == "twice":
        cmd.item_ids.append(p.story_id)
    elif flaw == "too_many":
        cmd.item_ids[:] = [p.story_id] + [f"{GHOST_ID}-{n}" for n in range(500)]
    elif flaw == "none":
        del cmd.item_ids[:]
    else:
        cmd.ClearField("title")
    return "bulk_update_work_items", cmd


def _delete_item(draw: st.DrawFn, t: Targets) -> Poison:
    choice = draw(st.sampled_from(["blocked", "blocked2", "stale", "foreign"]))
    if choice == "blocked":  # it has live children
        return "delete_work_item", P.DeleteWorkItem(item_id=t.p.epic_id)
    if choice == "blocked2":
        return "delete_work_item", P.DeleteWorkItem(item_id=t.p.story_id)
    if choice == "stale":
        return "delete_work_item", P.DeleteWorkItem(
            item_id=t.p.task_id, expected_version=_stale(draw)
        )
    return "delete_work_item", P.DeleteWorkItem(item_id=_foreign_item(draw, t))


def _dependency(draw: st.DrawFn, t: Targets) -> Poison:
    chain = t.chain
    choice = draw(st.sampled_from(["cycle", "cycle", "self", "duplicate", "type", "foreign"]))
    blocks = E.DEPENDENCY_TYPE_BLOCKS
    if choice == "cycle":  # closes a cycle through the chain, however long
        j = draw(st.integers(1, len(chain) - 1))
        i = draw(st.integers(0, j - 1))
        cmd = P.CreateDependency(from_item_id=chain[j], to_item_id=chain[i], type=blocks)
    elif choice == "self":
        item = draw(st.sampled_from(chain))
        cmd = P.CreateDependency(from_item_id=item, to_item_id=item, type=blocks)
    elif choice == "duplicate":
        i = draw(st.integers(0, len(chain) - 2))
        cmd = P.CreateDependency(from_item_id=chain[i], to_item_id=chain[i + 1], type=blocks)
    elif choice == "type":
        known = [v.number for v in E.DependencyType.DESCRIPTOR.values]
        cmd = P.CreateDependency(
            from_item_id=chain[0],
            to_item_id=t.p.task_id,
            type=_unknown(draw, known),  # type: ignore[arg-type]
        )
    else:
        cmd = P.CreateDependency(
            from_item_id=draw(st.sampled_from([chain[0], t.q.story_id])),
            to_item_id=_foreign_item(draw, t),
            type=blocks,
        )
    return "create_dependency", cmd


def _delete_dependency(draw: st.DrawFn, t: Targets) -> Poison:
    dep = draw(st.sampled_from([t.q.dependency_id, t.g.dependency_id, GHOST_ID]))
    return "delete_dependency", P.DeleteDependency(dependency_id=dep)


def _project_read(draw: st.DrawFn, t: Targets) -> Poison:
    """A project-wide read with a broken cursor or limit, or of a project she cannot read."""
    name = draw(st.sampled_from(["list_project_dependencies", "list_blocked_items"]))
    message = (
        P.ListProjectDependencies if name == "list_project_dependencies" else P.ListBlockedItems
    )
    choice = draw(st.sampled_from(["after", "limit", "foreign"]))
    if choice == "after":  # neither a dependency id nor an item number
        after = draw(st.sampled_from(["x", "-1", "1e3", "1/2", " 7", "\u0663", "9" * 40]))
        return name, message(project_id=t.p.project_id, after=after)
    if choice == "limit":
        limit = draw(st.one_of(st.integers(INT32[0], -1), st.integers(1001, INT32[1])))
        return name, message(project_id=t.p.project_id, limit=limit)
    project = draw(st.sampled_from([t.q.project_id, t.g.project_id, GHOST_ID]))
    return name, message(project_id=project)


def _sprint(draw: st.DrawFn, t: Targets) -> Poison:
    S = E
    planned, active, done = t.p.sprint_id, t.active_sprint_id, t.completed_sprint_id
    choice = draw(
        st.sampled_from(
            [
                "planned_to_completed",
                "second_active",
                "active_to_planned",
                "done_again",
                "unknown_status",
                "update_done",
                "order",
                "bad_time",
                "bad_name",
                "delete_active",
                "stale",
            ]
        )
    )
    if choice == "planned_to_completed":
        return "transition_sprint", P.TransitionSprint(
            sprint_id=planned, status=S.SPRINT_STATUS_COMPLETED
        )
    if choice == "second_active":  # one active sprint per project
        return "transition_sprint", P.TransitionSprint(
            sprint_id=planned, status=S.SPRINT_STATUS_ACTIVE
        )
    if choice == "active_to_planned":
        return "transition_sprint", P.TransitionSprint(
            sprint_id=active,
            status=draw(st.sampled_from([S.SPRINT_STATUS_PLANNED, S.SPRINT_STATUS_ACTIVE])),
        )
    if choice == "done_again":
        return "transition_sprint", P.TransitionSprint(
            sprint_id=done,
            status=draw(st.sampled_from([1, 2, 3, 4])),  # type: ignore[arg-type]
        )
    if choice == "unknown_status":
        return "transition_sprint", P.TransitionSprint(
            sprint_id=draw(st.sampled_from([planned, active])),
            status=draw(st.sampled_from([0, 5, -1, INT32[1]])),  # type: ignore[arg-type]
        )
    if choice == "update_done":  # completed sprints are immutable
        return "update_sprint", P.UpdateSprint(sprint_id=done, name="rewrite history")
    if choice == "order":
        now = _now()
        return "create_sprint", P.CreateSprint(
            project_id=t.p.project_id, name="ok", starts_at=_ts(now), ends_at=_ts(now)
        )
    if choice == "bad_time":
        cmd = P.CreateSprint(project_id=t.p.project_id, name="ok")
        cmd.starts_at.CopyFrom(_bad_time(draw))
        return "create_sprint", cmd
    if choice == "bad_name":
        return "create_sprint", P.CreateSprint(project_id=t.p.project_id, name=_bad_title(draw))
    if choice == "delete_active":
        return "delete_sprint", P.DeleteSprint(sprint_id=active)
    return "update_sprint", P.UpdateSprint(
        sprint_id=planned, name="stale", expected_version=_stale(draw)
    )


def _comment(draw: st.DrawFn, t: Targets) -> Poison:
    choice = draw(
        st.sampled_from(["empty", "huge", "control", "edit_other", "delete_other", "foreign"])
    )
    story = t.p.story_id
    if choice == "empty":
        return "create_comment", P.CreateComment(work_item_id=story, body="")
    if choice == "huge":
        return "create_comment", P.CreateComment(
            work_item_id=story, body=draw(ascii_huge(20_001, 40_000))
        )
    if choice == "control":
        return "create_comment", P.CreateComment(work_item_id=story, body="bell\x07")
    if choice == "edit_other":  # only its author edits a comment
        return "edit_comment", P.EditComment(comment_id=t.p.comment_id, body="mine now")
    if choice == "delete_other":  # its author or an admin deletes it; trudy is an editor
        return "delete_comment", P.DeleteComment(comment_id=t.p.comment_id)
    return "create_comment", P.CreateComment(work_item_id=_foreign_item(draw, t), body="hi")


def _time_entry(draw: st.DrawFn, t: Targets) -> Poison:
    now = _now()
    story = t.p.story_id
    choice = draw(
        st.sampled_from(
            [
                "order",
                "long",
                "future",
                "missing",
                "bad_time",
                "update_other",
                "delete_other",
                "timer_foreign",
                "stop_none",
            ]
        )
    )
    if choice in ("order", "long", "future", "missing", "bad_time"):
        start, end = now - timedelta(hours=2), now - timedelta(hours=1)
        if choice == "order":
            start, end = end, start
        elif choice == "long":
            start = end - timedelta(hours=24, seconds=draw(st.integers(1, 10**6)))
        elif choice == "future":
            end = now + timedelta(hours=draw(st.integers(1, 10**4)))
        cmd = P.CreateTimeEntry(work_item_id=story, started_at=_ts(start), ended_at=_ts(end))
        if choice == "missing":
            cmd.ClearField(draw(st.sampled_from(["started_at", "ended_at"])))
        elif choice == "bad_time":
            cmd.started_at.CopyFrom(_bad_time(draw))
        return "create_time_entry", cmd
    if choice == "update_other":  # the entry's user or a project admin only
        return "update_time_entry", P.UpdateTimeEntry(entry_id=t.p.entry_id, note="mine")
    if choice == "delete_other":
        return "delete_time_entry", P.DeleteTimeEntry(entry_id=t.p.entry_id)
    if choice == "timer_foreign":
        return "start_timer", P.StartTimer(work_item_id=_foreign_item(draw, t))
    return "stop_timer", P.StopTimer()  # trudy never has a timer running


def _lane(draw: st.DrawFn, t: Targets) -> Poison:
    todo = E.WORK_ITEM_STATUS_TODO
    pid = t.p.project_id
    choice = draw(
        st.sampled_from(["duplicate", "wip", "position", "status", "name", "update_wip", "foreign"])
    )
    if choice == "duplicate":  # lane names are unique per project
        return "create_swim_lane", P.CreateSwimLane(
            project_id=pid, name=f"{t.p.marker} lane", status=todo
        )
    if choice == "wip":
        wip = draw(st.one_of(st.integers(INT32[0], 0), st.integers(10_001, INT32[1])))
        return "create_swim_lane", P.CreateSwimLane(
            project_id=pid, name="wip", status=todo, wip_limit=wip
        )
    if choice == "position":
        pos = draw(st.one_of(st.integers(INT32[0], -1), st.integers(1_000_001, INT32[1])))
        return "create_swim_lane", P.CreateSwimLane(
            project_id=pid, name="pos", status=todo, position=pos
        )
    if choice == "status":
        return "create_swim_lane", P.CreateSwimLane(
            project_id=pid,
            name="st",
            status=draw(st.sampled_from([0, 6, -3])),  # type: ignore[arg-type]
        )
    if choice == "name":
        return "create_swim_lane", P.CreateSwimLane(
            project_id=pid, name=_bad_title(draw)[:5000], status=todo
        )
    if choice == "update_wip":
        return "update_swim_lane", P.UpdateSwimLane(
            lane_id=t.p.lane_id, wip_limit=draw(st.integers(INT32[0], 0))
        )
    lane = draw(st.sampled_from([t.q.lane_id, t.g.lane_id]))
    return "delete_swim_lane", P.DeleteSwimLane(lane_id=lane)


def _label(draw: st.DrawFn, t: Targets) -> Poison:
    """Labels: names unique in the project whatever their case, colours, other projects."""
    p = t.p
    choice = draw(
        st.sampled_from(
            [
                *("duplicate", "colour", "name", "stale", "foreign_project", "foreign_label"),
                *("foreign_item", "attached", "not_attached", "delete_foreign"),
            ]
        )
    )
    if choice == "duplicate":  # the seeded label's name in another case
        name = f"{p.marker} label".swapcase()
        return "create_label", P.CreateLabel(project_id=p.project_id, name=name)
    if choice == "colour":
        colour = draw(st.sampled_from(["red", "#FF0000", "#fff", "#gggggg", "#ff00001", ""]))
        return "create_label", P.CreateLabel(project_id=p.project_id, name="c", color=colour)
    if choice == "name":
        return "update_label", P.UpdateLabel(label_id=p.label_id, name=_bad_title(draw)[:5000])
    if choice == "stale":
        return "update_label", P.UpdateLabel(
            label_id=p.label_id, expected_version=_stale(draw), name="stale"
        )
    if choice == "foreign_project":
        project = draw(st.sampled_from([t.q.project_id, t.g.project_id, GHOST_ID]))
        return "create_label", P.CreateLabel(project_id=project, name="x")
    if choice == "foreign_label":  # another project's label on P's item
        label = draw(st.sampled_from([t.q.label_id, t.g.label_id, GHOST_ID]))
        return "attach_label", P.AttachLabel(work_item_id=p.story2_id, label_id=label)
    if choice == "foreign_item":
        return "attach_label", P.AttachLabel(
            work_item_id=_foreign_item(draw, t), label_id=p.label_id
        )
    if choice == "attached":  # the seed attached it already
        return "attach_label", P.AttachLabel(work_item_id=p.story_id, label_id=p.label_id)
    if choice == "not_attached":
        return "detach_label", P.DetachLabel(work_item_id=p.story2_id, label_id=p.label_id)
    label = draw(st.sampled_from([t.q.label_id, t.g.label_id]))
    return "delete_label", P.DeleteLabel(label_id=label)


def _inbox(draw: st.DrawFn, t: Targets) -> Poison:
    """Watches and the inbox: foreign items, a watch she does not hold, bad paging."""
    choice = draw(
        st.sampled_from(
            [
                *("watch_foreign", "unwatch_foreign", "not_watching", "limit", "before"),
                *("both", "up_to", "too_many"),
            ]
        )
    )
    if choice == "watch_foreign":
        return "watch_work_item", P.WatchWorkItem(work_item_id=_foreign_item(draw, t))
    if choice == "unwatch_foreign":
        return "unwatch_work_item", P.UnwatchWorkItem(work_item_id=_foreign_item(draw, t))
    if choice == "not_watching":  # the seed has her watch story2 (assigned), not the epic
        return "unwatch_work_item", P.UnwatchWorkItem(work_item_id=t.p.epic_id)
    if choice == "limit":
        limit = draw(st.one_of(st.integers(INT32[0], -1), st.integers(501, INT32[1])))
        return "list_notifications", P.ListNotifications(limit=limit)
    if choice == "before":
        return "list_notifications", P.ListNotifications(before=draw(st.integers(INT64[0], -1)))
    if choice == "both":
        return "mark_notifications_read", P.MarkNotificationsRead(
            notification_ids=[GHOST_ID], up_to=draw(st.integers(1, INT64[1]))
        )
    if choice == "up_to":
        return "mark_notifications_read", P.MarkNotificationsRead(
            up_to=draw(st.integers(INT64[0], -1))
        )
    return "mark_notifications_read", P.MarkNotificationsRead(
        notification_ids=[f"n{i}" for i in range(1_001)]
    )


def _llm_context(draw: st.DrawFn, t: Targets) -> Poison:
    rule = E.LLM_CONTEXT_TYPE_BUSINESS_RULE
    pid = t.p.project_id
    choice = draw(
        st.sampled_from(
            [
                "priority",
                "type",
                "content",
                "category",
                "tenant_wide",
                "global_update",
                "global_delete",
                "foreign",
            ]
        )
    )
    fields: dict[str, Any] = {"project_id": pid, "context_type": rule, "title": "t", "content": "c"}
    if choice == "priority":
        fields["priority"] = draw(st.one_of(st.integers(INT32[0], -1), st.integers(101, INT32[1])))
    elif choice == "type":
        known = [v.number for v in E.LlmContextType.DESCRIPTOR.values]
        fields["context_type"] = _unknown(draw, known)
    elif choice == "content":
        fields["content"] = draw(st.sampled_from(["", "\x00"]))
    elif choice == "category":
        fields["category"] = draw(huge_text(101, 5_000).filter(lambda s: len(s.strip()) > 100))
    elif choice == "tenant_wide":  # tenant admins only
        del fields["project_id"]
    elif choice == "global_update":
        return "update_llm_context", P.UpdateLlmContext(
            context_id=t.global_context_id, title="rewritten"
        )
    elif choice == "global_delete":
        return "delete_llm_context", P.DeleteLlmContext(context_id=t.global_context_id)
    else:
        return "update_llm_context", P.UpdateLlmContext(
            context_id=draw(st.sampled_from([t.q.context_id, t.g.context_id])), title="x"
        )
    return "create_llm_context", P.CreateLlmContext(**fields)


def _admin_only(draw: st.DrawFn, t: Targets) -> Poison:
    """What only a project admin may do; trudy is an editor."""
    pid = t.p.project_id
    return draw(
        st.sampled_from(
            [
                ("update_project", P.UpdateProject(project_id=pid, name="mine")),
                ("archive_project", P.ArchiveProject(project_id=pid)),
                ("delete_project", P.DeleteProject(project_id=pid)),
                (
                    "add_member",
                    P.AddMember(project_id=pid, user_id="eve-ally", role=E.ROLE_ADMIN),
                ),
                (
                    "change_member_role",
                    P.ChangeMemberRole(project_id=pid, user_id="trudy", role=E.ROLE_ADMIN),
                ),
                (
                    "change_member_role",
                    P.ChangeMemberRole(project_id=pid, user_id=t.p.owner_id, role=E.ROLE_VIEWER),
                ),
                ("remove_member", P.RemoveMember(project_id=pid, user_id=t.p.owner_id)),
            ]
        )
    )


def _create_project(draw: st.DrawFn, t: Targets) -> Poison:
    key = draw(
        st.one_of(
            st.sampled_from(["", "A", "a1", "1AB", "ABCDEFGHIJK", "AB-C", "ÄB", "AB ", t.p.key]),
            st.text(max_size=12).filter(lambda k: not PROJECT_KEY.fullmatch(k)),
        )
    )
    name = draw(st.sampled_from(["fine", ""]))  # P's key is taken: CONFLICT even with a name
    return "create_project", P.CreateProject(key=key, name=name)


def _valid_trudy_command(draw: st.DrawFn, t: Targets) -> tuple[str, Message]:
    """A command trudy may run: for the envelope poisons, which must stop it anyway."""
    p = t.p
    return draw(
        st.sampled_from(
            [
                ("create_comment", P.CreateComment(work_item_id=p.story_id, body="sneaky")),
                ("update_work_item", P.UpdateWorkItem(item_id=p.story2_id, title="sneaky")),
                ("start_timer", P.StartTimer(work_item_id=p.story_id)),
                (
                    "create_work_item",
                    P.CreateWorkItem(
                        project_id=p.project_id, type=E.WORK_ITEM_TYPE_EPIC, title="s"
                    ),
                ),
                ("delete_swim_lane", P.DeleteSwimLane(lane_id=p.lane_id)),
            ]
        )
    )


def _required_text_field(draw: st.DrawFn, t: Targets) -> tuple[str, bytes, int]:
    """(command, its bytes without one required text field, that field's number)."""
    p = t.p
    return draw(
        st.sampled_from(
            [
                (
                    "create_work_item",
                    P.CreateWorkItem(
                        project_id=p.project_id, type=E.WORK_ITEM_TYPE_STORY
                    ).SerializeToString(),
                    3,
                ),
                ("create_comment", P.CreateComment(work_item_id=p.story_id).SerializeToString(), 2),
                (
                    "create_sprint",
                    P.CreateSprint(project_id=p.project_id).SerializeToString(),
                    2,
                ),
                (
                    "create_llm_context",
                    P.CreateLlmContext(
                        project_id=p.project_id,
                        context_type=E.LLM_CONTEXT_TYPE_EXAMPLE,
                        title="t",
                    ).SerializeToString(),
                    5,
                ),
            ]
        )
    )


@dataclass(frozen=True)
class _Raw:
    """An envelope put together by hand around ``payload``."""

    name: str
    number: int  # the command's field number (or one the schema does not have)
    payload: bytes
    suffix: bytes = b""
    id_mode: str = "normal"  # or "empty", or "huge" (``size`` characters at least)
    size: int = 0

    def __call__(self, rid: str) -> Built:
        if self.id_mode == "empty":
            rid = ""
        elif self.id_mode == "huge":  # beyond 128 characters: refused, echoed cut to 128
            rid = (rid + "-") * (self.size // (len(rid) + 1) + 1)
        data = wire.envelope(rid.encode(), self.number, self.payload) + self.suffix
        return Built(data, rid[:128], True, self.name)


@st.composite
def wire_poison(draw: st.DrawFn, t: Targets) -> Frame:
    """Envelopes broken at the wire: each must be refused whatever the command is."""
    how = draw(
        st.sampled_from(
            [
                "wrong_wire_type",
                "invalid_utf8",
                "length_overrun",
                "empty_request_id",
                "huge_request_id",
                "protocol_version",
                "unknown_command_number",
                "command_as_varint",
                "deep_groups",
            ]
        )
    )
    id_mode, size, suffix = "normal", 0, b""
    if how in ("wrong_wire_type", "invalid_utf8"):
        name, payload, text_field = _required_text_field(draw, t)
        if how == "wrong_wire_type":  # the required text arrives as a number: it is missing
            payload += wire.varint_field(text_field, draw(int_range(*INT64)))
        else:
            payload += wire.len_field(text_field, b"ok\xff\xfe" + draw(st.binary(max_size=4)))
        number = COMMANDS[name].number
    elif how == "deep_groups":  # nested deeper than a parser recurses, in a no-op command
        name = "update_work_item"
        payload = P.UpdateWorkItem(item_id=t.p.story_id).SerializeToString()
        payload += wire.nested_groups(draw(st.integers(16, 99)), draw(st.integers(90, 5_000)))
        number = COMMANDS[name].number
    else:  # a command trudy may run, in an envelope that must stop it
        name, command = _valid_trudy_command(draw, t)
        payload = command.SerializeToString()
        number = COMMANDS[name].number
        if how == "length_overrun":  # an inner length beyond the command's end
            payload += wire.key(15, wire.LEN) + wire.varint(draw(st.integers(10, 2**32)))
        elif how == "empty_request_id":
            id_mode = "empty"
        elif how == "huge_request_id":
            id_mode, size = "huge", draw(st.integers(129, 5_000))
        elif how == "protocol_version":
            suffix = wire.varint_field(wire.PROTOCOL_VERSION_FIELD, draw(st.integers(2, 2**32 - 1)))
        elif how == "unknown_command_number":
            number = draw(st.integers(123, 2**29 - 1).filter(lambda n: n not in COMMAND_NUMBERS))
        else:  # command_as_varint
            body = wire.varint_field(number, 1)
            return Frame("trudy", f"wire:{how}", functools.partial(with_body, body, name))
    build = _Raw(name, number, payload, suffix, id_mode, size)
    return Frame("trudy", f"wire:{how}", build)


POISONS: Final[tuple[PoisonMaker, ...]] = (
    _create_item,
    _reparent,
    _reparent,
    _retype,
    _update_item,
    _bulk,
    _delete_item,
    _dependency,
    _dependency,
    _delete_dependency,
    _project_read,
    _sprint,
    _comment,
    _time_entry,
    _lane,
    _label,
    _inbox,
    _llm_context,
    _admin_only,
    _create_project,
)


@st.composite
def domain_poison(draw: st.DrawFn, t: Targets) -> Frame:
    maker = draw(st.sampled_from(POISONS))
    name, command = maker(draw, t)
    flaw = maker.__name__.lstrip("_")
    build = functools.partial(plain, name, command, b"")
    return Frame("trudy", f"poison:{flaw}", build)


def poison_frame(t: Targets) -> st.SearchStrategy[Frame]:
    return st.one_of(domain_poison(t), domain_poison(t), domain_poison(t), wire_poison(t))
