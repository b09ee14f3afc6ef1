"""The committed web/sdk/gen is what protoc-gen-es and tools/web_commands make of proto/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.web.conftest import ROOT, WEB
from tools import web_commands


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_committed_typescript_types_match_protoc_gen_es_output(
    node_bin: Path, tmp_path: Path
) -> None:
    protos = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "proto").rglob("*.proto"))
    # The same flags as the Makefile's `web-types` target.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-Iproto",
            f"--plugin=protoc-gen-es={node_bin / 'protoc-gen-es'}",
            f"--es_out={tmp_path}",
            "--es_opt=target=ts,import_extension=js",
            *protos,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    web_commands.main([str(tmp_path)])
    fresh = _files(tmp_path)
    committed = _files(WEB / "sdk" / "gen")
    assert sorted(fresh) == sorted(committed), "web/sdk/gen differs from proto/; run `make proto`"
    stale = [name for name, data in fresh.items() if committed[name] != data]
    assert not stale, f"stale TypeScript types (run `make proto`): {stale}"
