"""Field numbers are never reused: ``proto/fields.lock.json`` remembers them.

The lock records, for every message of the schema, each field's number and
the message's reserved numbers, and the same for every enum's values. It only
ever grows: a field removed from the schema stays in the lock, and its number
must then be ``reserved`` in its message. :func:`violations` compares the lock
with the schema as compiled; ``tests/pm_proto/test_generated.py`` fails on any
violation and when the lock lacks a field, and ``make proto`` refreshes it::

    python -m pm_proto.fields_lock [ROOT] [--check]

ROOT (default: the current directory) is the repository root holding
``proto/fields.lock.json``. The schema read is the one in the generated
``pm_proto.v1`` modules. With violations nothing is written and the exit
status is 1.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Final, Literal, TypedDict

from google.protobuf.descriptor import FileDescriptor
from google.protobuf.descriptor_pb2 import (
    DescriptorProto,
    EnumDescriptorProto,
    FileDescriptorProto,
)

import pm_proto.v1

LOCK_PATH: Final = Path("proto") / "fields.lock.json"


class Numbers(TypedDict):
    """One message's fields (or one enum's values) and its reserved ranges."""

    numbers: dict[str, int]
    # Inclusive [first, last] pairs.
    reserved: list[list[int]]


class Lock(TypedDict):
    messages: dict[str, Numbers]
    enums: dict[str, Numbers]


_KINDS: Final[tuple[Literal["messages", "enums"], ...]] = ("messages", "enums")


# ---- reading the schema ----------------------------------------------------


def schema_files() -> list[FileDescriptor]:
    """The file descriptors of every generated module in ``pm_proto.v1``."""
    files = []
    for info in sorted(pkgutil.iter_modules(pm_proto.v1.__path__), key=lambda i: i.name):
        if info.name.endswith("_pb2"):
            module = importlib.import_module(f"pm_proto.v1.{info.name}")
            descriptor: FileDescriptor = module.DESCRIPTOR
            files.append(descriptor)
    return files


def snapshot(files: Iterable[FileDescriptor]) -> Lock:
    """The numbers of every message and enum (nested ones too) in ``files``."""
    lock = Lock(messages={}, enums={})
    for file in files:
        proto = FileDescriptorProto.FromString(file.serialized_pb)
        prefix = f"{proto.package}." if proto.package else ""
        for message in proto.message_type:
            _add_message(lock, prefix + message.name, message)
        for enum in proto.enum_type:
            lock["enums"][prefix + enum.name] = _enum_numbers(enum)
    return lock


def _add_message(lock: Lock, full_name: str, message: DescriptorProto) -> None:
    lock["messages"][full_name] = Numbers(
        numbers={field.name: field.number for field in message.field},
        # A message's reserved range excludes its end; an enum's includes it.
        reserved=[[r.start, r.end - 1] for r in message.reserved_range],
    )
    for nested in message.nested_type:
        _add_message(lock, f"{full_name}.{nested.name}", nested)
    for enum in message.enum_type:
        lock["enums"][f"{full_name}.{enum.name}"] = _enum_numbers(enum)


def _enum_numbers(enum: EnumDescriptorProto) -> Numbers:
    return Numbers(
        numbers={value.name: value.number for value in enum.value},
        reserved=[[r.start, r.end] for r in enum.reserved_range],
    )


# ---- comparing and merging -------------------------------------------------


def violations(recorded: Lock, current: Lock) -> list[str]:
    """Every way ``current`` reuses or moves a number that ``recorded`` knows."""
    problems: list[str] = []
    for kind in _KINDS:
        for name, was in recorded[kind].items():
            now = current[kind].get(name)
            if now is not None:  # a type removed as a whole frees nothing
                problems.extend(_compare(name, was, now))
    return problems


def _compare(type_name: str, was: Numbers, now: Numbers) -> Iterator[str]:
    for name, number in was["numbers"].items():
        moved = now["numbers"].get(name)
        if moved is None and not _is_reserved(number, now["reserved"]):
            yield f"{type_name}.{name} (number {number}) was removed without `reserved {number}`"
        elif moved is not None and moved != number:
            yield f"{type_name}.{name} changed number from {number} to {moved}"
    owners: dict[int, set[str]] = {}
    for name, number in was["numbers"].items():
        owners.setdefault(number, set()).add(name)
    for name, number in now["numbers"].items():
        before = owners.get(number, {name})
        if name not in before:
            yield (
                f"{type_name}.{name} reuses number {number}, "
                f"recorded for {type_name}.{', '.join(sorted(before))}"
            )
        if _is_reserved(number, was["reserved"]):
            yield f"{type_name}.{name} uses number {number}, which was reserved"


def _is_reserved(number: int, ranges: Sequence[Sequence[int]]) -> bool:
    return any(first <= number <= last for first, last in ranges)


def merged(recorded: Lock, current: Lock) -> Lock:
    """``recorded`` plus every type, field and reserved range new in ``current``.

    Nothing recorded is dropped or changed: a moved field keeps its recorded
    number, so the violation stays visible until the schema is fixed.
    """
    out = Lock(messages={}, enums={})
    for kind in _KINDS:
        for name in sorted(recorded[kind].keys() | current[kind].keys()):
            was = recorded[kind].get(name, Numbers(numbers={}, reserved=[]))
            now = current[kind].get(name, Numbers(numbers={}, reserved=[]))
            numbers = {**now["numbers"], **was["numbers"]}
            ranges = {tuple(r) for r in was["reserved"]} | {tuple(r) for r in now["reserved"]}
            out[kind][name] = Numbers(
                numbers=dict(sorted(numbers.items(), key=lambda item: (item[1], item[0]))),
                reserved=[list(r) for r in sorted(ranges)],
            )
    return out


# ---- the lock file ---------------------------------------------------------


def load(path: Path) -> Lock:
    """The lock at ``path``; an empty one when the file does not exist yet."""
    if not path.exists():
        return Lock(messages={}, enums={})
    data = json.loads(path.read_text(encoding="utf-8"))
    return Lock(messages=data["messages"], enums=data["enums"])


def dumps(lock: Lock) -> str:
    return json.dumps(lock, indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pm_proto.fields_lock", description=__doc__)
    parser.add_argument("root", nargs="?", default=".", type=Path, help="repository root")
    parser.add_argument("--check", action="store_true", help="only check, never write")
    args = parser.parse_args(argv)
    path: Path = args.root / LOCK_PATH
    if not path.parent.is_dir():
        print(f"{path.parent} is not a directory; pass the repository root", file=sys.stderr)
        return 2
    recorded = load(path)
    current = snapshot(schema_files())
    problems = violations(recorded, current)
    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)
    if problems:
        return 1
    new = merged(recorded, current)
    if args.check:
        if new != recorded:
            print(f"{path} is missing fields; run `make proto`", file=sys.stderr)
            return 1
        return 0
    text = dumps(new)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
