"""Background work of a process: the outbox worker and the periodic jobs.

APScheduler 3.x (``AsyncIOScheduler``) stays behind this module. Periodic jobs
are *singletons* across processes: on PostgreSQL a job runs only where its
advisory lock is taken (``pg_try_advisory_lock``), so with several processes each
run happens once; on SQLite only one process runs background work at all
(:class:`~syncengine.store.locks.ProcessLock`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from syncengine.errors import SyncEngineError
from syncengine.store.database import Database
from syncengine.store.locks import ProcessLock, advisory_lock
from syncengine.sync.worker import OutboxWorker

__all__ = ["BackgroundRuntime", "PeriodicJob"]

log = logging.getLogger(__name__)

JobFunc = Callable[[], Awaitable[None]]


@dataclass(frozen=True, kw_only=True, slots=True)
class PeriodicJob:
    """A job run every ``seconds``, once across all processes sharing the database."""

    name: str
    seconds: float
    func: JobFunc


class BackgroundRuntime:
    """Runs the outbox worker and the periodic jobs until stopped."""

    def __init__(self, db: Database, worker: OutboxWorker, jobs: Sequence[PeriodicJob]) -> None:
        self.db = db
        self.worker = worker
        self.jobs = tuple(jobs)
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
