"""The one mapping from an exception to a protocol error.

A :class:`PmError` becomes an ``Error`` with its class's code, its message and
the structured fields that :data:`DETAILS` names for its class. The table is
read along the class's MRO (like starlette's exception handlers), so a new
error class needs one line here, and a subclass defined elsewhere gets its
nearest parent's details. Anything else is a bug, and a :class:`FaultError`
is pm's own failure: either is logged with a fresh error id and the client
gets ``INTERNAL`` with that id and a generic message, never ``str(exc)``.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Callable, Mapping
from typing import Any, Final

from pm_core.errors import (
    ConflictError,
    DeleteBlockedError,
    DependencyCycleError,
    DuplicateError,
    FaultError,
    FileAlreadyExistsError,
    ForbiddenError,
    HierarchyError,
    InternalError,
    InvalidFileError,
    InvalidMessageError,
    InvalidTenantIdError,
    InvalidTransitionError,
    NoSuchFileError,
    NotFoundError,
    PmError,
    RateLimitedError,
    RuleViolationError,
    SchemaTooNewError,
    StorageClosedError,
    TenantBusyError,
    TenantDamagedError,
    TenantElsewhereError,
    TenantExistsError,
    TenantFencedError,
    TenantGoneError,
    TenantLostError,
    TenantMaintenanceError,
    TenantNotFoundError,
    TooManyConnectionsError,
    UnauthenticatedError,
    UnavailableError,
    ValidationError,
    nearest,
)
from pm_core.models import Entity
from pm_proto import entities as pb_entities
from pm_proto.v1 import envelope_pb2

log = logging.getLogger(__name__)

#: Fills the fields of an ``Error`` that its exception's class carries.
Details = Callable[[envelope_pb2.Error, Any], None]


def error_message(exc: BaseException, request_id: str, log_context: str = "") -> envelope_pb2.Error:
    """The ``Error`` for ``exc``; unexpected exceptions are logged with an error id."""
    if not isinstance(exc, PmError) or isinstance(exc, FaultError):
        error_id = secrets.token_hex(6)
        log.error("%s error_id=%s unexpected error", log_context, error_id, exc_info=exc)
        exc = InternalError(error_id)
    error = envelope_pb2.Error(
        request_id=request_id,
        code=envelope_pb2.ErrorCode.Value(exc.code),
        message=exc.message,
        retryable=exc.retryable,
    )
    (nearest(DETAILS, exc) or _none)(error, exc)
    return error


# -- details, one function per kind of structured field ------------------------


def _none(error: envelope_pb2.Error, exc: PmError) -> None:
    """The code, message and retryability say it all."""


def _field(error: envelope_pb2.Error, exc: ValidationError) -> None:
    error.field = exc.field


def _rule(error: envelope_pb2.Error, exc: RuleViolationError) -> None:
    _field(error, exc)
    error.rule = exc.rule


def _cycle(error: envelope_pb2.Error, exc: DependencyCycleError) -> None:
    _rule(error, exc)
    error.path.extend(exc.path)


def _required_role(error: envelope_pb2.Error, exc: ForbiddenError) -> None:
    if exc.required_role:
        error.rule = f"role.{exc.required_role}"


def _retry_after(error: envelope_pb2.Error, exc: RateLimitedError) -> None:
    error.retry_after_ms = max(1, math.ceil(exc.retry_after * 1000))  # 0 would read as "now"
    error.rate_per_second = exc.rate


def _entity(error: envelope_pb2.Error, exc: NotFoundError) -> None:
    error.entity, error.entity_id = exc.entity, exc.entity_id


def _conflict(error: envelope_pb2.Error, exc: ConflictError) -> None:
    error.entity, error.entity_id = exc.entity, exc.entity_id
    if exc.current_version is not None:
        error.current_version = exc.current_version
    if isinstance(exc.current, Entity):
        pb_entities.set_entity(error, exc.current, project_key=exc.project_key)


def _blockers(error: envelope_pb2.Error, exc: DeleteBlockedError) -> None:
    error.entity, error.entity_id = exc.entity, exc.entity_id
    error.blockers.extend(exc.blockers)


def _error_id(error: envelope_pb2.Error, exc: InternalError) -> None:
    error.error_id = exc.error_id


#: Every class of the tree in pm_core.errors but the faults, with the details its
#: Error carries (tests/pm_server/test_errors.py fails on a class missing here).
DETAILS: Final[Mapping[type[PmError], Details]] = {
    PmError: _none,
    InvalidMessageError: _none,
    ValidationError: _field,
    InvalidTenantIdError: _field,  # the field only: the hostile id itself is never echoed
    InvalidFileError: _field,
    RuleViolationError: _rule,
    HierarchyError: _rule,
    DependencyCycleError: _cycle,
    InvalidTransitionError: _rule,
    UnauthenticatedError: _none,
    ForbiddenError: _required_role,
    RateLimitedError: _retry_after,
    NotFoundError: _entity,
    TenantGoneError: _entity,
    TenantNotFoundError: _entity,
    NoSuchFileError: _entity,
    ConflictError: _conflict,
    DuplicateError: _conflict,
    TenantExistsError: _conflict,
    FileAlreadyExistsError: _conflict,
    DeleteBlockedError: _blockers,
    UnavailableError: _none,
    StorageClosedError: _none,
    TenantBusyError: _none,
    TooManyConnectionsError: _none,
    SchemaTooNewError: _none,
    TenantDamagedError: _none,
    TenantMaintenanceError: _none,
    TenantLostError: _none,
    TenantFencedError: _none,
    TenantElsewhereError: _none,
    InternalError: _error_id,
}
