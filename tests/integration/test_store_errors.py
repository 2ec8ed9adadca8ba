"""Database errors leave the store translated once into the error tree, on every backend."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError, ProgrammingError

from syncengine.domain.reports import CrashReport
from syncengine.errors import StoreBusy, StoreConflict, StoreError, StoreRejected
from syncengine.store.database import Database
from syncengine.store.db_errors import translate
from syncengine.store.groups import GroupRepository
from syncengine.store.projects import ProjectRepository
from syncengine.store.tables import Project

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("error", "expected", "transient"),
    [
        (IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")), StoreConflict, False),
        (DataError("INSERT", {}, Exception("value too long")), StoreRejected, False),
        (OperationalError("SELECT", {}, Exception("database is locked")), StoreBusy, True),
        (ProgrammingError("SELECT", {}, Exception("no such table")), StoreError, True),
        (
            UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
            StoreRejected,
            False,
        ),
    ],
)
def test_each_foreign_error_has_its_place_in_the_tree(
    error: BaseException, expected: type[StoreError], transient: bool
) -> None:
    translated = translate(error, "storing x failed")
    assert type(translated) is expected
    assert translated.transient is transient
    assert str(translated).startswith("storing x failed: ")


async def test_text_the_driver_cannot_encode_is_rejected_not_raised_raw(db: Database) -> None:
    projects = ProjectRepository(db)
    with pytest.raises(StoreRejected) as caught:
        await projects.ensure("bad\ud800slug", name="x", integration_active=True, now=NOW)
    assert isinstance(caught.value.__cause__, UnicodeEncodeError)


async def test_a_broken_batch_is_rejected_so_the_writer_can_split_it(db: Database) -> None:
    project = await ProjectRepository(db).ensure("p", name="P", integration_active=True, now=NOW)
    report = CrashReport(
        project="p",
        timestamp=NOW,
        classifier="KeyError",
        message="m",
        attributes={"os": "linux\ud800"},
        fingerprint="fp-1",
    )
    with pytest.raises(StoreRejected, match="storing a batch of 1 reports failed"):
        await GroupRepository(db).fold([(project.id, [report])], now=NOW)


async def test_a_batch_the_server_refuses_leaves_nothing_behind_for_the_next(db: Database) -> None:
    """A NUL in text passes the driver and the server refuses it (on PostgreSQL inside
    the streamed COPY): the batch is rejected whole, and the next batch on the same
    connection folds exactly its own rows, none of the refused one's."""
    project = await ProjectRepository(db).ensure("p", name="P", integration_active=True, now=NOW)
    repo = GroupRepository(db)

    def report(fingerprint: str, os: str) -> CrashReport:
        return CrashReport(
            project="p",
            timestamp=NOW,
            classifier="KeyError",
            message="m",
            attributes={"os": os},
            fingerprint=fingerprint,
        )

    batch = [report("fp-1", "linux"), report("fp-1", "mac\x00os")]
    if db.is_postgres:
        with pytest.raises(StoreRejected, match="storing a batch of 2 reports failed"):
            await repo.fold([(project.id, batch)], now=NOW)
        expected = (1, [("linux", 1)])
    else:  # SQLite keeps a NUL in text: nothing to refuse, the batch folds whole
        await repo.fold([(project.id, batch)], now=NOW)
        expected = (3, [("linux", 2), ("mac\x00os", 1)])
    [[assigned]] = await repo.fold([(project.id, [report("fp-1", "linux")])], now=NOW)
    snapshot = await repo.snapshot(assigned.group_id)
    assert (snapshot.count, [(v.value, v.count) for v in snapshot.attributes["os"]]) == expected
    assert db.checked_out() == 0


async def test_a_duplicate_key_is_a_conflict(db: Database) -> None:
    await ProjectRepository(db).ensure("twice", name="A", integration_active=True, now=NOW)
    with pytest.raises(StoreConflict):
        async with db.session() as session:
            session.add(
                Project(
                    slug="twice", name="B", integration_active=True, created_at=NOW, updated_at=NOW
                )
            )


async def test_an_unreachable_database_is_a_store_error(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/missing/folder/x.db")
    try:
        with pytest.raises(StoreBusy):
            await ProjectRepository(db).get("p")
    finally:
        await db.aclose()
        # aiosqlite stops the thread of a connection that failed to open with a call that
        # answers on this loop: wait for it here, not after the loop has closed (a slow
        # machine otherwise reports its "Event loop is closed" in the next test).
        for thread in threading.enumerate():
            if "_connection_worker_thread" in thread.name:
                await asyncio.to_thread(thread.join, 1)


@pytest.mark.postgres
async def test_a_transaction_left_idle_by_a_stalled_process_is_ended(postgres_url: str) -> None:
    """Its row locks go with it: another process is held up for the timeout, not for ever."""
    stalled = Database(postgres_url, idle_in_transaction_seconds=0.5)
    other = Database(postgres_url)
    try:
        async with other.connect() as conn:
            await conn.execute(text("DELETE FROM projects WHERE slug = 'stall'"))
        await ProjectRepository(other).ensure("stall", name="", integration_active=True, now=NOW)
        conn = await stalled.engine.connect()
        await conn.execute(text("SELECT id FROM projects WHERE slug = 'stall' FOR UPDATE"))
        # ... and the process stops here, inside its transaction.
        async with other.connect() as waiter:
            await waiter.execute(text("SET LOCAL lock_timeout = 10000"))
            await waiter.execute(text("SELECT id FROM projects WHERE slug = 'stall' FOR UPDATE"))
        with pytest.raises(DBAPIError, match="idle-in-transaction timeout"):  # ended by the server
            await conn.execute(text("SELECT 1"))
        await conn.close()
        async with stalled.connect() as fresh:  # the pool hands out a live connection again
            assert (await fresh.execute(text("SELECT 1"))).scalar() == 1
            # A host cut off the network is found by the server's keepalives within a minute.
            shown = [
                (await fresh.execute(text(f"SHOW tcp_keepalives_{name}"))).scalar()
                for name in ("idle", "interval", "count")
            ]
            assert shown == ["30", "10", "3"]
    finally:
        await stalled.aclose()
        await other.aclose()
