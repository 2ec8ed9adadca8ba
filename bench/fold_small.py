"""Small batches: what one fold transaction costs when single events make the batches.

    .venv/bin/python bench/fold_small.py [--sizes 1,8,16] [--batches 1500]

With one event per request, a batch holds at most as many reports as there are
requests in flight (16 connections: 16 reports; with ``serve --workers 2``, about half
that each), so the fold's fixed cost per transaction (BEGIN, one statement per table,
the hooks' lookups, COMMIT) is paid for every few events. For each size:

- **engine**: ``GroupRepository.fold`` with every production hook on (regression check,
  group history, ticket rules), one batch of ``size`` reports at a time, on the migrated
  schema, after a warm-up that creates most groups;
- **reference**: the same reports through ``bench/ingest.py``'s plain sqlite3 reference
  (group and attribute-count upserts only, text keys), one transaction per batch.

Each side is timed in CPU-seconds of the process, best of five slices of the run (the
machine is shared: see bench/README.md); the ratio is reference time over engine time
per batch (above 1: the engine's transaction, hooks and all, costs less). Reports come
from ``bench/ingest.py``'s uniform stream over ``--fingerprints`` groups.

For a figure no other guest's load moves, run it under ``valgrind --tool=cachegrind
--cache-sim=no`` with ``--engine-only --sizes N`` twice, ``--batches B`` and
``--batches B+100``, and divide the difference in instructions by 100.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from ingest import Reports, load, production_hooks, run_reference

from syncengine.ingest.writer import tune_gc_for_ingest
from syncengine.store.database import Database
from syncengine.store.groups import GroupRepository
from syncengine.store.migrate import upgrade
from syncengine.store.projects import ProjectRepository

_SLICES = 5


async def engine_ms(
    folder: Path, size: int, batches: int, fingerprints: int, done_items: int = 0
) -> float:
    """CPU milliseconds per fold of ``size`` reports (best slice), all hooks on; with
    ``done_items`` finished outbox items (as ``retention_days`` keeps them) in the outbox."""
    url = f"sqlite+aiosqlite:///{folder}/engine-{size}.db"
    upgrade(url)
    db = Database(url)
    now = datetime.now(UTC)
    project = await ProjectRepository(db).ensure("bench", name="", integration_active=True, now=now)
    repository = GroupRepository(db, samples_first=1, samples_newest=5)
    repository.hooks += production_hooks()
    stream = Reports("uniform", fingerprints=fingerprints)
    warm = max(fingerprints // size, 1)
    chunks = list(stream.chunks(size * (warm + batches), size))
    for chunk in chunks[:warm]:
        await repository.fold([(project.id, chunk)], now=now)
    if done_items:
        await _finished_items(db, project.id, done_items, now)
    timed = chunks[warm:]
    best = float("inf")
    step = max(len(timed) // _SLICES, 1)
    for start in range(0, len(timed), step):
        part = timed[start : start + step]
        cpu = time.process_time()
        for chunk in part:
            await repository.fold([(project.id, chunk)], now=now)
        best = min(best, (time.process_time() - cpu) / len(part))
    await db.aclose()
    return best * 1000


async def _finished_items(db: Database, project_id: int, n: int, now: datetime) -> None:
    """``n`` done ``create`` items spread over the project's groups."""
    async with db.connect() as conn:
        found = await conn.exec_driver_sql("SELECT id FROM error_groups")
        ids = [int(i) for i in found.scalars()]
        stamp = now.isoformat(" ")[:26]
        rows = [
            (project_id, ids[i % len(ids)], "create", "{}", "done", 1, stamp, stamp, stamp)
            for i in range(n)
        ]
        await conn.exec_driver_sql(
            "INSERT INTO outbox (project_id, group_id, kind, payload, state, attempts,"
            " next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def reference_ms(folder: Path, size: int, batches: int, fingerprints: int) -> float:
    """CPU milliseconds per plain-sqlite3 transaction of ``size`` reports (best of slices)."""
    best = float("inf")
    for _ in range(_SLICES):
        run = run_reference(
            folder, "uniform", size * (batches // _SLICES), size, fingerprints, quiet=True
        )
        best = min(best, size / run.cpu_rate)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,8,16", help="reports per batch, comma-separated")
    parser.add_argument("--batches", type=int, default=1500, help="timed batches per size")
    parser.add_argument("--fingerprints", type=int, default=500)
    parser.add_argument("--engine-only", action="store_true", help="no reference (valgrind)")
    parser.add_argument(
        "--done-items",
        type=int,
        default=0,
        help="finished items in the outbox while folding (retention_days keeps them 14 days)",
    )
    args = parser.parse_args()
    tune_gc_for_ingest()
    print(
        f"{args.batches:,} batches per size over {args.fingerprints:,} fingerprints, "
        f"{args.done_items:,} finished items in the outbox"
    )
    with tempfile.TemporaryDirectory(prefix="syncengine-bench-") as tmp:
        folder = Path(tmp)
        for size in (int(s) for s in args.sizes.split(",")):
            print(f"size {size} (load {load()}):")
            engine = asyncio.run(
                engine_ms(folder, size, args.batches, args.fingerprints, args.done_items)
            )
            print(f"  engine:    {engine:6.3f} ms CPU per batch, {engine / size:6.3f} per report")
            if args.engine_only:
                continue
            reference = reference_ms(folder, size, args.batches, args.fingerprints)
            per_report = reference / size
            print(f"  reference: {reference:6.3f} ms CPU per batch, {per_report:6.3f} per report")
            print(f"  ratio:     {reference / engine:6.2f} (reference / engine)")


if __name__ == "__main__":
    main()
