"""The one mapping from an exception to a protocol error: every class, its code and its fields."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pm_core import errors as e
from pm_core.models import Project
from pm_proto.entities import entity_to_pb
from pm_proto.v1 import envelope_pb2
from pm_server.errors import DETAILS, error_message

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
PROJECT = Project(
    id="p1", version=4, created_at=NOW, updated_at=NOW, key="PM", name="Board", created_by="u1"
)


def _conflict_with_current() -> e.ConflictError:
    return e.ConflictError("project", "p1", 4, PROJECT)


#: Each error with the fields its Error carries besides code, message and retryable.
CASES: list[tuple[e.PmError, dict[str, Any]]] = [
    (e.PmError("boom"), {}),
    (e.InvalidMessageError("bad frame"), {}),
    (e.ValidationError("title", "too long"), {"field": "title"}),
    (e.InvalidTenantIdError("../x"), {"field": "tenant_id"}),
    (e.InvalidFileError("not JSON"), {"field": "file"}),
    (e.RuleViolationError("r.x", "f", "no"), {"field": "f", "rule": "r.x"}),
    (e.HierarchyError("hierarchy.cycle", "no"), {"field": "parent_id", "rule": "hierarchy.cycle"}),
    (
        e.DependencyCycleError(["a", "b", "a"]),
        {"field": "to_item_id", "rule": "dependency.cycle", "path": ["a", "b", "a"]},
    ),
    (
        e.InvalidTransitionError("sprint", "completed", "active"),
        {"field": "status", "rule": "sprint.transition"},
    ),
    (e.UnauthenticatedError("no token"), {}),
    (e.ForbiddenError("viewers cannot"), {}),
    (e.ForbiddenError("viewers cannot", "editor"), {"rule": "role.editor"}),
    (e.RateLimitedError(1.5), {"retry_after_ms": 1500}),
    (e.RateLimitedError(0.0001), {"retry_after_ms": 1}),  # never 0: that reads as "now"
    (e.NotFoundError("work_item", "w1"), {"entity": "work_item", "entity_id": "w1"}),
    (e.TenantGoneError("acme"), {"entity": "tenant", "entity_id": "acme"}),
    (e.TenantNotFoundError("acme"), {"entity": "tenant", "entity_id": "acme"}),
    (e.NoSuchFileError(Path("/b/a.db")), {"entity": "file", "entity_id": "/b/a.db"}),
    (e.ConflictError("work_item", "w1", None), {"entity": "work_item", "entity_id": "w1"}),
    (
        _conflict_with_current(),
        {
            "entity": "project",
            "entity_id": "p1",
            "current_version": 4,
            "project": entity_to_pb(PROJECT),
        },
    ),
    (e.DuplicateError("project", "key", "p1"), {"entity": "project", "entity_id": "p1"}),
    (e.TenantExistsError("acme", "pass --yes"), {"entity": "tenant", "entity_id": "acme"}),
    (e.FileAlreadyExistsError(Path("/b/a.db")), {"entity": "file", "entity_id": "/b/a.db"}),
    (
        e.DeleteBlockedError("sprint", "s1", "it has items", ["w1", "w2"]),
        {"entity": "sprint", "entity_id": "s1", "blockers": ["w1", "w2"]},
    ),
    (e.UnavailableError("busy"), {}),
    (e.StorageClosedError("closed"), {}),
    (e.TenantBusyError("acme"), {}),
    (e.TooManyConnectionsError("user", 3), {}),
    (e.SchemaTooNewError(9, 1), {}),
    (e.TenantDamagedError("acme"), {}),
    (e.TenantLostError("acme"), {}),
    (e.TenantFencedError("acme"), {}),
    (e.TenantElsewhereError("acme", "http://10.0.0.2:8701"), {}),
    (e.TenantMaintenanceError("acme"), {}),
    (e.InternalError("e-123"), {"error_id": "e-123"}),
]


#: pm's own failures: reported like an exception outside the tree, never through DETAILS.
FAULTS: list[e.FaultError] = [
    e.FaultError("the key file is gone"),
    e.MigrationError("failed: no such table: lanes", 3, "lanes"),
]


def _pm_error_classes() -> list[type[e.PmError]]:
    found = [
        cls for cls in vars(e).values() if isinstance(cls, type) and issubclass(cls, e.PmError)
    ]
    return sorted(found, key=lambda cls: cls.__name__)


@pytest.mark.parametrize(("error", "fields"), CASES, ids=[type(c[0]).__name__ for c in CASES])
def test_error_maps_to_its_code_message_and_fields(
    error: e.PmError, fields: dict[str, Any]
) -> None:
    expected = envelope_pb2.Error(
        request_id="r-1",
        code=envelope_pb2.ErrorCode.Value(type(error).code),
        message=error.message,
        retryable=error.retryable,
        **fields,
    )
    assert error_message(error, "r-1") == expected


@pytest.mark.parametrize("cls", _pm_error_classes(), ids=lambda cls: cls.__name__)
def test_every_error_class_of_the_tree_has_a_mapping_case(cls: type[e.PmError]) -> None:
    assert cls in {type(case[0]) for case in CASES} | {type(fault) for fault in FAULTS}, (
        f"pm_core.errors.{cls.__name__} has no case in {__name__}.CASES: "
        "add one with the fields its Error must carry"
    )


@pytest.mark.parametrize("cls", _pm_error_classes(), ids=lambda cls: cls.__name__)
def test_every_error_class_of_the_tree_has_its_own_details_entry(cls: type[e.PmError]) -> None:
    if issubclass(cls, e.FaultError):
        assert cls not in DETAILS, f"{cls.__name__} is a fault: its details never reach a client"
        return
    assert cls in DETAILS, (
        f"pm_core.errors.{cls.__name__} has no entry in pm_server.errors.DETAILS: add the line "
        f"{cls.__name__}: <the details function of the fields it carries, or _none>"
    )


def test_a_subclass_without_an_entry_gets_its_nearest_parents_details() -> None:
    class LocalRuleError(e.HierarchyError):
        pass

    error = error_message(LocalRuleError("hierarchy.depth", "too deep"), "r-1")
    assert (error.code, error.field, error.rule) == (
        envelope_pb2.VALIDATION_ERROR,
        "parent_id",
        "hierarchy.depth",
    )


def test_a_hostile_tenant_id_is_never_echoed() -> None:
    error = error_message(e.InvalidTenantIdError("../../etc/passwd"), "r-1")
    assert "etc" not in str(error)


def test_an_unexpected_exception_is_internal_with_an_error_id_and_no_detail(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="pm_server.errors")
    error = error_message(RuntimeError("secret detail"), "r-1", "conn=c1 tenant=acme")
    assert error.code == envelope_pb2.INTERNAL
    assert not error.retryable
    assert re.fullmatch(r"[0-9a-f]{12}", error.error_id)
    assert error.message == f"internal error (id {error.error_id})"
    assert "secret" not in str(error)
    (record,) = caplog.records
    assert f"error_id={error.error_id}" in record.getMessage()
    assert "conn=c1 tenant=acme" in record.getMessage()
    assert record.exc_info is not None
    assert "secret detail" in str(record.exc_info[1])


@pytest.mark.parametrize("fault", FAULTS, ids=[type(f).__name__ for f in FAULTS])
def test_a_fault_is_internal_with_an_error_id_and_its_details_only_in_the_log(
    fault: e.FaultError, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="pm_server.errors")
    error = error_message(fault, "r-1")
    assert error.code == envelope_pb2.ErrorCode.Value(type(fault).code) == envelope_pb2.INTERNAL
    assert re.fullmatch(r"[0-9a-f]{12}", error.error_id)
    assert error.message == f"internal error (id {error.error_id})"
    assert fault.message not in str(error)
    (record,) = caplog.records
    assert f"error_id={error.error_id}" in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[1] is fault
