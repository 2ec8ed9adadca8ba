"""Ingest throughput: the engine's write path against a plain sqlite3 reference, same run.

    .venv/bin/python bench/ingest.py [--reports N] [--mix uniform|zipf|both]

Synthetic reports over 10,000 fingerprints, 10 attributes of 5 values each, on
SQLite files in a temporary folder. Two mixes: uniform over fingerprints (the
worst case: every batch touches most groups) and Zipf-like (s = 1.1: a few
groups take most reports, as in real crash traffic).

- **engine**: 40 concurrent submitters post 500-report submissions to a
  ``BatchWriter`` over ``GroupRepository`` on the migrated schema, as the HTTP
  endpoints do; it keeps samples (first 1, newest 5) as well as counts.
- **reference**: the same reports, pre-aggregated per batch of 10,000, written
  with ``sqlite3`` ``executemany`` upserts of group and attribute-count rows in
  one transaction per batch, on the foundation's schema (text attribute keys).

Both include generating the reports (its own rate is printed too). Each side
is timed in wall-clock seconds and in CPU-seconds of the process (the engine's
SQLite thread included); with ``--rounds R`` they alternate R times and the best
of each side is compared, since the machine is shared. The goal: the engine with
every hook on at least 2x the reference, never below 1x. The engine
runs with the GC thresholds ``bootstrap`` sets for the server
(``tune_gc_for_ingest``); the reference runs after it in the same process, so
with the same thresholds. The writer's memory is the process RSS after every
100,000 reports; the ±10 % target compares 100,000 with the end of the run.
The HTTP side of the same load is ``bench/ingest_http.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syncengine.bootstrap.values import regression_checks, ticket_rules
from syncengine.domain.reports import CrashReport, Frame
from syncengine.ingest.writer import BatchWriter, tune_gc_for_ingest
from syncengine.settings import Settings
from syncengine.store.database import Database
from syncengine.store.groups import FoldHook, GroupRepository
from syncengine.store.history import HistoryHook
from syncengine.store.migrate import upgrade
from syncengine.store.projects import ProjectRepository
from syncengine.sync.planner import TicketPlanner
from syncengine.sync.regressions import RegressionHook

FINGERPRINTS = 10_000
ATTRIBUTES = 10
VALUES = 5
T0 = datetime(2026, 11, 23, tzinfo=UTC)
FRAMES = (
    Frame(function="handle", module="app.views", filename="views.py", line=10, in_app=True),
    Frame(function="dispatch", module="app.core", filename="core.py", line=20, in_app=True),
)


def rss_mib() -> float:
    """The process's resident set size, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Reports:
    """A deterministic stream of synthetic reports (the same for engine and reference)."""

    def __init__(self, mix: str, seed: int = 7, fingerprints: int | None = None) -> None:
        self.rng = random.Random(seed)
        self.mix = mix
        self.n = fingerprints or FINGERPRINTS
        self.fingerprints = [f"fp-{i:05d}-{'x' * 24}" for i in range(self.n)]
        weights = [1 / (k**1.1) for k in range(1, self.n + 1)]
        self.cumulative = list(itertools.accumulate(weights))
        pool = []
        for _ in range(4096):
            values = [self.rng.randrange(VALUES) for _ in range(ATTRIBUTES)]
            attributes = {f"attr{a}": f"value-{a}-{v}" for a, v in enumerate(values)}
            pool.append((attributes, f"1.{values[0]}.0"))
        self.pool = pool

    def _fingerprint(self) -> str:
        if self.mix == "uniform":
            return self.fingerprints[self.rng.randrange(self.n)]
        point = self.rng.random() * self.cumulative[-1]
        return self.fingerprints[bisect.bisect_left(self.cumulative, point)]

    def take(self, start: int, n: int) -> list[CrashReport]:
        out = []
        for i in range(start, start + n):
            attributes, version = self.pool[self.rng.randrange(4096)]
            out.append(
                CrashReport(
                    project="bench",
                    timestamp=T0 + timedelta(milliseconds=i),
                    fingerprint=self._fingerprint(),
                    classifier="ValueError",
                    message="invalid literal",
                    frames=FRAMES,
                    attributes=attributes,
                    version=version,
                )
            )
        return out

    def chunks(self, total: int, size: int) -> Iterator[list[CrashReport]]:
        for start in range(0, total, size):
            yield self.take(start, min(size, total - start))


