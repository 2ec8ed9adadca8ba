"""Locks the database gives: one process per SQLite file, advisory locks on PostgreSQL.

Periodic jobs are singletons across processes: on PostgreSQL a job runs only where
its advisory lock is taken (``pg_try_advisory_lock``); on SQLite only one process
runs background work at all (:class:`ProcessLock`, an exclusive lock file).

Runs of one issue link (a push, a webhook, a poll) are serialised by
:class:`LinkLocks`: an ``asyncio.Lock`` per link in the process and, on
PostgreSQL, a session advisory lock per link (the two-key form, its own key
space) held on a dedicated connection while the run reads Jira, merges and writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.engine import make_url

from syncengine.errors import StoreBusy, StoreError
from syncengine.store.database import Database
from syncengine.store.db_errors import FOREIGN_ERRORS, translate

__all__ = ["LinkBusy", "LinkLocks", "ProcessLock", "advisory_lock"]


def _lock_key(name: str) -> int:
    # A stable signed 64-bit key per job name (advisory locks take a bigint).
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextlib.asynccontextmanager
async def advisory_lock(db: Database, name: str) -> AsyncIterator[bool]:
    """Yield True when this process holds the lock ``name`` (always True on SQLite)."""
    if not db.is_postgres:
        yield True
        return
    key = _lock_key(name)
    try:
        conn = await db.engine.connect()
    except FOREIGN_ERRORS as exc:
        raise translate(exc, f"taking the lock {name!r} failed") from exc
    try:
        got = bool(
            (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})).scalar()
        )
        # A session lock outlives the transaction: ending it now leaves the connection
        # idle, not idle in a transaction the server would end while the job runs.
        await conn.commit()
    except FOREIGN_ERRORS as exc:
        await conn.close()
        raise translate(exc, f"taking the lock {name!r} failed") from exc
    try:
        yield got
    finally:
        try:
            if got:
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            await conn.commit()
        except FOREIGN_ERRORS as exc:
            raise translate(exc, f"releasing the lock {name!r} failed") from exc
        finally:
            await conn.close()


class ProcessLock:
    """One process per SQLite database runs background work (an exclusive lock file)."""

    def __init__(self, database_url: str) -> None:
        parsed = make_url(database_url)
        self.path: Path | None = None
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            self.path = Path(f"{parsed.database}.lock")
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock or raise StoreError naming what to do instead."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.close()
            raise StoreError(
                f"another syncengine process already runs background work on this SQLite "
                f"database ({self.path}); run this one as `syncengine api`, or move to "
                f"PostgreSQL to run several workers"
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        """Let another process take over."""
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


# The first key of every link lock (the second is the link id): "sync" in ASCII.
_LINK_SPACE = 0x73796E63


class LinkBusy(StoreBusy):
    """Another run of the link held its lock longer than the caller would wait."""


class LinkLocks:
    """One run at a time per issue link, in this process and across processes."""

    def __init__(self, db: Database, *, wait_seconds: float = 60.0) -> None:
        """``wait_seconds``: how long :meth:`hold` waits by default before LinkBusy."""
        self._db = db
        self.wait_seconds = wait_seconds
        self._local: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    def contenders(self, link_id: int) -> int:
        """Runs in this process holding or waiting for link ``link_id``'s lock."""
        return self._users.get(link_id, 0)

    @contextlib.asynccontextmanager
    async def hold(self, link_id: int, *, wait: float | None = None) -> AsyncIterator[None]:
        """Hold link ``link_id``'s lock; LinkBusy after ``wait`` seconds (default: the set one).

        Raises StoreError when the database cannot be reached.
        """
        limit = self.wait_seconds if wait is None else wait
        deadline = asyncio.get_running_loop().time() + limit
        lock = self._local.setdefault(link_id, asyncio.Lock())
        self._users[link_id] = self._users.get(link_id, 0) + 1
        try:
            try:
                await asyncio.wait_for(lock.acquire(), timeout=max(limit, 0.0))
            except TimeoutError as exc:
                raise LinkBusy(f"issue link {link_id} is being synced by another run") from exc
            try:
                if self._db.is_postgres:
                    async with self._across_processes(link_id, deadline):
                        yield
                else:
                    yield
            finally:
                lock.release()
        finally:
            self._users[link_id] -= 1
            if not self._users[link_id]:
                del self._users[link_id]
                self._local.pop(link_id, None)

    @contextlib.asynccontextmanager
    async def _across_processes(self, link_id: int, deadline: float) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        args = {"a": _LINK_SPACE, "b": link_id % 2**31}  # int4 keys; ids past 2**31 may share
        try:
            conn = await self._db.engine.connect()
        except FOREIGN_ERRORS as exc:
            raise translate(exc, "taking an issue link's lock failed") from exc
        try:
            pause = 0.01
            while True:
                query = text(
                    "SELECT pg_try_advisory_lock(CAST(:a AS integer), CAST(:b AS integer))"
                )
                got = (await conn.execute(query, args)).scalar()
                await conn.commit()
                if got:
                    break
                if loop.time() + pause > deadline:
                    raise LinkBusy(f"issue link {link_id} is being synced by another process")
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.25)
            try:
                yield
            finally:
                await conn.execute(
                    text("SELECT pg_advisory_unlock(CAST(:a AS integer), CAST(:b AS integer))"),
                    args,
                )
                await conn.commit()
        except FOREIGN_ERRORS as exc:
            raise translate(exc, "an issue link's lock failed") from exc
        finally:
            await conn.close()
