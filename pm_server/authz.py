"""Per-message authorisation: the caller's role in a project, checked every time.

viewer < editor < admin. A tenant admin (token role) may do everything. A
user who is not a member of a project is told the project does not exist
(NOT_FOUND), so ids of projects one cannot see reveal nothing; a member whose
role is too low gets FORBIDDEN naming the role required.
"""

from __future__ import annotations

from pm_auth.tokens import Principal
from pm_core.enums import Role
from pm_core.errors import ForbiddenError, NotFoundError
from pm_core.models import Project
from pm_db.unit_of_work import UnitOfWork


def require_role(uow: UnitOfWork, principal: Principal, project_id: str, required: Role) -> Project:
    """The live project, once ``principal`` holds at least ``required`` in it."""
    if principal.is_tenant_admin:
        return uow.projects.get(project_id)
    found = uow.projects.find_as_member(project_id, principal.user_id)
    if found is None:
        raise NotFoundError("project", project_id)
    project, role = found
    if not role.allows(required):
        raise ForbiddenError(f"requires the {required} role in this project", str(required))
    return project


def can_read(uow: UnitOfWork, principal: Principal, project_id: str) -> bool:
    try:
        require_role(uow, principal, project_id, Role.VIEWER)
    except NotFoundError:
        return False
    return True


def require_tenant_admin(principal: Principal) -> None:
    if not principal.is_tenant_admin:
        raise ForbiddenError("requires the tenant_admin role", "tenant_admin")
