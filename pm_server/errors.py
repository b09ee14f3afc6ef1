"""The one mapping from an exception to a protocol error.

A :class:`PmError` becomes an ``Error`` with its code, message and structured
fields. Anything else is a bug: it is logged with a fresh error id and the
client gets ``INTERNAL`` with that id and a generic message, never
``str(exc)``.
"""

from __future__ import annotations

import logging
import secrets

from pm_core.errors import (
    ConflictError,
    DeleteBlockedError,
    DependencyCycleError,
    ForbiddenError,
    InternalError,
    InvalidTenantIdError,
    NotFoundError,
    PmError,
    RateLimitedError,
    RuleViolationError,
    ValidationError,
)
from pm_core.models import Entity
from pm_proto import entities as pb_entities
from pm_proto.v1 import envelope_pb2

log = logging.getLogger(__name__)


def error_message(exc: BaseException, request_id: str, log_context: str = "") -> envelope_pb2.Error:
    """The ``Error`` for ``exc``; unexpected exceptions are logged with an error id."""
    if not isinstance(exc, PmError):
        error_id = secrets.token_hex(6)
        log.error("%s error_id=%s unexpected error", log_context, error_id, exc_info=exc)
        exc = InternalError(error_id)
    error = envelope_pb2.Error(
        request_id=request_id,
        code=envelope_pb2.ErrorCode.Value(exc.code),
        message=exc.message,
        retryable=exc.retryable,
    )
    _details(error, exc)
    return error


def _details(error: envelope_pb2.Error, exc: PmError) -> None:
    if isinstance(exc, InvalidTenantIdError):
        error.field = exc.field  # the hostile id itself is never echoed
    elif isinstance(exc, ValidationError):
        error.field = exc.field
        if isinstance(exc, RuleViolationError):
            error.rule = exc.rule
        if isinstance(exc, DependencyCycleError):
            error.path.extend(exc.path)
    elif isinstance(exc, RateLimitedError):
        error.retry_after_ms = max(1, round(exc.retry_after * 1000))
    elif isinstance(exc, NotFoundError):
        error.entity, error.entity_id = exc.entity, exc.entity_id
    elif isinstance(exc, ConflictError):
        error.entity, error.entity_id = exc.entity, exc.entity_id
        if exc.current_version is not None:
            error.current_version = exc.current_version
        if isinstance(exc.current, Entity):
            pb_entities.set_entity(error, exc.current, project_key=exc.project_key)
    elif isinstance(exc, DeleteBlockedError):
        error.entity, error.entity_id = exc.entity, exc.entity_id
        error.blockers.extend(exc.blockers)
    elif isinstance(exc, ForbiddenError) and exc.required_role:
        error.rule = f"role.{exc.required_role}"
    elif isinstance(exc, InternalError):
        error.error_id = exc.error_id
