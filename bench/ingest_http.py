"""HTTP batch ingest: a load generator against a real ``syncengine serve`` on SQLite.

Starts the server with a temporary config, then posts pre-built JSON Lines
batches (gzip, as pipelines send them) from several concurrent keep-alive
connections and prints the rate at which reports were answered 202 (each answer
comes after its batch committed), the server's CPU per report, and its resident
memory before and after. In the same run it measures, as references:

- **raw**: the same requests to ``bench/raw_http.py``'s bare server (the HTTP
  floor of this machine now: what the load generator and the loopback cost);
- **against** (with ``--against PATH``): the same server from another checkout,
  e.g. the code before a change;
- **fold** (with ``--fold``): the same reports, parsed beforehand, submitted by as
  many concurrent submitters straight to a ``BatchWriter`` in this process, with the
  fold hooks ``serve`` runs: what the store takes without HTTP, parsing or the
  server's other work. The HTTP run's ratio to it is what everything before the
  fold costs (1.00: nothing).

    .venv/bin/python bench/ingest_http.py --reports 200000 --batch 1000 --concurrency 4 \
        [--zipf] [--fold] [--passive] [--workers N] [--sim-process]

- **1 process** (with ``--workers N``): ``serve --workers N`` is measured after the one
  process, both against a ``syncengine jira-sim`` process of their own (``--sim-process``
  does that for one process alone), so the simulator's CPU is not the server's.

With more than 100,000 reports it also prints the server's memory at 100,000 and
at the end (it should stay flat: the writer bounds what waits in memory). After
the run the store is read back: the bench fails unless it holds every report answered.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import random
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from raw_http import request, send_all
from served import (
    Served,
    free_port,
    jira_sim,
    load_average,
    syncengine_command,
    wait_for_workers,
    write_syncengine_config,
)

TOKEN = "bench-token-0123456789abcdef"
_PATH = "/api/v1/projects/bench/reports"
_HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "Content-Type": "application/x-ndjson",
    "Content-Encoding": "gzip",
}


def build_bodies(reports: int, batch: int, fingerprints: int, zipf: bool) -> list[bytes]:
    rnd = random.Random(7)
    weights = [1 / (rank + 1) for rank in range(fingerprints)] if zipf else None
    population = range(fingerprints)
    bodies = []
    for start in range(0, reports, batch):
        n = min(batch, reports - start)
        picks = rnd.choices(population, weights=weights, k=n)
        lines = [
            json.dumps(
                {
                    "classifier": f"Error{fp % 97}",
                    "callstack": [f"fn_{fp}", "handler", "main"],
                    "attributes": {f"attr{a}": f"value{rnd.randrange(5)}" for a in range(10)},
                    "version": "1.0.0",
                },
                separators=(",", ":"),
            )
            for fp in picks
        ]
        bodies.append(gzip.compress("\n".join(lines).encode(), compresslevel=1))
    return bodies


@dataclass(frozen=True)
class Run:
    label: str
    reports: int
    elapsed: float
    cpu: float
    rss_before: float
    rss_after: float
    rss_at_100k: float | None
    load: str
    each_at_100k: dict[int, float] | None = None
    each_after: dict[int, float] | None = None

    @property
    def rate(self) -> float:
        return self.reports / self.elapsed


def measure(label: str, served: Served, bodies: list[bytes], args) -> Run:
    """Two warm-up batches (first groups, caches), then the rest, timed."""
    requests = [request("POST", _PATH, body, _HEADERS) for body in bodies]
    warm = asyncio.run(send_all(served.port, requests[:2], 1))
    requests = requests[2:]
    if warm.ok != 2:
        raise SystemExit(f"{label}: warm-up answers {warm.statuses}: {warm.first_error!r}")
    before, cpu = served.rss(), served.cpu()
    split = 100_000 // args.batch if args.reports > 100_000 else len(requests)
    first = asyncio.run(send_all(served.port, requests[:split], args.concurrency))
    at_100k = served.rss() if split < len(requests) else None
    each_at_100k = served.rss_each() if split < len(requests) else None
    rest = asyncio.run(send_all(served.port, requests[split:], args.concurrency))
    cpu = served.cpu() - cpu
    if first.ok + rest.ok != len(requests):
        problem = first.first_error or rest.first_error
        raise SystemExit(f"{label}: answers {first.statuses} {rest.statuses}: {problem!r}")
    return Run(
        label=label,
        reports=args.reports,
        elapsed=first.elapsed + rest.elapsed,
        cpu=cpu,
        rss_before=before,
        rss_after=served.rss(),
        rss_at_100k=at_100k,
        load=load_average(),
        each_at_100k=each_at_100k,
        each_after=served.rss_each(),
    )


def run_syncengine(
    label: str, python_path: str | None, bodies: list[bytes], args, workers: int = 1
) -> Run:
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        folder = Path(tmp)
        jira_url = ""
        if args.sim_process or workers > 1:
            jira_url = stack.enter_context(jira_sim(folder)).base
        config = write_syncengine_config(
            folder, token=TOKEN, extra=args.extra, jira_url=jira_url, workers=workers
        )
        port = free_port()
        env = {"PYTHONPATH": python_path} if python_path else {}
        command = syncengine_command(port, config)
        # From the checkout measured: ``python -m`` puts the working directory first on
        # sys.path, so from this repository's root PYTHONPATH alone imported this code again.
        cwd = Path(python_path) if python_path else None
        log = folder / "server.log"
        with Served(command, port=port, env=env, log=log, cwd=cwd) as served:
            if workers > 1:
                wait_for_workers(log, workers, label)
            run = measure(label, served, bodies, args)
        with sqlite3.connect(folder / "data" / "syncengine.db") as conn:
            stored = conn.execute("SELECT COALESCE(SUM(count), 0) FROM error_groups").fetchone()[0]
    if stored != args.reports + 2 * args.batch:  # the two warm-up batches come first
        raise SystemExit(f"{label}: {args.reports:,} reports answered 202, {stored:,} stored")
    return run


async def _fold_run(folder: Path, config: Path, bodies: list[bytes], args) -> tuple[float, float]:
    """Wall and CPU seconds of folding ``bodies``' reports, the parsing left out of both."""
    from datetime import UTC, datetime

    from ingest import production_hooks

    from syncengine.ingest.limits import ReportContext
    from syncengine.ingest.native import parse_native
    from syncengine.ingest.writer import BatchWriter, tune_gc_for_ingest
    from syncengine.settings import load_settings
    from syncengine.store.database import Database
    from syncengine.store.groups import GroupRepository
    from syncengine.store.migrate import upgrade
    from syncengine.store.projects import ProjectRepository

    settings = load_settings(config)
    tune_gc_for_ingest()
    url = f"sqlite+aiosqlite:///{folder}/fold.db"
    upgrade(url)
    db = Database(url)
    now = datetime.now(UTC)
    project = await ProjectRepository(db).ensure("bench", name="", integration_active=True, now=now)
    repository = GroupRepository(  # as bootstrap builds it for serve
        db,
        samples_first=settings.ingest.samples_first,
        samples_newest=settings.ingest.samples_newest,
        hooks=production_hooks(settings),
    )
    writer = BatchWriter(
        repository,
        clock=lambda: now,
        max_reports=settings.ingest.batch_max_reports,
        max_delay=settings.ingest.batch_max_delay_ms / 1000,
    )
    ctx = ReportContext(project="bench", now=now)
    wall = cpu = 0.0
    window = 20 * args.concurrency  # parsed ahead, untimed; memory stays bounded

    async def submitter(queue: list[list]) -> None:
        while queue:
            await writer.submit(project.id, queue.pop())

    for start in range(0, len(bodies), window):
        parsed = [
            [
                p.report
                for p in parse_native(gzip.decompress(b), _HEADERS["Content-Type"], ctx).reports
            ]
            for b in bodies[start : start + window]
        ]
        parsed.reverse()
        started, began = time.perf_counter(), time.process_time()
        await asyncio.gather(*(submitter(parsed) for _ in range(args.concurrency)))
        wall += time.perf_counter() - started
        cpu += time.process_time() - began
    await writer.aclose()
    await db.aclose()
    return wall, cpu


