"""Authorising loaders: one per aggregate, the only way a handler loads what a command names.

Roles: viewer < editor < admin, checked for every message; a tenant admin
(token role) may do everything. Each loader reads the row, checks the
caller's role in the row's project (:func:`project`, which reads the project
and the caller's membership in one query) and returns both, so the handler
never reads the project again. What the caller cannot read does not exist for
them: a missing row, and a row of a project they are not a member of, are
both NOT_FOUND naming the id the caller sent (never the hidden project). A
member whose role is too low gets FORBIDDEN naming the role required.

``required`` is a role, or a function of the loaded row for rules such as
"the author as an editor, anyone else as an admin".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from pm_auth.tokens import Principal
from pm_core.enums import EntityType, Role
from pm_core.errors import ForbiddenError, NotFoundError, ValidationError
from pm_core.models import (
    Comment,
    Dependency,
    Label,
    Project,
    Sprint,
    SwimLane,
    TimeEntry,
    WorkItem,
)
from pm_core.rules import projects as project_rules
from pm_db.unit_of_work import UnitOfWork


class _InAProject(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def project_id(self) -> str: ...


E = TypeVar("E", bound=_InAProject)
Required = Role | Callable[[E], Role]


@dataclass(frozen=True, slots=True)
class Loaded(Generic[E]):
    """A row the caller may act on, and its (live) project."""

    entity: E
    project: Project


def project(
    uow: UnitOfWork,
    principal: Principal,
    project_id: str,
    required: Role,
    *,
    record: bool = False,
) -> Project:
    """The live project, once the caller holds ``required`` in it (NOT_FOUND for a
    non-member, FORBIDDEN naming the role for a member whose role is too low).

    A role above viewer is asked for by writes only, so this is also where an
    archived project refuses every write into it (``project.archived``): one
    place, not one per handler. ``record``: the write is to the project's own
    record (update, archive, delete), whose handler applies
    :func:`pm_core.rules.projects.check_record_change` instead.
    """
    if principal.is_tenant_admin:
        live = uow.projects.get(project_id)
    else:
        found = uow.projects.find_as_member(project_id, principal.user_id)
        if found is None:
            raise NotFoundError(EntityType.PROJECT, project_id)
        live, role = found
        if not role.allows(required):
            raise ForbiddenError(f"requires the {required} role in this project", str(required))
    if required is not Role.VIEWER and not record:
        project_rules.check_writable(live)
    return live


def can_read(uow: UnitOfWork, principal: Principal, project_id: str) -> bool:
    try:
        project(uow, principal, project_id, Role.VIEWER)
    except NotFoundError:
        return False
    return True


def require_tenant_admin(principal: Principal) -> None:
    if not principal.is_tenant_admin:
        raise ForbiddenError("requires the tenant_admin role", "tenant_admin")


def work_item(
    uow: UnitOfWork, principal: Principal, item_id: str, required: Required[WorkItem]
) -> Loaded[WorkItem]:
    return _authorised(
        uow, principal, EntityType.WORK_ITEM, item_id, uow.work_items.find(item_id), required
    )


def work_item_by_key(
    uow: UnitOfWork, principal: Principal, display_key: str, required: Required[WorkItem]
) -> Loaded[WorkItem]:
    """The item a display key (``PM-12``) names; NOT_FOUND names the key as sent."""
    try:
        found = uow.work_items.find_by_key(display_key)
    except ValidationError as exc:
        raise ValidationError("display_key", exc.message) from exc
    return _authorised(uow, principal, EntityType.WORK_ITEM, display_key, found, required)


def sprint(
    uow: UnitOfWork, principal: Principal, sprint_id: str, required: Required[Sprint]
) -> Loaded[Sprint]:
    return _authorised(
        uow, principal, EntityType.SPRINT, sprint_id, uow.sprints.find(sprint_id), required
    )


def comment(
    uow: UnitOfWork, principal: Principal, comment_id: str, required: Required[Comment]
) -> Loaded[Comment]:
    found = uow.comments.find(comment_id)
    return _authorised(uow, principal, EntityType.COMMENT, comment_id, found, required)


def time_entry(
    uow: UnitOfWork, principal: Principal, entry_id: str, required: Required[TimeEntry]
) -> Loaded[TimeEntry]:
    found = uow.time_entries.find(entry_id)
    return _authorised(uow, principal, EntityType.TIME_ENTRY, entry_id, found, required)


def dependency(
    uow: UnitOfWork, principal: Principal, dependency_id: str, required: Required[Dependency]
) -> Loaded[Dependency]:
    found = uow.dependencies.find(dependency_id)
    return _authorised(uow, principal, EntityType.DEPENDENCY, dependency_id, found, required)


def swim_lane(
    uow: UnitOfWork, principal: Principal, lane_id: str, required: Required[SwimLane]
) -> Loaded[SwimLane]:
    found = uow.swim_lanes.find(lane_id)
    return _authorised(uow, principal, EntityType.SWIM_LANE, lane_id, found, required)


def label(
    uow: UnitOfWork, principal: Principal, label_id: str, required: Required[Label]
) -> Loaded[Label]:
    return _authorised(
        uow, principal, EntityType.LABEL, label_id, uow.labels.find(label_id), required
    )


def readable_label(
    uow: UnitOfWork, principal: Principal, label_id: str, known: Project | None = None
) -> Label:
    """A label an item is to carry: NOT_FOUND unless the caller can read its project."""
    return _readable(uow, principal, EntityType.LABEL, label_id, uow.labels.find(label_id), known)


def readable_item(
    uow: UnitOfWork, principal: Principal, item_id: str, known: Project | None = None
) -> WorkItem:
    """An item another one refers to (a parent, an anchor): NOT_FOUND unless the caller
    can read its project (``known``: a project the caller was already authorised in).
    Whether it fits (same project, type) is the caller's to check."""
    return _readable(
        uow, principal, EntityType.WORK_ITEM, item_id, uow.work_items.find(item_id), known
    )


def readable_sprint(
    uow: UnitOfWork, principal: Principal, sprint_id: str, known: Project | None = None
) -> Sprint:
    """A sprint an item refers to: NOT_FOUND unless the caller can read its project."""
    return _readable(
        uow, principal, EntityType.SPRINT, sprint_id, uow.sprints.find(sprint_id), known
    )


def _readable(
    uow: UnitOfWork,
    principal: Principal,
    entity: EntityType,
    asked: str,
    found: E | None,
    known: Project | None,
) -> E:
    """``found`` when the caller can read its project (``known`` needs no query), else
    NOT_FOUND naming what was asked for."""
    if found is None or not (
        (known is not None and known.id == found.project_id)
        or can_read(uow, principal, found.project_id)
    ):
        raise NotFoundError(entity, asked)
    return found


def _authorised(
    uow: UnitOfWork,
    principal: Principal,
    entity: EntityType,
    asked: str,
    found: E | None,
    required: Required[E],
) -> Loaded[E]:
    if found is None:
        raise NotFoundError(entity, asked)
    role = required if isinstance(required, Role) else required(found)
    try:
        owner = project(uow, principal, found.project_id, role)
    except NotFoundError as exc:  # name what was asked for, not the hidden project
        raise NotFoundError(entity, asked) from exc
    return Loaded(found, owner)
