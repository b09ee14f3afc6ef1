"""The tenant-id rule, checked before a tenant id is used for anything."""

from __future__ import annotations

import re
from typing import Final

from pm_core.errors import InvalidTenantIdError

TENANT_ID_PATTERN: Final = r"[a-z0-9][a-z0-9_-]{0,62}"
_TENANT_ID = re.compile(TENANT_ID_PATTERN)


def is_valid_tenant_id(tenant_id: object) -> bool:
    """True only for a str of 1-63 chars: ``[a-z0-9]`` then ``[a-z0-9_-]``.

    ``re.fullmatch`` (not ``match`` with ``$``) so a trailing newline is refused.
    """
    return isinstance(tenant_id, str) and _TENANT_ID.fullmatch(tenant_id) is not None


def check_tenant_id(tenant_id: str) -> str:
    if not is_valid_tenant_id(tenant_id):
        raise InvalidTenantIdError(tenant_id)
    return tenant_id