async def run_engine(
    folder: Path,
    mix: str,
    total: int,
    batch: int,
    samples: tuple[int, int],
    postgres: str | None = None,
    *,
    hooks: bool = True,
    fingerprints: int = FINGERPRINTS,
    cache_mib: int = 32,
) -> Run:
    """Reports per second through BatchWriter, RSS at 100 k and at the end (MiB).

    With ``hooks`` the fold runs what production runs in its transaction: the
    regression check, the group history and the ticket rules (every new group is due
    a ticket, so a create is queued for each).
    """
    tune_gc_for_ingest()  # as bootstrap does for the server
    url = postgres_database(postgres) if postgres else f"sqlite+aiosqlite:///{folder}/e-{mix}.db"
    upgrade(url)
    db = Database(url, bulk_cache_mib=cache_mib)
    now = datetime.now(UTC)
    project = await ProjectRepository(db).ensure("bench", name="", integration_active=True, now=now)
    repository = GroupRepository(db, samples_first=samples[0], samples_newest=samples[1])
    if hooks:
        repository.hooks += production_hooks()
    writer = BatchWriter(
        repository,
        clock=lambda: now,
        max_reports=batch,
        max_delay=0.05,
    )
    stream = Reports(mix, fingerprints=fingerprints)
    chunks = stream.chunks(total, 500)
    done = 0
    rss: list[float] = []  # after every 100,000 reports

    async def submitter() -> None:
        nonlocal done
        for chunk in chunks:
            await writer.submit(project.id, chunk)
            done += len(chunk)
            if done >= 100_000 * (len(rss) + 1):
                rss.append(rss_mib())

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(submitter() for _ in range(40)))
    await writer.aclose()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    rss_end = rss_mib()
    await db.aclose()
    if postgres:
        postgres_database(postgres, create=False)
    print(
        f"  engine:    {total / elapsed:>9,.0f} reports/s  {total / cpu:>9,.0f} per CPU-second  "
        f"({writer.stats.batches} batches, "
        f"{total / max(writer.stats.batches, 1):,.0f} reports each)"
    )
    if len(rss) > 1:
        print("  RSS every 100,000 reports (MiB): " + " ".join(f"{r:.0f}" for r in rss))
    return Run(total / elapsed, total / cpu, rss[0] if rss else 0.0, rss_end)


def production_hooks(settings: Settings | None = None) -> list[FoldHook]:
    """The fold hooks ``bootstrap`` gives ``serve``, in its order (regressions, history,
    ticket rules), for ``settings``' projects (default: project ``bench`` with a Jira)."""
    if settings is None:
        settings = Settings(projects={"bench": {"jira": {"url": "https://jira.invalid"}}})
    rules = {slug: ticket_rules(project) for slug, project in settings.projects.items()}
    return [RegressionHook(regression_checks(settings)), HistoryHook(), TicketPlanner(rules)]


@dataclass(frozen=True)
class Run:
    """One run's rates (wall and CPU) and, for the engine, its memory."""

    rate: float
    cpu_rate: float
    rss_100k: float = 0.0
    rss_end: float = 0.0


