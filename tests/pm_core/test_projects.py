"""The archived-project rule: what may still change an archived project's record."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pm_core.enums import ProjectStatus
from pm_core.errors import RuleViolationError
from pm_core.models import Project, ProjectPatch
from pm_core.rules.projects import check_record_change, check_writable

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def project(status: ProjectStatus) -> Project:
    return Project(
        id="p1",
        key="SHOP",
        name="Shop",
        description="",
        status=status,
        created_by="u1",
        version=1,
        created_at=NOW,
        updated_at=NOW,
    )


def test_active_project_takes_writes() -> None:
    check_writable(project(ProjectStatus.ACTIVE))


def test_archived_project_refuses_writes_naming_its_key() -> None:
    with pytest.raises(RuleViolationError) as caught:
        check_writable(project(ProjectStatus.ARCHIVED))
    assert (caught.value.rule, caught.value.field) == ("project.archived", "project_id")
    assert "SHOP" in caught.value.message


@pytest.mark.parametrize(
    "patch",
    [
        ProjectPatch(status=ProjectStatus.ACTIVE),
        ProjectPatch(status=ProjectStatus.ACTIVE, name="Shop 2"),
        ProjectPatch(status=ProjectStatus.ARCHIVED),
    ],
)
def test_archived_record_may_be_set_active_or_archived_again(patch: ProjectPatch) -> None:
    check_record_change(project(ProjectStatus.ARCHIVED), patch)


@pytest.mark.parametrize(
    "patch",
    [ProjectPatch(name="Shop 2"), ProjectPatch(status=ProjectStatus.ARCHIVED, description="d")],
)
def test_archived_record_refuses_other_changes(patch: ProjectPatch) -> None:
    with pytest.raises(RuleViolationError):
        check_record_change(project(ProjectStatus.ARCHIVED), patch)
