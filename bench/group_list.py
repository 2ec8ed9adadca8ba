"""The dashboard's default group list (every project) against the number of groups.

    .venv/bin/python bench/group_list.py [--groups 100000] [--projects 3] [--rounds 5]

Fills SQLite with N groups spread over P projects, then times the first page (50
groups, by last seen and by count) as ``group_queries.load_page`` reads it: one
page per project off its (project, key) index, merged. The reference, measured on
the same rows in the same run, is the single query over every project that it
replaced (it sorts every group). Reported: the fastest of R runs of each, and the
ratio reference / new.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, insert

from syncengine.store import group_queries
from syncengine.store.database import Database, sync_url
from syncengine.store.group_queries import GroupFilter, GroupSort
from syncengine.store.migrate import upgrade
from syncengine.store.tables import ErrorGroup, Project

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def fill(url: str, groups: int, projects: int) -> None:
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(Project),
                [
                    {"id": p, "slug": f"p{p}", "created_at": T0, "updated_at": T0}
                    for p in range(1, projects + 1)
                ],
            )
            chunk = 20_000
            for start in range(0, groups, chunk):
                conn.execute(
                    insert(ErrorGroup),
                    [
                        {
                            "project_id": 1 + g % projects,
                            "fingerprint": f"fp-{g}",
                            "count": 1 + (g * 7919) % 1000,
                            "first_seen": T0,
                            "last_seen": T0 + timedelta(seconds=(g * 104729) % 86400),
                            "updated_at": T0,
                        }
                        for g in range(start, min(start + chunk, groups))
                    ],
                )
    finally:
        engine.dispose()


async def fastest(db: Database, rounds: int, read: object) -> float:
    best = float("inf")
    for _ in range(rounds):
        async with db.connect() as conn:
            start = time.perf_counter()
            rows = await read(conn)  # type: ignore[operator]
            best = min(best, time.perf_counter() - start)
            assert len(rows) == 50
    return best


async def measure(url: str, rounds: int) -> None:
    db = Database(url)
    try:
        sorts: tuple[GroupSort, ...] = ("last_seen", "count")
        for sort in sorts:
            wanted = GroupFilter(sort=sort)
            key = ErrorGroup.count if sort == "count" else ErrorGroup.last_seen

            async def new(conn: object, wanted: GroupFilter = wanted) -> list[object]:
                return await group_queries.load_page(conn, wanted, limit=50, after=None)  # type: ignore[arg-type]

            async def old(
                conn: object, wanted: GroupFilter = wanted, key: object = key
            ) -> list[object]:
                query = group_queries._page_query(wanted, key, 50, None)
                return list(await conn.execute(query))  # type: ignore[attr-defined]

            t_new = await fastest(db, rounds, new)
            t_old = await fastest(db, rounds, old)
            print(
                f"{sort:>10} {t_new * 1000:9.1f} {t_old * 1000:9.1f} {t_old / t_new:9.1f}"
                f" {os.getloadavg()[0]:5.1f}"
            )
    finally:
        await db.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=100_000)
    parser.add_argument("--projects", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/groups.db"
        upgrade(url)
        fill(url, args.groups, args.projects)
        print(f"{args.groups:,} groups in {args.projects} projects, first page of 50 (SQLite)")
        print(f"{'sort':>10} {'new ms':>9} {'old ms':>9} {'old/new':>9} {'load':>5}")
        asyncio.run(measure(url, args.rounds))


if __name__ == "__main__":
    main()
