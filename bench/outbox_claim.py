"""The outbox claim against the backlog size: O(batch), not O(pending²).

    .venv/bin/python bench/outbox_claim.py [--sizes 1000,10000,30000] [--rounds R]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--old-up-to 2500]

For each backlog size N the store holds N pending creates of N groups, N/10 followers
waiting behind them, N/20 dead items each with a waiting follower, and N/10 done items;
``OutboxRepository.claim`` takes 50 items (then gives them back, so N stays) R times.
Reported: the median full claim (select, mark 50 rows, commit), the fastest run of the
claim's query alone and its ratio to the smallest size's, measured in the same run (the
goal: flat within ±20 %). The reference is the claim as it was before migration 0011 (a
correlated NOT EXISTS per candidate, no per-subject index), its query alone on the same
rows (fastest of 2) for sizes up to ``--old-up-to`` (quadratic: 31 s at 10,000).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import and_, create_engine, exists, insert, or_, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import aliased

from syncengine.store.database import Database, sync_url
from syncengine.store.migrate import upgrade
from syncengine.store.outbox import OutboxRepository, State
from syncengine.store.tables import ErrorGroup, OutboxItem, Project

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def fill(url: str, n: int) -> None:
    """N groups with a pending create each, followers, dead items and done items."""
    engine = create_engine(sync_url(url))
    common = {"payload": {}, "attempts": 0, "next_attempt_at": T0, "created_at": T0}
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(Project), [{"id": 1, "slug": "b", "created_at": T0, "updated_at": T0}]
            )
            conn.execute(
                insert(ErrorGroup),
                [
                    {
                        "id": g,
                        "project_id": 1,
                        "fingerprint": f"f{g}",
                        "first_seen": T0,
                        "last_seen": T0,
                        "updated_at": T0,
                    }
                    for g in range(1, n + 1)
                ],
            )
            rows: list[dict[str, Any]] = []
            next_id = 1
            done = n // 10
            for _ in range(done):  # old finished work of the first groups
                rows.append({"id": next_id, "group_id": 1 + next_id % n, "state": State.DONE})
                next_id += 1
            creates: dict[int, int] = {}
            for g in range(1, n + 1):
                dead = g % 20 == 0
                state = State.DEAD if dead else State.PENDING
                rows.append({"id": next_id, "group_id": g, "state": state})
                creates[g] = next_id
                next_id += 1
            for g in range(1, n + 1):
                if g % 10 == 0 or g % 20 == 0:  # followers of some creates and of every dead one
                    rows.append(
                        {
                            "id": next_id,
                            "group_id": g,
                            "state": State.PENDING,
                            "waits_for": creates[g],
                        }
                    )
                    next_id += 1
            for row in rows:
                row.setdefault("waits_for", None)
                row.update(common, project_id=1, kind="create", updated_at=T0)
            conn.execute(insert(OutboxItem), rows)
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()


def old_claim_query(limit: int) -> Any:
    """The claim before migration 0011, verbatim."""
    earlier = aliased(OutboxItem)
    blocked = exists().where(
        earlier.id < OutboxItem.id,
        earlier.state.in_(State.UNFINISHED),
        or_(
            and_(OutboxItem.group_id.is_not(None), earlier.group_id == OutboxItem.group_id),
            and_(
                OutboxItem.support_request_id.is_not(None),
                earlier.support_request_id == OutboxItem.support_request_id,
            ),
        ),
    )
    due = or_(
        and_(OutboxItem.state == State.PENDING, OutboxItem.next_attempt_at <= T0),
        and_(OutboxItem.state == State.RUNNING, OutboxItem.claimed_until < T0),
    )
    return (
        select(OutboxItem.id)
        .join(Project, Project.id == OutboxItem.project_id)
        .where(due, Project.integration_active.is_(True), ~blocked)
        .order_by(OutboxItem.id)
        .limit(limit)
    )


async def _query_time(db: Database, query: Any, rounds: int) -> float:
    """The fastest of ``rounds`` runs of the read-only query (min: robust to a noisy box)."""
    best = float("inf")
    for _ in range(rounds):
        async with db.session() as session:
            start = time.perf_counter()
            ids = (await session.scalars(query)).all()
            best = min(best, time.perf_counter() - start)
            assert len(ids) == 50, len(ids)
    return best


async def measure(url: str, rounds: int, old: bool) -> tuple[float, float, float | None]:
    """(median full claim, fastest claim query, fastest old query or None)."""
    db = Database(url)
    outbox = OutboxRepository(db)
    times: list[float] = []
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            claimed = await outbox.claim("bench", now=T0, lease=LEASE, limit=50)
            times.append(time.perf_counter() - start)
            assert len(claimed) == 50, len(claimed)
            await outbox.release("bench", now=T0)
        query = outbox._claim_query(now=T0, limit=50)
        new_query = await _query_time(db, query, rounds)
        old_query = await _query_time(db, old_claim_query(50), 2) if old else None
    finally:
        await db.aclose()
    return statistics.median(times), new_query, old_query


def fresh_postgres(base: str) -> tuple[str, Any]:
    name = f"bench_outbox_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(sync_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(sync_url(base)).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def run_backend(label: str, make: Any, sizes: list[int], rounds: int, old_up_to: int) -> None:
    print(f"\n{label}: claim 50 items; load {os.getloadavg()[0]:.2f}")
    print(
        f"{'pending':>9} {'claim ms':>9} {'query ms':>9} {'x smallest':>10}"
        f" {'old q ms':>9} {'old / new':>9} {'load':>5}"
    )
    first: float | None = None
    for n in sizes:
        url, cleanup = make()
        try:
            upgrade(url)
            fill(url, n)
            claim, new, old = asyncio.run(measure(url, rounds, old=n <= old_up_to))
        finally:
            cleanup()
        first = first or new
        old_text = (
            f"{old * 1000:9.1f} {old / new:9.1f}" if old is not None else f"{'-':>9} {'-':>9}"
        )
        print(
            f"{n:>9,} {claim * 1000:9.2f} {new * 1000:9.2f} {new / first:10.2f} {old_text}"
            f" {os.getloadavg()[0]:5.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,30000")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--postgres", default=None, help="a server URL to run on PostgreSQL too")
    parser.add_argument("--old-up-to", type=int, default=2500)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    def sqlite() -> tuple[str, Any]:
        folder = tempfile.TemporaryDirectory()
        return f"sqlite+aiosqlite:///{folder.name}/outbox.db", folder.cleanup

    run_backend("SQLite", sqlite, sizes, args.rounds, args.old_up_to)
    if args.postgres:
        run_backend(
            "PostgreSQL", lambda: fresh_postgres(args.postgres), sizes, args.rounds, args.old_up_to
        )


if __name__ == "__main__":
    main()
