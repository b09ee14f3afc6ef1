"""The error tree: codes, retryability and structured fields."""

from __future__ import annotations

import pytest

from pm_core import errors as e

CASES = [
    (e.PmError("boom"), "INTERNAL", False),
    (e.InvalidMessageError("bad frame"), "INVALID_MESSAGE", False),
    (e.ValidationError("title", "too long"), "VALIDATION_ERROR", False),
    (e.InvalidTenantIdError("../x"), "VALIDATION_ERROR", False),
    (e.RuleViolationError("r.x", "f", "no"), "VALIDATION_ERROR", False),
    (e.HierarchyError("hierarchy.cycle", "no"), "VALIDATION_ERROR", False),
    (e.DependencyCycleError(["a", "b", "a"]), "VALIDATION_ERROR", False),
    (e.InvalidTransitionError("sprint", "completed", "active"), "VALIDATION_ERROR", False),
    (e.UnauthenticatedError("no token"), "UNAUTHENTICATED", False),
    (e.ForbiddenError("viewer", "editor"), "FORBIDDEN", False),
    (e.RateLimitedError(1.5), "RATE_LIMITED", True),
    (e.NotFoundError("work_item", "w1"), "NOT_FOUND", False),
    (e.TenantGoneError("acme"), "NOT_FOUND", False),
    (e.ConflictError("work_item", "w1", 3), "CONFLICT", False),
    (e.DuplicateError("project", "key"), "CONFLICT", False),
    (e.DeleteBlockedError("sprint", "s1", "has items", ["w1"]), "DELETE_BLOCKED", False),
    (e.UnavailableError("busy"), "UNAVAILABLE", True),
    (e.StorageClosedError("closed"), "UNAVAILABLE", True),
    (e.SchemaTooNewError(9, 1), "UNAVAILABLE", False),
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
