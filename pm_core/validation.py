"""Building models from untrusted values, with errors in pm's own terms."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, TypeVar

import pydantic

from pm_core.errors import ValidationError
from pm_core.models import Model

M = TypeVar("M", bound=Model)


def build(model: type[M], data: Mapping[str, Any]) -> M:
    """Validate ``data`` into ``model``; the first problem becomes a ValidationError.

    The error names the offending field (dotted for nested fields) and says
    what is wrong, without echoing the input value back.
    """
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or model.__name__
        raise ValidationError(field, f"{field}: {first['msg']}") from exc


def merge(
    current: M, changes: Mapping[str, Any], allowed: Collection[str], **bookkeeping: Any
) -> M:
    """``current`` with ``changes`` applied, re-validated as a whole.

    Only fields in ``allowed`` may change; naming any other field is a
    ValidationError (so an id, a project or a version can never be patched).
    """
    for name in changes:
        if name not in allowed:
            raise ValidationError(name, f"{name} cannot be changed")
    data = current.model_dump()
    data.update(changes)
    data.update(bookkeeping)
    return build(type(current), data)
