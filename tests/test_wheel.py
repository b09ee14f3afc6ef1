"""The wheel holds what an installed pm needs: the code, the migrations, the wire schema."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD_LEFTOVERS = (
    ".venv",
    ".git",
    "build",
    "*.egg-info",
    ".*_cache",
    "__pycache__",
    "var",
    "node_modules",
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    # Built from a copy, so the build leaves nothing in the working tree.
    source = tmp_path_factory.mktemp("src") / "pm"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*BUILD_LEFTOVERS))
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(source),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (built,) = out.glob("*.whl")
    return zipfile.ZipFile(built)


def test_the_distribution_is_named_so_it_clashes_with_no_other(wheel: zipfile.ZipFile) -> None:
    assert Path(wheel.filename or "").name.startswith("pm_boards-")
    entry_points = next(n for n in wheel.namelist() if n.endswith("entry_points.txt"))
    assert "pm = pm_server.cli:main" in wheel.read(entry_points).decode()


def test_the_wheel_holds_migrations_schema_and_type_markers(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    migrations = sorted(p.name for p in (ROOT / "pm_db" / "migrations").glob("*.sql"))
    assert {f"pm_db/migrations/{m}" for m in migrations} <= names
    schema = sorted(p.name for p in (ROOT / "proto" / "pm_proto" / "v1").glob("*.proto"))
    assert schema
    assert {f"pm_proto/v1/{s}" for s in schema} <= names
    packages = ("pm_core", "pm_db", "pm_auth", "pm_proto", "pm_server", "pm_client")
    assert {f"{p}/py.typed" for p in packages} <= names
    assert not any(n.startswith(("tests/", "bench/", "tools/", "web/")) for n in names)
    # The board's bundle, which pm serves at / (make run needs no Node).
    static = ROOT / "pm_server" / "static"
    bundle = {str(p.relative_to(ROOT)) for p in static.rglob("*") if p.is_file()}
    assert "pm_server/static/index.html" in bundle
    assert bundle <= names
