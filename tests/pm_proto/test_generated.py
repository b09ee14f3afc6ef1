"""The committed generated code is current, and field numbers are never reused."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pool
from google.protobuf.descriptor_pb2 import FileDescriptorProto

from pm_proto import fields_lock
from pm_proto.fields_lock import Lock, Numbers, merged, snapshot, violations

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "pm_proto" / "v1"


# ---- stale generated code -----------------------------------------------------


def test_committed_generated_code_matches_protoc_output(tmp_path):
    protos = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "proto").rglob("*.proto"))
    assert protos, "no .proto files found"
    bin_dir = Path(sys.executable).parent  # where protoc-gen-mypy is installed
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    # The same flags as the Makefile's `proto` target.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-Iproto",
            f"--python_out={tmp_path}",
            f"--mypy_out={tmp_path}",
            *protos,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    fresh = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    committed = {
        p.relative_to(ROOT): p.read_bytes()
        for p in GENERATED.iterdir()
        if p.name.endswith(("_pb2.py", "_pb2.pyi"))
    }
    assert sorted(fresh) == sorted(committed), "generated files differ; run `make proto`"
    stale = [str(name) for name, data in fresh.items() if committed[name] != data]
    assert not stale, f"stale generated code (run `make proto`): {stale}"


def test_the_schema_shipped_with_the_code_is_the_source():
    sources = {p.name: p.read_bytes() for p in (ROOT / "proto" / "pm_proto" / "v1").glob("*.proto")}
    shipped = {p.name: p.read_bytes() for p in GENERATED.glob("*.proto")}
    assert shipped == sources, "pm_proto/v1/*.proto differ from proto/; run `make proto`"


# ---- the field-number lock ----------------------------------------------------


def test_schema_keeps_every_locked_field_number():
    recorded = fields_lock.load(ROOT / fields_lock.LOCK_PATH)
    assert recorded["messages"], "proto/fields.lock.json is missing or empty"
    assert violations(recorded, snapshot(fields_lock.schema_files())) == []


def test_lock_records_every_field_of_the_schema():
    recorded = fields_lock.load(ROOT / fields_lock.LOCK_PATH)
    current = snapshot(fields_lock.schema_files())
    assert merged(recorded, current) == recorded, "new fields are not locked; run `make proto`"


def test_lock_file_is_written_in_canonical_form():
    path = ROOT / fields_lock.LOCK_PATH
    assert path.read_text(encoding="utf-8") == fields_lock.dumps(fields_lock.load(path))


def _lock(**messages: Numbers) -> Lock:
    return Lock(messages=dict(messages), enums={})


def _numbers(reserved: list[list[int]] | None = None, **numbers: int) -> Numbers:
    return Numbers(numbers=numbers, reserved=reserved or [])


RECORDED = _lock(M=_numbers(a=1, b=2, c=3))


@pytest.mark.parametrize(
    ("current", "problem"),
    [
        (_lock(M=_numbers(a=1, b=5, c=3)), "M.b changed number from 2 to 5"),
        (_lock(M=_numbers(a=1, c=3)), "M.b (number 2) was removed without `reserved 2`"),
        (
            _lock(M=_numbers(a=1, c=3, d=2)),
            "M.d reuses number 2, recorded for M.b",
        ),
        (_lock(M=_numbers(a=1, bee=2, c=3)), "M.bee reuses number 2, recorded for M.b"),
    ],
    ids=["renumbered", "removed-not-reserved", "number-reused", "renamed"],
)
def test_lock_violations_are_reported(current, problem):
    assert problem in violations(RECORDED, current)


@pytest.mark.parametrize(
    "current",
    [
        _lock(M=_numbers(a=1, b=2, c=3)),
        _lock(M=_numbers(a=1, b=2, c=3, d=4)),
        _lock(M=_numbers([[2, 2]], a=1, c=3)),
        _lock(M=_numbers([[2, 9]], a=1, c=3, z=10)),
        _lock(),  # a message removed as a whole frees nothing
    ],
    ids=["same", "field-added", "removed-and-reserved", "range-reserved", "message-removed"],
)
def test_compatible_changes_are_not_violations(current):
    assert violations(RECORDED, current) == []


def test_using_a_number_that_was_reserved_is_a_violation():
    recorded = _lock(M=_numbers([[4, 6]], a=1))
    assert violations(recorded, _lock(M=_numbers(a=1, e=5))) == [
        "M.e uses number 5, which was reserved"
    ]


def test_enum_values_are_locked_like_fields():
    recorded = Lock(messages={}, enums={"E": _numbers(E_UNSPECIFIED=0, E_A=1)})
    current = Lock(messages={}, enums={"E": _numbers(E_UNSPECIFIED=0, E_B=1)})
    assert violations(recorded, current) == [
        "E.E_A (number 1) was removed without `reserved 1`",
        "E.E_B reuses number 1, recorded for E.E_A",
    ]


def test_merge_adds_new_fields_and_never_drops_recorded_ones():
    recorded = _lock(M=_numbers(a=1, b=2))
    current = _lock(M=_numbers([[2, 2]], a=1, c=3), N=_numbers(x=1))
    lock = merged(recorded, current)
    assert lock["messages"]["M"] == _numbers([[2, 2]], a=1, b=2, c=3)
    assert lock["messages"]["N"] == _numbers(x=1)
    assert merged(lock, _lock()) == lock


def test_merge_keeps_the_recorded_number_of_a_moved_field():
    recorded = _lock(M=_numbers(a=1))
    lock = merged(recorded, _lock(M=_numbers(a=7)))
    assert lock["messages"]["M"]["numbers"] == {"a": 1}
    assert violations(lock, _lock(M=_numbers(a=7))) != []


def test_snapshot_reads_reserved_ranges_and_nested_types():
    file = FileDescriptorProto(name="t/lock_test.proto", package="t.v1", syntax="proto3")
    message = file.message_type.add(name="Outer")
    message.field.add(name="a", number=1, type=9, label=1)
    message.reserved_range.add(start=4, end=7)  # 4, 5 and 6
    message.reserved_name.append("gone")
    nested = message.nested_type.add(name="Inner")
    nested.field.add(name="b", number=2, type=8, label=1)
    enum = file.enum_type.add(name="Kind")
    enum.value.add(name="KIND_UNSPECIFIED", number=0)
    enum.reserved_range.add(start=3, end=5)  # 3, 4 and 5
    pool = descriptor_pool.DescriptorPool()
    lock = snapshot([pool.AddSerializedFile(file.SerializeToString())])
    assert lock["messages"] == {
        "t.v1.Outer": _numbers([[4, 6]], a=1),
        "t.v1.Outer.Inner": _numbers(b=2),
    }
    assert lock["enums"] == {"t.v1.Kind": _numbers([[3, 5]], KIND_UNSPECIFIED=0)}


def test_lock_command_writes_then_checks(tmp_path, capsys):
    assert fields_lock.main([str(tmp_path)]) == 2  # no proto/ directory: not a root
    (tmp_path / "proto").mkdir()
    assert fields_lock.main([str(tmp_path), "--check"]) == 1
    assert "run `make proto`" in capsys.readouterr().err
    assert fields_lock.main([str(tmp_path)]) == 0
    assert fields_lock.main([str(tmp_path), "--check"]) == 0
    written = (tmp_path / fields_lock.LOCK_PATH).read_text(encoding="utf-8")
    assert written == (ROOT / fields_lock.LOCK_PATH).read_text(encoding="utf-8")


def test_lock_command_refuses_to_write_over_a_violation(tmp_path, capsys):
    (tmp_path / "proto").mkdir()
    lock = copy.deepcopy(fields_lock.load(ROOT / fields_lock.LOCK_PATH))
    lock["messages"]["pm.v1.User"]["numbers"]["email"] = 99
    path = tmp_path / fields_lock.LOCK_PATH
    path.write_text(fields_lock.dumps(lock), encoding="utf-8")
    assert fields_lock.main([str(tmp_path)]) == 1
    assert "pm.v1.User.email changed number from 99 to 7" in capsys.readouterr().err
    assert path.read_text(encoding="utf-8") == fields_lock.dumps(lock)
