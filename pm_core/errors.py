"""The one error tree of pm.

Every failure the system reports is a :class:`PmError`. Each class carries the
protocol ``code`` it maps to and whether a retry of the same request can
succeed (``retryable``); details are structured attributes, never
preformatted strings, so the edge can render them however it needs to.

::

    PmError
    ├── InvalidMessageError            INVALID_MESSAGE
    ├── ValidationError                VALIDATION_ERROR (+ field)
    │   ├── InvalidTenantIdError
    │   └── RuleViolationError         (+ rule)
    │       ├── HierarchyError
    │       ├── DependencyCycleError   (+ path)
    │       └── InvalidTransitionError (+ current, target)
    ├── UnauthenticatedError           UNAUTHENTICATED
    ├── ForbiddenError                 FORBIDDEN
    ├── RateLimitedError               RATE_LIMITED (+ retry_after), retryable
    ├── NotFoundError                  NOT_FOUND (+ entity, entity_id)
    │   └── TenantGoneError
    ├── ConflictError                  CONFLICT (+ current version / entity)
    │   └── DuplicateError             (+ unique key)
    ├── DeleteBlockedError             DELETE_BLOCKED (+ blockers)
    ├── UnavailableError               UNAVAILABLE, retryable
    │   ├── StorageClosedError
    │   └── SchemaTooNewError          not retryable
    └── InternalError                  INTERNAL (+ error_id)

Foreign exceptions (sqlite3, jwt, protobuf) are translated into this tree
where they enter pm code. Tables keyed by error class (the protocol details
in ``pm_server/errors.py``, the exit codes of ``pm tenant``) are read with
:func:`nearest`, along the class's MRO, so a class without an entry of its
own gets its nearest parent's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeVar

T = TypeVar("T")


def nearest(table: Mapping[Any, T], error: BaseException) -> T | None:
    """The entry of ``error``'s most specific class in ``table`` (walking its MRO), or None."""
    for cls in type(error).__mro__:
        if cls in table:
            return table[cls]
    return None


class PmError(Exception):
    """Base of every error pm reports."""

    code: ClassVar[str] = "INTERNAL"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidMessageError(PmError):
    """A frame that cannot be decoded or names no known command."""

    code = "INVALID_MESSAGE"


class ValidationError(PmError):
    """A well-formed request whose content breaks a rule; ``field`` names it."""

    code = "VALIDATION_ERROR"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class InvalidTenantIdError(ValidationError):
    """A tenant id that does not match the tenant-id rule."""

    def __init__(self, tenant_id: str) -> None:
        super().__init__("tenant_id", "tenant id must match ^[a-z0-9][a-z0-9_-]{0,62}$")
        # Kept for the caller's logs; never echoed back verbatim by the edge.
        self.tenant_id = tenant_id


class RuleViolationError(ValidationError):
    """A domain rule refused the change; ``rule`` is a stable dotted name."""

    def __init__(self, rule: str, field: str, message: str) -> None:
        super().__init__(field, message)
        self.rule = rule


class HierarchyError(RuleViolationError):
    """An epic/story/task parent link that the hierarchy does not allow."""

    def __init__(self, rule: str, message: str, field: str = "parent_id") -> None:
        super().__init__(rule, field, message)


class DependencyCycleError(RuleViolationError):
    """A ``blocks`` dependency that would close a cycle; ``path`` is the cycle."""

    def __init__(self, path: Sequence[str]) -> None:
        self.path: tuple[str, ...] = tuple(path)
        super().__init__(
            "dependency.cycle",
            "to_item_id",
            "dependency would create a cycle: " + " -> ".join(self.path),
        )


class InvalidTransitionError(RuleViolationError):
    """A status change the state machine does not allow."""

    def __init__(self, entity: str, current: str, target: str) -> None:
        super().__init__(
            f"{entity}.transition", "status", f"{entity} cannot go from {current} to {target}"
        )
        self.current = current
        self.target = target


class UnauthenticatedError(PmError):
    code = "UNAUTHENTICATED"


class ForbiddenError(PmError):
    code = "FORBIDDEN"

    def __init__(self, message: str, required_role: str | None = None) -> None:
        super().__init__(message)
        self.required_role = required_role


class RateLimitedError(PmError):
    code = "RATE_LIMITED"
    retryable = True

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited; retry after {retry_after:.3f}s")
        self.retry_after = retry_after


class NotFoundError(PmError):
    code = "NOT_FOUND"

    def __init__(self, entity: str, entity_id: str) -> None:
        super().__init__(f"{entity} not found")
        self.entity = entity
        self.entity_id = entity_id


class TenantGoneError(NotFoundError):
    """The tenant's database was deleted (by an operator) while clients were connected."""

    def __init__(self, tenant_id: str) -> None:
        super().__init__("tenant", tenant_id)


class ConflictError(PmError):
    """The row changed since the client read it (stale ``version``).

    ``current`` holds the row as it is now (a pm_core model) when it still
    exists, so the client can merge without another round trip.
    """

    code = "CONFLICT"

    def __init__(
        self,
        entity: str,
        entity_id: str,
        current_version: int | None,
        current: Any = None,
        message: str | None = None,
    ) -> None:
        super().__init__(message or f"{entity} was changed by someone else")
        self.entity = entity
        self.entity_id = entity_id
        self.current_version = current_version
        self.current = current
        #: For work items: the project key, so ``current`` can carry its display key.
        self.project_key = ""


class DuplicateError(ConflictError):
    """A live row with the same unique key already exists."""

    def __init__(self, entity: str, key: str, existing_id: str | None = None) -> None:
        super().__init__(
            entity, existing_id or "", None, None, f"{entity} with this {key} already exists"
        )
        self.key = key


class DeleteBlockedError(PmError):
    code = "DELETE_BLOCKED"

    def __init__(self, entity: str, entity_id: str, reason: str, blockers: Sequence[str]) -> None:
        super().__init__(f"{entity} cannot be deleted: {reason}")
        self.entity = entity
        self.entity_id = entity_id
        self.reason = reason
        self.blockers: tuple[str, ...] = tuple(blockers)


class UnavailableError(PmError):
    """The service cannot take this request now; the same request may succeed later."""

    code = "UNAVAILABLE"
    retryable = True


class StorageClosedError(UnavailableError):
    """A database (or the set of them) was used after ``close()``."""


class SchemaTooNewError(UnavailableError):
    """The database was written by a newer pm; this code must not touch it."""

    retryable = False

    def __init__(self, found: int, supported: int) -> None:
        super().__init__(
            f"database schema version {found} is newer than this server supports ({supported}); "
            "upgrade pm before opening it"
        )
        self.found = found
        self.supported = supported


class InternalError(PmError):
    """An unexpected failure; ``error_id`` ties the reply to the server log."""

    code = "INTERNAL"

    def __init__(self, error_id: str) -> None:
        super().__init__(f"internal error (id {error_id})")
        self.error_id = error_id