def postgres_database(server: str, *, create: bool = True) -> str:
    """A fresh database on the PostgreSQL server at ``server`` (dropped, then re-created)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS syncengine_bench WITH (FORCE)"))
        if create:
            conn.execute(text("CREATE DATABASE syncengine_bench"))
    admin.dispose()
    return make_url(server).set(database="syncengine_bench").render_as_string(hide_password=False)


def _ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def run_reference(
    folder: Path,
    mix: str,
    total: int,
    batch: int,
    fingerprints: int = FINGERPRINTS,
    *,
    quiet: bool = False,
) -> Run:
    """Reports per second through plain sqlite3, on the foundation's schema (revision 0001)."""
    path = folder / f"reference-{mix}.db"
    for stale in folder.glob(f"reference-{mix}.db*"):
        stale.unlink()
    upgrade(f"sqlite:///{path}", "0001")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    now = _ts(datetime.now(UTC))
    conn.execute(
        "INSERT INTO projects (slug, name, integration_active, created_at, updated_at)"
        " VALUES ('bench', '', 1, ?, ?)",
        (now, now),
    )
    project_id = conn.execute("SELECT id FROM projects").fetchone()[0]
    group_sql = """
        INSERT INTO error_groups (project_id, fingerprint, state, classifier, message, count,
            first_seen, last_seen, first_version, last_version, regression_count, updated_at)
        VALUES (?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, 0, ?)
        ON CONFLICT (project_id, fingerprint) DO UPDATE SET
            count = error_groups.count + excluded.count,
            first_seen = min(error_groups.first_seen, excluded.first_seen),
            last_seen = max(error_groups.last_seen, excluded.last_seen),
            last_version = excluded.last_version, updated_at = excluded.updated_at"""
    count_sql = """
        INSERT INTO attribute_counts (group_id, attribute, value, count, last_seen)
        SELECT (SELECT id FROM error_groups WHERE project_id = ? AND fingerprint = ?), ?, ?, ?, ?
        WHERE true
        ON CONFLICT (group_id, attribute, value) DO UPDATE SET
            count = attribute_counts.count + excluded.count,
            last_seen = max(attribute_counts.last_seen, excluded.last_seen)"""
    stream = Reports(mix, fingerprints=fingerprints)
    started, cpu = time.perf_counter(), time.process_time()
    for chunk in stream.chunks(total, batch):
        groups: dict[str, list[object]] = {}
        counts: dict[tuple[str, str, str], list[object]] = {}
        for report in chunk:
            fp = report.fingerprint
            assert fp is not None
            ts = _ts(report.timestamp)
            group = groups.get(fp)
            if group is None:
                groups[fp] = [report.classifier, report.message, 1, ts, ts, report.version]
            else:
                group[2] += 1  # type: ignore[operator]
                group[4] = ts
                group[5] = report.version
            for name, value in report.attributes.items():
                key = (fp, name, value)
                entry = counts.get(key)
                if entry is None:
                    counts[key] = [1, ts]
                else:
                    entry[0] += 1  # type: ignore[operator]
                    entry[1] = ts
        conn.execute("BEGIN")
        conn.executemany(
            group_sql,
            [
                (project_id, fp, c, m, n, first, last, v, v, now)
                for fp, (c, m, n, first, last, v) in groups.items()
            ],
        )
        conn.executemany(
            count_sql,
            [(project_id, fp, name, value, n, ts) for (fp, name, value), (n, ts) in counts.items()],
        )
        conn.execute("COMMIT")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    conn.close()
    if not quiet:
        print(
            f"  reference: {total / elapsed:>9,.0f} reports/s  {total / cpu:>9,.0f} "
            f"per CPU-second  (batches of {batch:,})"
        )
    return Run(total / elapsed, total / cpu)


