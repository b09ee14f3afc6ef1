"""Project rules: an archived project is read-only.

Archiving keeps a finished project readable without letting it drift: every
write into it (items, sprints, lanes, comments, timers, members, its
llm_context) is refused with ``project.archived`` until an admin sets its
status back to active. The project's own record stays an admin's to change:
unarchiving it (an ``update_project`` that sets the status to active, other
fields may change in the same command), archiving it again and deleting it.
"""

from __future__ import annotations

from pm_core.enums import ProjectStatus
from pm_core.errors import RuleViolationError
from pm_core.models import Project, ProjectPatch


def check_writable(project: Project) -> None:
    """Refuse a write into ``project`` while it is archived."""
    if project.status == ProjectStatus.ARCHIVED:
        raise archived(project)


def check_record_change(project: Project, patch: ProjectPatch) -> None:
    """Refuse changing an archived project's record other than by setting it active
    (archiving it again, which changes nothing, is let through)."""
    if project.status != ProjectStatus.ARCHIVED or patch.status == ProjectStatus.ACTIVE:
        return
    if patch == ProjectPatch(status=ProjectStatus.ARCHIVED):
        return
    raise archived(project)


def archived(project: Project) -> RuleViolationError:
    return RuleViolationError(
        "project.archived",
        "project_id",
        f"project {project.key} is archived: set its status back to active to change it",
    )
