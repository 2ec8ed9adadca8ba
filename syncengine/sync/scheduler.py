"""Background work of a process: the outbox worker and the periodic jobs.

APScheduler 3.x (``AsyncIOScheduler``) stays behind this module. Periodic jobs
are *singletons* across processes: on PostgreSQL a job runs only where its
advisory lock is taken (``pg_try_advisory_lock``), so with several processes each
run happens once; on SQLite only one process runs background work at all
(:class:`~syncengine.store.locks.ProcessLock`).

Everything here is supervised (:mod:`syncengine.sync.supervision`): the worker
loop restarts after any unexpected exception, every job run is bounded by its
deadline and its failures are logged and counted; ``/readyz`` reads their state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from syncengine.errors import SyncEngineError
from syncengine.store.database import Database
from syncengine.store.locks import ProcessLock, advisory_lock
from syncengine.sync.supervision import Supervision, supervise
from syncengine.sync.worker import OutboxWorker

__all__ = ["OUTBOX_LOOP", "BackgroundRuntime", "PeriodicJob", "job_loop"]

log = logging.getLogger(__name__)

JobFunc = Callable[[], Awaitable[None]]
OUTBOX_LOOP = "outbox"
_CUT_OFF_SECONDS = 2.0  # how long a job cut off by a stop may take to end


def job_loop(name: str) -> str:
    """The supervision name of periodic job ``name``."""
    return f"job:{name}"


@dataclass(frozen=True, kw_only=True, slots=True)
class PeriodicJob:
    """A job run every ``seconds``, once across all processes sharing the database.

    A run that takes longer than ``deadline_seconds`` is cancelled (and counted as a
    failure), so one hung run cannot stop the job's later runs. ``at_start``, when
    set, runs once as soon as the process starts its background work (under the
    same singleton lock): what a process that was down must catch up on.
    """

    name: str
    seconds: float
    func: JobFunc
    deadline_seconds: float = 900.0
    at_start: JobFunc | None = None


class BackgroundRuntime:
    """Runs the outbox worker and the periodic jobs until stopped, supervised."""

    def __init__(
        self,
        db: Database,
        worker: OutboxWorker,
        jobs: Sequence[PeriodicJob],
        *,
        supervision: Supervision | None = None,
        grace_seconds: float = 30.0,
    ) -> None:
        self.db = db
        self.worker = worker
        self.jobs = tuple(jobs)
        self.supervision = supervision or Supervision(clock=worker.clock)
        self.grace_seconds = grace_seconds
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._worker_task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[Any]] = set()
        self._busy: dict[str, bool] = {}  # job name -> whether a skipped run was logged
        self._stopping = asyncio.Event()
        self.lock = ProcessLock(db.url)

    async def _run_singleton(self, job: PeriodicJob) -> None:
        # A run still going at the job's next time: that run is skipped, said once, by name
        # (APScheduler's own "maximum number of running instances" warning named neither
        # the job nor why, and came every period).
        if job.name in self._busy:
            if not self._busy[job.name]:
                self._busy[job.name] = True
                log.info(
                    "periodic job %s is still running at its next time (every %gs); "
                    "runs are skipped until it ends",
                    job.name,
                    job.seconds,
                )
            return
        self._busy[job.name] = False
        try:
            await self._run_once(job)
        finally:
            del self._busy[job.name]

    async def _run_once(self, job: PeriodicJob) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        name = job_loop(job.name)
        try:
            async with asyncio.timeout(job.deadline_seconds):
                async with advisory_lock(self.db, f"syncengine.job.{job.name}") as held:
                    if held:
                        await job.func()
        except asyncio.CancelledError:
            if not self._stopping.is_set():
                raise
            return  # cut off by a stop, which said so; it runs again at its next time
        except TimeoutError as exc:
            log.exception(
                "periodic job %s ran past its %gs deadline and was stopped; the next run "
                "tries again",
                job.name,
                job.deadline_seconds,
            )
            self.supervision.crashed(name, exc)
        except SyncEngineError as exc:
            # Jira or the database failing for a while: the next run tries again.
            log.warning("periodic job %s failed, the next run tries again: %s", job.name, exc)
        except Exception as exc:
            # A bug must not stop the schedule either, but it is logged in full and counted.
            log.exception("periodic job %s failed", job.name)
            self.supervision.crashed(name, exc)
        self.supervision.progress(name)

    def start(self) -> None:
        """Start the worker task and the schedule (inside a running event loop)."""
        self.lock.acquire()
        for job in self.jobs:
            # Stalled: no run ended within a few periods plus one run's deadline.
            self.supervision.register(
                job_loop(job.name),
                stall_after=timedelta(seconds=3 * job.seconds + job.deadline_seconds),
            )
            self.supervision.started(job_loop(job.name))
            kwargs: dict[str, Any] = {
                "seconds": job.seconds,
                "id": job.name,
                # Overlaps reach _run_singleton, which skips them (one line, not a warning).
                "max_instances": 2,
                "coalesce": True,
                "misfire_grace_time": None,
            }
            self._scheduler.add_job(self._run_singleton, "interval", args=[job], **kwargs)
            if job.at_start is not None:
                # A date trigger without a date runs once, now (the schedule's first tick).
                self._scheduler.add_job(
                    self._run_singleton,
                    "date",
                    args=[replace(job, func=job.at_start, at_start=None)],
                    id=f"{job.name}.at_start",
                    misfire_grace_time=None,
                )
        self._scheduler.start()
        self.supervision.register(
            OUTBOX_LOOP,
            stall_after=timedelta(
                seconds=self.worker.item_deadline + 4 * self.worker.poll_interval
            ),
        )
        self._worker_task = asyncio.create_task(
            supervise(
                OUTBOX_LOOP,
                self.worker.run,
                supervision=self.supervision,
                stopping=self._stopping,
            ),
            name="outbox-worker",
        )

    @property
    def scheduler_running(self) -> bool:
        """Whether the job schedule is running (readiness reports it)."""
        return bool(self._scheduler.running)

    async def stop(self, *, grace_seconds: float | None = None) -> None:
        """Stop taking work, finish or release in-flight claims, stop the schedule.

        Jobs already running and the worker's items in hand get ``grace_seconds``
        (default: the runtime's, 30 s) in all to finish, side by side; none starts
        meanwhile. Past it they are cancelled: the worker's cut-off items are retried as
        later attempts, a cut-off job runs again at its next time.
        """
        grace = self.grace_seconds if grace_seconds is None else grace_seconds
        # One budget for everything: jobs and the worker's items finish side by side.
        deadline = asyncio.get_running_loop().time() + grace

        def left() -> float:
            return max(0.0, deadline - asyncio.get_running_loop().time())

        self._stopping.set()
        self.worker.stop()
        if self._scheduler.running:
            self._scheduler.pause()
            if self._running:
                await asyncio.wait(set(self._running), timeout=left())
            cut = list(self._running)
            for task in cut:
                log.warning("periodic job still running after %gs; cutting it off", grace)
                task.cancel()
            if cut:
                # Let each end (its lock and connection given back) before the store closes.
                await asyncio.wait(cut, timeout=_CUT_OFF_SECONDS)
            self._scheduler.shutdown(wait=False)
        for job in self.jobs:
            self.supervision.stopped(job_loop(job.name))
        if self._worker_task is not None:
            done, _ = await asyncio.wait({self._worker_task}, timeout=left())
            if not done:
                log.warning("outbox work still running after %gs; cutting it off", grace)
                self._worker_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._worker_task
            self._worker_task = None
        self.supervision.stopped(OUTBOX_LOOP)
        self.lock.release()