def generation_rate(total: int) -> float:
    stream = Reports("uniform")
    started = time.perf_counter()
    for _ in stream.chunks(total, 10_000):
        pass
    return total / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=200_000, help="reports per run")
    parser.add_argument("--mix", choices=["uniform", "zipf", "both"], default="both")
    parser.add_argument("--batch", type=int, default=10_000, help="reference batch size")
    parser.add_argument("--engine-batch", type=int, default=10_000, help="BatchWriter max_reports")
    parser.add_argument(
        "--samples", default="1,5", help="samples kept per group: first,newest (default 1,5)"
    )
    parser.add_argument(
        "--bare", action="store_true", help="fold without the hooks production runs"
    )
    parser.add_argument(
        "--fingerprints",
        type=int,
        default=FINGERPRINTS,
        help="distinct fingerprints in the stream (1000000: nearly every report a new group)",
    )
    parser.add_argument(
        "--engine-only", action="store_true", help="no reference (memory runs at 1 M reports)"
    )
    parser.add_argument(
        "--cache-mib",
        type=int,
        default=32,
        help="the fold connection's SQLite page cache (ingest.sqlite_cache_mib; default 32)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="engine/reference rounds (best of each is kept)"
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run the engine on this PostgreSQL server (database syncengine_bench, "
        "re-created) and, in the same round, on SQLite: the ratio PostgreSQL / SQLite",
    )
    args = parser.parse_args()
    first, newest = (int(x) for x in args.samples.split(","))
    mixes = ["uniform", "zipf"] if args.mix == "both" else [args.mix]
    print(
        f"{args.reports:,} reports, {args.fingerprints:,} fingerprints, "
        f"{ATTRIBUTES} attributes x {VALUES} values; SQLite {sqlite3.sqlite_version}"
    )
    print(f"generating reports alone: {generation_rate(min(args.reports, 100_000)):,.0f}/s")
    with tempfile.TemporaryDirectory(prefix="syncengine-bench-") as tmp:
        folder = Path(tmp)
        for mix in mixes:
            print(f"{mix}:")
            engines: list[Run] = []
            references: list[Run] = []
            sqlite: list[Run] = []
            for round_ in range(args.rounds):
                for stale in folder.glob(f"e-{mix}.db*"):
                    stale.unlink()
                print(f" round {round_ + 1} (load {load()})")
                engines.append(
                    asyncio.run(
                        run_engine(
                            folder,
                            mix,
                            args.reports,
                            args.engine_batch,
                            (first, newest),
                            args.postgres,
                            hooks=not args.bare,
                            fingerprints=args.fingerprints,
                            cache_mib=args.cache_mib,
                        )
                    )
                )
                if args.postgres:  # the same engine on SQLite, in the same round
                    for stale in folder.glob(f"e-{mix}.db*"):
                        stale.unlink()
                    sqlite.append(
                        asyncio.run(
                            run_engine(
                                folder,
                                mix,
                                args.reports,
                                args.engine_batch,
                                (first, newest),
                                hooks=not args.bare,
                                fingerprints=args.fingerprints,
                                cache_mib=args.cache_mib,
                            )
                        )
                    )
                elif not args.engine_only:
                    references.append(
                        run_reference(folder, mix, args.reports, args.batch, args.fingerprints)
                    )
            if sqlite:
                wall = max(r.rate for r in engines) / max(r.rate for r in sqlite)
                cpu = max(r.cpu_rate for r in engines) / max(r.cpu_rate for r in sqlite)
                verdict = "ok (>= 0.5x)" if wall >= 0.5 else "BELOW the 0.5x goal"
                print(
                    f"  PostgreSQL / SQLite: {wall:.2f} wall, {cpu:.2f} per CPU-second of this"
                    f" process (the server's own CPU not counted)  ({verdict})"
                )
            if not references:
                _print_memory(engines[0], args.reports)
                continue
            # Best of the rounds for each side: the machine is shared, a slow run is noise.
            wall = max(r.rate for r in engines) / max(r.rate for r in references)
            cpu = max(r.cpu_rate for r in engines) / max(r.cpu_rate for r in references)
            verdict = (
                "goal met (>= 2x)"
                if min(wall, cpu) >= 2
                else ("BELOW 1x" if min(wall, cpu) < 1 else "above 1x, below the 2x goal")
            )
            print(f"  ratio:     {wall:9.2f} wall, {cpu:.2f} per CPU-second  ({verdict})")
            _print_memory(engines[0], args.reports)
        print(f"load at the end: {load()}")


def _print_memory(run: Run, total: int) -> None:
    if run.rss_100k:
        change = (run.rss_end - run.rss_100k) / run.rss_100k * 100
        verdict = "flat (within 10 %)" if abs(change) <= 10 else "NOT flat"
        print(
            f"  memory:    RSS {run.rss_100k:.1f} MiB at 100,000 reports, "
            f"{run.rss_end:.1f} MiB at {total:,} ({change:+.1f} %, {verdict})"
        )


def load() -> str:
    """The machine's load averages (1, 5, 15 minutes), as ``uptime`` shows them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    main()
