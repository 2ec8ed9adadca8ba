"""Instructions per report of bench/ingest.py's engine and reference: a figure noise cannot move.

    .venv/bin/python bench/ingest_instructions.py [--mix zipf|uniform|both] [--against PATH]

Wall-clock ratios on a shared machine swing with other guests' CPU steal; instruction
counts do not. Each side runs twice under ``valgrind --tool=cachegrind --cache-sim=no``
(``PYTHONHASHSEED=0``), with ``--small`` and ``--large`` reports; the difference divided
by the reports between them is the cost of one report, start-up and imports cancelled out.
Report generation is included on both sides, as in bench/ingest.py.

The engine runs its fold thread and event loop; valgrind runs one thread at a time, so
the count is the work done, not how it overlaps: the engine's wall-clock lead over the
reference (SQLite's C work on the fold thread beside the loop's Python) does not show here.
``--against PATH`` counts another checkout's engine too (a git worktree of another commit).
Needs valgrind (Debian: ``apt-get install valgrind``); a run takes a few minutes.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

CHILD = """
import asyncio, sys, tempfile
from pathlib import Path
tree, side, mix, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sys.path.insert(0, tree + "/bench"); sys.path.insert(0, tree)
import ingest
from syncengine.ingest.writer import tune_gc_for_ingest
tune_gc_for_ingest()
with tempfile.TemporaryDirectory() as folder:
    if side == "engine":
        asyncio.run(ingest.run_engine(Path(folder), mix, n, 10_000, (1, 5)))
    else:
        ingest.run_reference(Path(folder), mix, n, 10_000, quiet=True)
"""


def instructions(tree: Path, side: str, mix: str, reports: int) -> int:
    """Instructions valgrind counted for one run of ``side`` over ``reports`` reports."""
    done = subprocess.run(
        [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            sys.executable,
            "-c",
            CHILD,
            str(tree),
            side,
            mix,
            str(reports),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if found is None:
        raise SystemExit(f"valgrind printed no instruction count:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def per_report(tree: Path, side: str, mix: str, small: int, large: int) -> float:
    return (instructions(tree, side, mix, large) - instructions(tree, side, mix, small)) / (
        large - small
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mix", choices=["uniform", "zipf", "both"], default="both")
    parser.add_argument("--small", type=int, default=20_000, help="reports in the short run")
    parser.add_argument("--large", type=int, default=60_000, help="reports in the long run")
    parser.add_argument(
        "--against", type=Path, action="append", default=[], help="another checkout's engine"
    )
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    mixes = ["uniform", "zipf"] if args.mix == "both" else [args.mix]
    for mix in mixes:
        reference = per_report(HERE, "reference", mix, args.small, args.large)
        print(f"{mix}: reference {reference:,.0f} instructions per report")
        for tree in [HERE, *args.against]:
            engine = per_report(tree, "engine", mix, args.small, args.large)
            print(
                f"  engine ({tree}): {engine:,.0f} per report, "
                f"{reference / engine:.2f} x the reference's speed by instructions"
            )


if __name__ == "__main__":
    main()
