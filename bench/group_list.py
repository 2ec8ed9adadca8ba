"""The dashboard's reads against the number of groups: list, filters, search, group page.

    .venv/bin/python bench/group_list.py [--groups 1000000] [--projects 3] [--rounds 7]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Fills the store (SQLite in a temporary folder, or a fresh PostgreSQL database
``syncengine_bench_groups``) with N groups over P projects: 90 % open, 5 % resolved,
4 % muted, 1 % in progress; 40 classifiers; a message with a word of its own per
group. Then times, as the store serves the dashboard and the API (median of R runs,
first page of 50 unless said):

- list by last seen / by count over every project, and page 2 by its keyset cursor;
- the state filter (resolved);
- text search: a rare text (one group), a word of one classifier (1/40 of the
  groups), and text matching no group;
- the group page's reads (snapshot with its top attribute values, history, link).

Each figure comes with a reference measured on the same rows in the same run: for
the lists, the single query over every project and state (what the per-(project,
state) merge replaced); for searches, the same query without the trigram index
(``LIKE`` over the list's index in order, as before migration 0016); for the group
page, the same reads on a store of 10,000 groups filled alike (flat = ratio ~1).
The goal: every new figure <= 100 ms at 1 M groups.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from syncengine.store import group_queries
from syncengine.store.database import Database, sync_url
from syncengine.store.group_queries import GroupFilter, GroupSort
from syncengine.store.groups import GroupRepository
from syncengine.store.history import load_history
from syncengine.store.links import IssueLinkRepository
from syncengine.store.migrate import upgrade
from syncengine.store.tables import (
    AttributeCount,
    AttributeName,
    ErrorGroup,
    GroupDayCount,
    Project,
    Sample,
)

T0 = datetime(2026, 12, 1, tzinfo=UTC)
CLASSIFIERS = [f"Error{k:02d}Kind" for k in range(40)]
STATES = ["resolved"] * 5 + ["muted"] * 4 + ["in_progress"] + ["open"] * 90
DETAILED = 5  # groups with attribute counts, samples and history (the group page)


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
                            "id": g + 1,
                            "project_id": 1 + g % projects,
                            "fingerprint": f"fp-{g}",
                            "state": STATES[(g * 37) % 100],
                            "classifier": CLASSIFIERS[g % 40],
                            "message": f"request {g} failed: word{g}x",
                            "count": 1 + (g * 7919) % 1000,
                            "first_seen": T0,
                            "last_seen": T0 + timedelta(seconds=(g * 104729) % 86400),
                            "updated_at": T0,
                        }
                        for g in range(start, min(start + chunk, groups))
                    ],
                )
            conn.execute(insert(AttributeName), [{"id": a + 1, "name": f"a{a}"} for a in range(10)])
            for g in range(1, DETAILED + 1):
                conn.execute(
                    insert(AttributeCount),
                    [
                        {
                            "group_id": g,
                            "attribute_id": a + 1,
                            "value": f"v{v}",
                            "count": v + 1,
                            "last_seen": T0,
                        }
                        for a in range(10)
                        for v in range(20)
                    ],
                )
                conn.execute(
                    insert(Sample),
                    [
                        {
                            "group_id": g,
                            "kind": "newest" if s else "first",
                            "slot": max(s - 1, 0),
                            "received_at": T0,
                            "payload": {"frames": [{"function": "f", "line": s}]},
                        }
                        for s in range(6)
                    ],
                )
                day = (T0.date() - date(1970, 1, 1)).days
                conn.execute(
                    insert(GroupDayCount),
                    [
                        {"group_id": g, "day": day - d, "version": "1.0", "count": 3}
                        for d in range(30)
                    ],
                )
    finally:
        engine.dispose()


Read = Callable[[Any], Awaitable[list[Any]]]


async def median_ms(db: Database, rounds: int, read: Read, expect: int | None) -> float:
    times = []
    for _ in range(rounds):
        async with db.connect() as conn:
            start = time.perf_counter()
            rows = await read(conn)
            times.append(time.perf_counter() - start)
            if expect is not None:
                assert len(rows) == expect, (len(rows), expect)
    return statistics.median(times) * 1000


def page(wanted: GroupFilter, *, after: Any = None) -> Read:
    async def read(conn: Any) -> list[Any]:
        return await group_queries.load_page(conn, wanted, limit=50, after=after)

    return read


def single_query(wanted: GroupFilter, *, after: Any = None) -> Read:
    """The reference list: one query over every project and state, without the index."""
    key = ErrorGroup.count if wanted.sort == "count" else ErrorGroup.last_seen

    async def read(conn: Any) -> list[Any]:
        return list(await conn.execute(group_queries._page_query(wanted, key, 50, after)))

    return read


def unindexed(wanted: GroupFilter) -> Read:
    """The reference search: the page as before migration 0016 (no trigram index)."""

    async def read(conn: Any) -> list[Any]:
        saved = group_queries.SEARCH_CANDIDATES
        group_queries.SEARCH_CANDIDATES = -1  # every text "too common": no index
        try:
            return await group_queries.load_page(conn, wanted, limit=50, after=None)
        finally:
            group_queries.SEARCH_CANDIDATES = saved

    return read


def group_page(db: Database, group_id: int) -> Read:
    groups, links = GroupRepository(db), IssueLinkRepository(db)

    async def read(_conn: Any) -> list[Any]:
        snapshot = await groups.snapshot(group_id, top=10)
        history = await load_history(db, group_id, days=30, today=T0.date())
        await links.for_group(group_id)
        return [snapshot, *history]

    return read


async def cursor_of(db: Database, wanted: GroupFilter) -> Any:
    async with db.connect() as conn:
        rows = await group_queries.load_page(conn, wanted, limit=50, after=None)
    last = rows[-1][0]
    return (last.count if wanted.sort == "count" else last.last_seen, last.id)


async def measure(url: str, small_url: str, rounds: int, groups: int) -> None:
    db, small = Database(url), Database(small_url)
    rare = groups // 2
    try:
        print(f"{'read':<34} {'ms':>8} {'ref ms':>9} {'ref/new':>8}  load")
        cases: list[tuple[str, Read, Read, int | None, Database]] = []
        sorts: tuple[GroupSort, ...] = ("last_seen", "count")
        for sort in sorts:
            wanted = GroupFilter(sort=sort)
            cases.append((f"list by {sort}", page(wanted), single_query(wanted), 50, db))
            after = await cursor_of(db, wanted)
            cases.append(
                (
                    f"list by {sort}, page 2 (cursor)",
                    page(wanted, after=after),
                    single_query(wanted, after=after),
                    50,
                    db,
                )
            )
        resolved = GroupFilter(state=group_queries.GroupState.RESOLVED)
        cases.append(("state=resolved", page(resolved), single_query(resolved), 50, db))
        for label, needle, expect in (
            ("search, one group", f"word{rare}x", 1),
            ("search, 1/40 of groups", CLASSIFIERS[7].lower(), 50),
            ("search, no group", "nothing-like-this", 0),
        ):
            wanted = GroupFilter(text=needle)
            cases.append((label, page(wanted), unindexed(wanted), expect, db))
        for label, new, ref, expect, target in cases:
            new_ms = await median_ms(target, rounds, new, expect)
            ref_ms = await median_ms(target, max(1, min(rounds, 3)), ref, expect)
            print(f"{label:<34} {new_ms:8.1f} {ref_ms:9.1f} {ref_ms / new_ms:8.1f}  {load()}")
        new_ms = await median_ms(db, rounds, group_page(db, 3), None)
        ref_ms = await median_ms(small, rounds, group_page(small, 3), None)
        print(
            f"{'group page (ref: 10,000 groups)':<34} {new_ms:8.1f} {ref_ms:9.1f}"
            f" {ref_ms / new_ms:8.1f}  {load()}"
        )
    finally:
        await db.aclose()
        await small.aclose()


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def postgres_database(server: str, name: str) -> str:
    admin = create_engine(sync_url(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def analyze(url: str) -> None:
    if make_url(url).get_backend_name() == "postgresql":
        engine = create_engine(sync_url(url), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("VACUUM ANALYZE"))
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=100_000)
    parser.add_argument("--projects", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--postgres", metavar="URL", help="run on this PostgreSQL server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if args.postgres:
            url = postgres_database(args.postgres, "syncengine_bench_groups")
            small_url = postgres_database(args.postgres, "syncengine_bench_groups_small")
        else:
            url = f"sqlite+aiosqlite:///{folder}/groups.db"
            small_url = f"sqlite+aiosqlite:///{folder}/small.db"
        started = time.perf_counter()
        for target, n in ((url, args.groups), (small_url, 10_000)):
            upgrade(target)
            fill(target, n, args.projects)
            analyze(target)
        backend = "PostgreSQL" if args.postgres else "SQLite"
        print(
            f"{args.groups:,} groups in {args.projects} projects ({backend}, filled in "
            f"{time.perf_counter() - started:.0f} s), medians of {args.rounds}, load {load()}"
        )
        asyncio.run(measure(url, small_url, args.rounds, args.groups))


if __name__ == "__main__":
    main()
