"""Background work of a process: the outbox worker and the periodic jobs.

APScheduler 3.x (``AsyncIOScheduler``) stays behind this module. Periodic jobs
are *singletons* across processes: on PostgreSQL a job runs only where its
advisory lock is taken (``pg_try_advisory_lock``), so with several processes each
run happens once; on SQLite only one process runs background work at all
(:class:`ProcessLock`).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import text
from sqlalchemy.engine import make_url

from syncengine.errors import StoreError, SyncEngineError
from syncengine.store.database import Database
from syncengine.sync.worker import OutboxWorker

__all__ = ["BackgroundRuntime", "PeriodicJob", "ProcessLock", "advisory_lock"]

log = logging.getLogger(__name__)

JobFunc = Callable[[], Awaitable[None]]


@dataclass(frozen=True, kw_only=True, slots=True)
class PeriodicJob:
    """A job run every ``seconds``, once across all processes sharing the database."""

    name: str
    seconds: float
    func: JobFunc


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
    async with db.engine.connect() as conn:
        got = bool(
            (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})).scalar()
        )
        try:
            yield got
        finally:
            if got:
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            await conn.commit()


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


class BackgroundRuntime:
    """Runs the outbox worker and the periodic jobs until stopped."""

    def __init__(self, db: Database, worker: OutboxWorker, jobs: list[PeriodicJob]) -> None:
        self.db = db
        self.worker = worker
        self.jobs = jobs
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._worker_task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[Any]] = set()
        self.lock = ProcessLock(db.url)

    async def _run_singleton(self, job: PeriodicJob) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        try:
            async with advisory_lock(self.db, f"syncengine.job.{job.name}") as held:
                if held:
                    await job.func()
        except SyncEngineError as exc:
            # Jira or the database failing for a while: the next run tries again.
            log.warning("periodic job %s failed, the next run tries again: %s", job.name, exc)
        except Exception:
            # A bug must not stop the schedule either, but it is logged in full.
            log.exception("periodic job %s failed", job.name)

    def start(self) -> None:
        """Start the worker task and the schedule (inside a running event loop)."""
        self.lock.acquire()
        for job in self.jobs:
            kwargs: dict[str, Any] = {
                "seconds": job.seconds,
                "id": job.name,
                "max_instances": 1,
                "coalesce": True,
                "misfire_grace_time": None,
            }
            self._scheduler.add_job(self._run_singleton, "interval", args=[job], **kwargs)
        self._scheduler.start()
        self._worker_task = asyncio.create_task(self.worker.run(), name="outbox-worker")

    async def stop(self, *, grace_seconds: float = 30.0) -> None:
        """Stop taking work, finish or release in-flight claims, stop the schedule.

        Jobs already running get ``grace_seconds`` to finish (the scheduler would
        otherwise cancel them mid-write); none starts meanwhile.
        """
        if self._scheduler.running:
            self._scheduler.pause()
            if self._running:
                await asyncio.wait(set(self._running), timeout=grace_seconds)
            self._scheduler.shutdown(wait=False)
        self.worker.stop()
        if self._worker_task is not None:
            await self._worker_task
            self._worker_task = None
        self.lock.release()
