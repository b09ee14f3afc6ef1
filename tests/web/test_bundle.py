"""The committed board bundle (pm_server/static) is what `make web` builds from web/app."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.web.conftest import ROOT, WEB


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_committed_bundle_matches_a_fresh_build(node_bin: Path, tmp_path: Path) -> None:
    out = tmp_path / "static"
    result = subprocess.run(
        ["node", "build.mjs", str(out)], cwd=WEB, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    fresh = _files(out)
    committed = _files(ROOT / "pm_server" / "static")
    assert sorted(fresh) == sorted(committed), (
        "pm_server/static differs from web/app: run `make web`"
    )
    stale = [name for name, data in fresh.items() if committed[name] != data]
    assert not stale, f"stale bundle (run `make web`): {stale}"