def run_fold(bodies: list[bytes], args) -> Run:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = write_syncengine_config(folder, token=TOKEN, extra=args.extra)
        asyncio.run(_fold_run(folder, config, bodies[:2], args))  # the warm-up batches
        wall, cpu = asyncio.run(_fold_run(folder, config, bodies[2:], args))
    return Run("fold", args.reports, wall, cpu, 0.0, 0.0, None, load_average())


def run_raw(bodies: list[bytes], args) -> Run:
    port = free_port()
    command = [sys.executable, str(Path(__file__).with_name("raw_http.py")), str(port)]
    with Served(command, port=port, health="/") as served:
        return measure("raw", served, bodies, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--fingerprints", type=int, default=10_000)
    parser.add_argument("--zipf", action="store_true", help="Zipf-like mix instead of uniform")
    parser.add_argument("--against", help="another checkout to measure the same way")
    parser.add_argument("--raw", action="store_true", help="also measure the bare-server floor")
    parser.add_argument(
        "--fold", action="store_true", help="also measure the same reports' fold without HTTP"
    )
    parser.add_argument(
        "--passive", action="store_true", help="integration Passive: tickets queued, not pushed"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="also measure `serve --workers N` (it and the one-process run then use a "
        "`syncengine jira-sim` process, so neither counts the simulator's CPU as the server's)",
    )
    parser.add_argument(
        "--sim-process",
        action="store_true",
        help="the Jira simulator as a process of its own, not bundled in the server",
    )
    args = parser.parse_args()
    args.sim_process = args.sim_process or args.workers > 1
    args.reports -= args.reports % args.batch
    args.extra = "integration_active = false\n" if args.passive else ""

    bodies = build_bodies(args.reports + 2 * args.batch, args.batch, args.fingerprints, args.zipf)
    runs = [run_raw(bodies, args)] if args.raw else []
    if args.fold:
        runs.append(run_fold(bodies, args))
    runs.append(run_syncengine("syncengine", None, bodies, args))
    if args.workers > 1:
        runs.append(run_syncengine(f"{args.workers} workers", None, bodies, args, args.workers))
    if args.against:
        runs.append(run_syncengine("against", args.against, bodies, args))
    mix = "zipf" if args.zipf else "uniform"
    print(
        f"HTTP ingest ({mix}, {args.reports:,} reports over {args.fingerprints:,} fingerprints, "
        f"batches of {args.batch}, {args.concurrency} connections)"
    )
    raw = runs[0] if args.raw else None
    fold = next((run for run in runs if run.label == "fold"), None)
    against = runs[-1] if args.against else None
    one = next((run for run in runs if run.label == "syncengine"), None)
    for run in runs:
        vs_raw = f"{run.rate / raw.rate:.3f}" if raw else "-"
        vs_fold = f"{run.rate / fold.rate:.2f}" if fold else "-"
        vs_against = f"{run.rate / against.rate:.2f}" if against else "-"
        vs_one = f"  vs 1 process {run.rate / one.rate:.2f}" if one and args.workers > 1 else ""
        grown = ""
        if run.rss_at_100k:
            change = (run.rss_after - run.rss_at_100k) / run.rss_at_100k * 100
            grown = f", {run.rss_at_100k:.0f} at 100k ({change:+.1f} % to the end)"
        memory = f"RSS {run.rss_before:.0f} → {run.rss_after:.0f} MiB" if run.rss_after else ""
        print(
            f"  {run.label:<10} {run.rate:>9,.0f} reports/s  "
            f"{run.cpu / run.reports * 1e6:>6.0f} µs CPU/report  vs raw {vs_raw}  "
            f"vs fold {vs_fold}  vs against {vs_against}{vs_one}  {memory}{grown}  {run.load}"
        )
        if run.each_after and len(run.each_after) > 1:  # the supervisor, then each worker
            start = run.each_at_100k or {}
            parts = [
                f"{pid}: {start[pid]:.0f} → {mib:.0f}" if pid in start else f"{pid}: {mib:.0f}"
                for pid, mib in sorted(run.each_after.items())
            ]
            print(f"             RSS by process (MiB, 100k → end): {', '.join(parts)}")


if __name__ == "__main__":
    main()
