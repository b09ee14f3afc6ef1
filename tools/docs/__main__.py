"""``python -m tools.docs [ROOT] [--check]``: rewrite the generated doc tables.

``make docs`` (and ``make proto``) run it. ROOT (default: the current
directory) is the repository root. With ``--check`` nothing is written and the
exit status is 1 when a committed doc is stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.docs.blocks import DocError
from tools.docs.writer import generated, stale


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.docs", description=__doc__)
    parser.add_argument("root", nargs="?", type=Path, default=Path())
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when stale")
    args = parser.parse_args()
    try:
        if args.check:
            out = stale(args.root)
            for path in out:
                print(f"{path} is stale: run make docs", file=sys.stderr)
            return 1 if out else 0
        for path, text in generated(args.root).items():
            target = args.root / path
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                target.write_text(text, encoding="utf-8")
                print(f"wrote {path}")
    except DocError as exc:
        print(f"make docs: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
