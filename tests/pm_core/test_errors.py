"""The error tree: codes, retryability and structured fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from pm_core import errors as e

CASES = [
    (e.PmError("boom"), "INTERNAL", False),
    (e.InvalidMessageError("bad frame"), "INVALID_MESSAGE", False),
    (e.ValidationError("title", "too long"), "VALIDATION_ERROR", False),
    (e.InvalidTenantIdError("../x"), "VALIDATION_ERROR", False),
    (e.InvalidFileError("not a pm tenant database"), "VALIDATION_ERROR", False),
    (e.RuleViolationError("r.x", "f", "no"), "VALIDATION_ERROR", False),
    (e.HierarchyError("hierarchy.cycle", "no"), "VALIDATION_ERROR", False),
    (e.DependencyCycleError(["a", "b", "a"]), "VALIDATION_ERROR", False),
    (e.InvalidTransitionError("sprint", "completed", "active"), "VALIDATION_ERROR", False),
    (e.UnauthenticatedError("no token"), "UNAUTHENTICATED", False),
    (e.ForbiddenError("viewer", "editor"), "FORBIDDEN", False),
    (e.RateLimitedError(1.5), "RATE_LIMITED", True),
    (e.NotFoundError("work_item", "w1"), "NOT_FOUND", False),
    (e.TenantGoneError("acme"), "NOT_FOUND", False),
    (e.TenantNotFoundError("acme"), "NOT_FOUND", False),
    (e.NoSuchFileError(Path("/backups/acme.db")), "NOT_FOUND", False),
    (e.ConflictError("work_item", "w1", 3), "CONFLICT", False),
    (e.DuplicateError("project", "key"), "CONFLICT", False),
    (e.TenantExistsError("acme", "pass --yes"), "CONFLICT", False),
    (e.FileAlreadyExistsError(Path("/backups/acme.db")), "CONFLICT", False),
    (e.DeleteBlockedError("sprint", "s1", "has items", ["w1"]), "DELETE_BLOCKED", False),
    (e.UnavailableError("busy"), "UNAVAILABLE", True),
    (e.StorageClosedError("closed"), "UNAVAILABLE", True),
    (e.TenantBusyError("acme"), "UNAVAILABLE", True),
    (e.TooManyConnectionsError("tenant", 10), "UNAVAILABLE", True),
    (e.SchemaTooNewError(9, 1), "UNAVAILABLE", False),
    (e.TenantDamagedError("acme"), "UNAVAILABLE", False),
    (e.TenantLostError("acme"), "UNAVAILABLE", False),
    (e.TenantFencedError("acme"), "UNAVAILABLE", True),
    (e.TenantElsewhereError("acme", "http://10.0.0.2:8701"), "UNAVAILABLE", True),
    (e.TenantMaintenanceError("acme"), "UNAVAILABLE", True),
    (e.FaultError("broken"), "INTERNAL", False),
    (e.MigrationError("failed: no such table", 2, "lanes"), "INTERNAL", False),
    (e.InternalError("e-123"), "INTERNAL", False),
]


@pytest.mark.parametrize(
    ("error", "code", "retryable"), CASES, ids=[type(c[0]).__name__ for c in CASES]
)
def test_error_class_has_its_protocol_code_and_retryability(error, code, retryable):
    assert isinstance(error, e.PmError)
    assert error.code == code
    assert type(error).code == code
    assert error.retryable is retryable
    assert error.message == str(error)
    assert error.message


def test_every_error_class_is_in_the_table():
    classes = {cls for cls in vars(e).values() if isinstance(cls, type)}
    pm_errors = {cls for cls in classes if issubclass(cls, e.PmError)}
    assert pm_errors == {type(case[0]) for case in CASES}


def test_validation_error_names_the_field():
    error = e.ValidationError("title", "title is too long")
    assert error.field == "title"
    assert error.message == "title is too long"


def test_invalid_tenant_id_keeps_id_out_of_the_message():
    error = e.InvalidTenantIdError("../../etc")
    assert error.field == "tenant_id"
    assert error.tenant_id == "../../etc"
    assert "../../etc" not in error.message


def test_rule_violation_carries_rule_and_field():
    error = e.RuleViolationError("sprint.one_active", "status", "already active")
    assert (error.rule, error.field) == ("sprint.one_active", "status")
    assert isinstance(error, e.ValidationError)


def test_hierarchy_error_is_about_the_parent():
    error = e.HierarchyError("hierarchy.parent_type", "a task's parent must be a story")
    assert (error.rule, error.field) == ("hierarchy.parent_type", "parent_id")


def test_dependency_cycle_error_carries_and_names_the_path():
    error = e.DependencyCycleError(["a", "b", "c", "a"])
    assert error.path == ("a", "b", "c", "a")
    assert (error.rule, error.field) == ("dependency.cycle", "to_item_id")
    assert "a -> b -> c -> a" in error.message


def test_invalid_transition_error_carries_both_states():
    error = e.InvalidTransitionError("sprint", "completed", "active")
    assert (error.current, error.target) == ("completed", "active")
    assert (error.rule, error.field) == ("sprint.transition", "status")
    assert "completed" in error.message
    assert "active" in error.message


def test_forbidden_error_carries_required_role():
    assert e.ForbiddenError("no", "admin").required_role == "admin"
    assert e.ForbiddenError("no").required_role is None


def test_rate_limited_error_carries_retry_after():
    error = e.RateLimitedError(0.25)
    assert error.retry_after == 0.25
    assert "0.250" in error.message


def test_not_found_error_carries_entity_and_id_but_not_in_message():
    error = e.NotFoundError("work_item", "w-secret")
    assert (error.entity, error.entity_id) == ("work_item", "w-secret")
    assert "w-secret" not in error.message


def test_conflict_error_carries_current_version_and_entity():
    current = object()
    error = e.ConflictError("work_item", "w1", 4, current)
    assert (error.entity, error.entity_id, error.current_version) == ("work_item", "w1", 4)
    assert error.current is current


def test_duplicate_error_is_a_conflict_naming_the_key():
    error = e.DuplicateError("project", "key", "p1")
    assert isinstance(error, e.ConflictError)
    assert (error.key, error.entity_id, error.current_version) == ("key", "p1", None)
    assert "key" in error.message


def test_delete_blocked_error_carries_reason_and_blockers():
    error = e.DeleteBlockedError("sprint", "s1", "it has items", ["w1", "w2"])
    assert error.blockers == ("w1", "w2")
    assert error.reason == "it has items"
    assert "it has items" in error.message


def test_schema_too_new_error_reports_both_versions():
    error = e.SchemaTooNewError(9, 2)
    assert (error.found, error.supported) == (9, 2)
    assert isinstance(error, e.UnavailableError)


def test_internal_error_message_carries_only_the_error_id():
    error = e.InternalError("e-123")
    assert error.error_id == "e-123"
    assert error.message == "internal error (id e-123)"


def test_tenant_file_errors_carry_the_tenant_or_path_and_name_them() -> None:
    missing = e.TenantNotFoundError("acme")
    assert (missing.entity, missing.entity_id, missing.tenant_id) == ("tenant", "acme", "acme")
    assert missing.message == "tenant acme not found"
    exists = e.TenantExistsError("acme", "pass --yes to replace it")
    assert (exists.entity_id, exists.hint, exists.current_version) == (
        "acme",
        "pass --yes to replace it",
        None,
    )
    assert exists.message == "tenant acme already exists; pass --yes to replace it"
    busy = e.TenantBusyError("acme")
    assert busy.tenant_id == "acme"
    assert "tenant acme is open in a running pm server" in busy.message


def test_file_errors_carry_the_path() -> None:
    path = Path("/backups/acme.db")
    assert e.NoSuchFileError(path).path == path
    assert e.NoSuchFileError(path).message == "no such file: /backups/acme.db"
    assert e.FileAlreadyExistsError(path).path == path
    assert "--force" in e.FileAlreadyExistsError(path).message
    invalid = e.InvalidFileError("not JSON")
    assert (invalid.field, invalid.message) == ("file", "not JSON")


@pytest.mark.parametrize(
    ("scope", "reason", "message"),
    [
        ("server", "max_connections", "the server has too many connections"),
        ("tenant", "max_connections_per_tenant", "this tenant has 10 connections open"),
        ("user", "max_connections_per_user", "this user has 10 connections open"),
    ],
)
def test_too_many_connections_names_the_full_cap(scope, reason, message) -> None:
    error = e.TooManyConnectionsError(scope, 10)
    assert (error.scope, error.limit, error.reason, error.message) == (scope, 10, reason, message)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (e.MigrationError("failed: boom", 3, "lanes"), "migration 3 (lanes) failed: boom"),
        (e.MigrationError("found where 2 expected", 3), "migration 3 found where 2 expected"),
        (
            e.MigrationError("ends with an incomplete statement"),
            "migration ends with an incomplete statement",
        ),
    ],
)
def test_migration_error_carries_version_name_and_reason(error, message) -> None:
    assert error.message == message
    assert isinstance(error, e.FaultError)


def test_nearest_finds_the_most_specific_class_along_the_mro() -> None:
    table = {e.PmError: "any", e.ValidationError: "validation", e.RuleViolationError: "rule"}
    assert e.nearest(table, e.HierarchyError("h.x", "no")) == "rule"
    assert e.nearest(table, e.InvalidTenantIdError("X")) == "validation"
    assert e.nearest(table, e.NotFoundError("item", "i1")) == "any"
    assert e.nearest(table, ValueError("not ours")) is None
