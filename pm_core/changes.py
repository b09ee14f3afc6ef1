"""Field-level differences between two versions of an entity."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from pm_core.models import FieldChange, Model

M = TypeVar("M", bound=Model)

# Bookkeeping fields that change on every write and are not part of "what changed".
_BOOKKEEPING = frozenset({"version", "updated_at", "created_at", "deleted_at"})


def diff(old: Model, new: Model, fields: Iterable[str] | None = None) -> list[FieldChange]:
    """One FieldChange per field whose value differs, values in JSON form.

    ``old`` and ``new`` must be the same model class. Fields are compared in
    declaration order so the result is deterministic.
    """
    if type(old) is not type(new):
        raise TypeError("diff() needs two versions of the same model")
    names = list(fields) if fields is not None else list(type(old).model_fields)
    old_json = old.model_dump(mode="json", include=set(names))
    new_json = new.model_dump(mode="json", include=set(names))
    return [
        FieldChange(field=name, old=old_json[name], new=new_json[name])
        for name in names
        if name not in _BOOKKEEPING and old_json[name] != new_json[name]
    ]


@dataclass(frozen=True, slots=True)
class Updated(Generic[M]):
    """An entity after an update, and what changed (old and new per field)."""

    entity: M
    changes: list[FieldChange]
