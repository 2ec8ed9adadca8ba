"""Locks the database gives: one process per SQLite file, advisory locks on PostgreSQL.

Periodic jobs are singletons across processes: on PostgreSQL a job runs only where
its advisory lock is taken (``pg_try_advisory_lock``); on SQLite only one process
runs background work at all (:class:`ProcessLock`, an exclusive lock file).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.engine import make_url

from syncengine.errors import StoreError
from syncengine.store.database import Database
from syncengine.store.db_errors import FOREIGN_ERRORS, translate

__all__ = ["ProcessLock", "advisory_lock"]


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
        got = bool(
            (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})).scalar()
        )
    except FOREIGN_ERRORS as exc:
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
