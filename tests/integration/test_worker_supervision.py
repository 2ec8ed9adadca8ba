"""The background loops are supervised, bounded and isolated from one another.

Before, one unexpected exception stopped the outbox worker for good while ``/readyz`` said
ready, one slow item held its whole batch (and every other project's work) until it finished,
and a stop waited for it for ever.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

from syncengine.jira.errors import JiraRateLimited
from syncengine.metrics import Metrics
from syncengine.store.database import Database
from syncengine.store.outbox import OutboxRepository, OutboxWork, State
from syncengine.store.projects import ProjectRepository
from syncengine.sync.scheduler import OUTBOX_LOOP, BackgroundRuntime, PeriodicJob, job_loop
from syncengine.sync.supervision import Supervision
from syncengine.sync.worker import Handler, OutboxWorker

LEASE = timedelta(seconds=60)


def _now() -> datetime:
    return datetime.now(UTC)


async def _project(db: Database, slug: str) -> int:
    record = await ProjectRepository(db).ensure(slug, name="", integration_active=True, now=_now())
    return record.id


async def _add(db: Database, project_id: int, kind: str) -> int:
    async with db.session() as session:
        row = OutboxRepository.add(
            session, project_id=project_id, kind=kind, payload={}, group_id=None, now=_now()
        )
        await session.flush()
        return row.id


async def _wait(event: asyncio.Event) -> None:
    await asyncio.wait_for(event.wait(), timeout=10)


def _runtime(
    db: Database,
    handlers: dict[str, Handler],
    *,
    metrics: Metrics | None = None,
    jobs: tuple[PeriodicJob, ...] = (),
    **options: object,
) -> BackgroundRuntime:
    metrics = metrics or Metrics()
    supervision = Supervision(clock=_now, on_crash=metrics.count_crash)
    worker = OutboxWorker(
        OutboxRepository(db),
        handlers,
        worker_id="w",
        clock=_now,
        poll_interval=0.05,
        rng=random.Random(1),
        progress=lambda: supervision.progress(OUTBOX_LOOP),
        on_crash=lambda error: supervision.crashed(OUTBOX_LOOP, error),
        **options,  # type: ignore[arg-type]
    )
    return BackgroundRuntime(db, worker, jobs, supervision=supervision, grace_seconds=5)


class _FlakyClaims(OutboxRepository):
    """The store's claim raising a bug's exception (not a store error) a few times."""

    def __init__(self, db: Database, failures: int) -> None:
        super().__init__(db)
        self.failures = failures

    async def claim(self, *args: object, **kwargs: object) -> list[OutboxWork]:
        if self.failures:
            self.failures -= 1
            raise ZeroDivisionError("a bug in the claim")
        return await super().claim(*args, **kwargs)  # type: ignore[arg-type]


def _recorder() -> tuple[list[int], asyncio.Event, Handler]:
    """A handler that records each item it runs and sets the event: (done, finished, handler)."""
    done: list[int] = []
    finished = asyncio.Event()

    async def ok(work: OutboxWork) -> None:
        done.append(work.id)
        finished.set()

    return done, finished, ok


async def test_an_unexpected_exception_restarts_the_worker_and_is_counted(db: Database) -> None:
    project = await _project(db, "shop")
    item = await _add(db, project, "ok")
    done, finished, ok = _recorder()

    metrics = Metrics()
    runtime = _runtime(db, {"ok": ok}, metrics=metrics)
    runtime.worker.outbox = _FlakyClaims(db, failures=2)
    runtime.start()
    try:
        await _wait(finished)
        assert done == [item]
        assert runtime.supervision.crashes(OUTBOX_LOOP) == 2
        text = metrics.render().decode()
        assert 'syncengine_background_crashes_total{loop="outbox"} 2.0' in text
        report = runtime.supervision.report()[OUTBOX_LOOP]
        assert report.state in {"ok", "restarting"}
        assert report.last_error == "ZeroDivisionError: a bug in the claim"
    finally:
        await runtime.stop()
    assert runtime.supervision.report()[OUTBOX_LOOP].state == "stopped"


async def test_a_wait_that_overflows_a_date_does_not_stop_the_worker(db: Database) -> None:
    project = await _project(db, "shop")
    limited = await _add(db, project, "limited")
    later = await _add(db, project, "ok")
    done, finished, ok = _recorder()

    async def rate_limited(work: OutboxWork) -> None:
        # What Retry-After: 1e12 (or inf) became before the client capped it.
        raise JiraRateLimited("429", status=429, retry_after=float("inf"))

    settled = asyncio.Event()

    async def outcome(work: OutboxWork, error: str | None) -> None:
        if work.id == limited:
            settled.set()

    runtime = _runtime(db, {"limited": rate_limited, "ok": ok}, on_outcome=outcome)
    runtime.start()
    try:
        await _wait(finished)
        await _wait(settled)
        work = await runtime.worker.outbox.get(limited)
        assert work is not None
        assert work.state == State.PENDING
        assert work.next_attempt_at > _now() + timedelta(days=6)
        assert done == [later]
        assert runtime.supervision.crashes(OUTBOX_LOOP) == 0
    finally:
        await runtime.stop()


async def test_a_hung_item_holds_neither_its_batch_nor_other_projects(db: Database) -> None:
    slow_project = await _project(db, "slow")
    fast_project = await _project(db, "fast")
    # More hung items than the worker has slots: the project's own slots fill, no more.
    hung = [await _add(db, slow_project, "hang") for _ in range(6)]
    release, two_hung, all_ran, fast_done = (asyncio.Event() for _ in range(4))
    started: list[int] = []
    done: list[int] = []

    async def hang(work: OutboxWork) -> None:
        started.append(work.id)
        if len(started) == 2:
            two_hung.set()
        if len(started) == len(hung):
            all_ran.set()
        await release.wait()

    async def ok(work: OutboxWork) -> None:
        done.append(work.id)
        if len(done) == 5:
            fast_done.set()

    runtime = _runtime(
        db, {"hang": hang, "ok": ok}, concurrency=4, project_concurrency=2, item_deadline=60
    )
    runtime.start()
    try:
        await _wait(two_hung)
        # Written after the hung items were claimed: the old worker claimed nothing more
        # until its whole batch had finished.
        fast = [await _add(db, fast_project, "ok") for _ in range(5)]
        runtime.worker.wake()
        await _wait(fast_done)
        assert sorted(done) == fast
        assert len(started) == 2  # the slow project never had more than its two slots
        release.set()
        await _wait(all_ran)
    finally:
        release.set()
        await runtime.stop()


async def test_an_item_past_its_deadline_is_cut_off_and_retried(db: Database) -> None:
    project = await _project(db, "shop")
    item = await _add(db, project, "hang")

    async def hang(work: OutboxWork) -> None:
        await asyncio.Event().wait()

    failed = asyncio.Event()

    async def outcome(work: OutboxWork, error: str | None) -> None:
        if error is not None:
            failed.set()

    runtime = _runtime(db, {"hang": hang}, item_deadline=0.2, on_outcome=outcome)
    runtime.start()
    try:
        await _wait(failed)
        work = await runtime.worker.outbox.get(item)
        assert work is not None
        assert (work.state, work.attempts) == (State.PENDING, 1)
        assert work.last_error is not None
        assert "did not finish within 0.2s" in work.last_error
    finally:
        await runtime.stop()


async def test_stop_cuts_off_work_after_the_grace_and_keeps_the_attempt(db: Database) -> None:
    project = await _project(db, "shop")
    item = await _add(db, project, "hang")
    started = asyncio.Event()

    async def hang(work: OutboxWork) -> None:
        started.set()
        await asyncio.Event().wait()

    runtime = _runtime(db, {"hang": hang}, item_deadline=600)
    runtime.start()
    await asyncio.wait_for(started.wait(), timeout=10)
    await asyncio.wait_for(runtime.stop(grace_seconds=0.1), timeout=10)
    work = await runtime.worker.outbox.get(item)
    assert work is not None
    # Pending again, and counted as tried: a create cut off mid-way is looked up next time.
    assert (work.state, work.attempts) == (State.PENDING, 1)
    assert work.last_error == "interrupted by a stop; retried"


async def test_a_failing_or_hung_job_is_counted_and_runs_again(db: Database) -> None:
    runs = {"bug": 0, "hang": 0}
    enough = asyncio.Event()

    def ran(name: str) -> None:
        runs[name] += 1
        if runs["bug"] >= 3 and runs["hang"] >= 2:
            enough.set()

    async def bug() -> None:
        ran("bug")
        raise KeyError("a bug in a job")

    async def hang() -> None:
        ran("hang")
        await asyncio.Event().wait()

    metrics = Metrics()
    jobs = (
        PeriodicJob(name="bug", seconds=0.05, func=bug),
        PeriodicJob(name="hang", seconds=0.05, func=hang, deadline_seconds=0.1),
    )
    runtime = _runtime(db, {}, metrics=metrics, jobs=jobs)
    runtime.start()
    try:
        await _wait(enough)
    finally:
        await runtime.stop(grace_seconds=0.5)
    text = metrics.render().decode()
    assert 'syncengine_background_crashes_total{loop="job:bug"}' in text
    assert 'syncengine_background_crashes_total{loop="job:hang"}' in text
    assert runtime.supervision.crashes(job_loop("hang")) >= 1


def test_supervision_marks_a_stalled_or_dead_loop() -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    supervision = Supervision(clock=lambda: now[0])
    supervision.register("outbox", stall_after=timedelta(seconds=60))
    supervision.register("job:poll", stall_after=timedelta(seconds=60))
    supervision.started("outbox")
    supervision.started("job:poll")
    supervision.progress("outbox")
    now[0] += timedelta(seconds=30)
    assert {n: r.state for n, r in supervision.report().items()} == {
        "outbox": "ok",
        "job:poll": "ok",
    }
    supervision.crashed("outbox", RuntimeError("x"))
    assert supervision.report()["outbox"].state == "restarting"
    assert Supervision.healthy(supervision.report()["outbox"])
    now[0] += timedelta(seconds=61)
    supervision.progress("job:poll")
    report = supervision.report()
    assert report["outbox"].state == "stalled"
    assert not Supervision.healthy(report["outbox"])
    supervision.stopped("job:poll", dead=True)
    assert supervision.report()["job:poll"].state == "dead"


class _CountedClaims(OutboxRepository):
    """The store's claim, counted."""

    claims = 0

    async def claim(self, *args: object, **kwargs: object) -> list[OutboxWork]:
        self.claims += 1
        return await super().claim(*args, **kwargs)  # type: ignore[arg-type]


async def test_a_worker_waits_without_claiming_while_every_project_is_passive(
    db: Database,
) -> None:
    projects = ProjectRepository(db)
    project = (await projects.ensure("shop", name="", integration_active=False, now=_now())).id
    item = await _add(db, project, "ok")
    done, finished, ok = _recorder()

    # A long poll: only resume() can make the worker go on within the test.
    runtime = _runtime(db, {"ok": ok}, any_active=projects.any_active)
    runtime.worker.poll_interval = 30.0
    outbox = runtime.worker.outbox = _CountedClaims(db)
    runtime.start()
    try:
        for _ in range(20):  # work written meanwhile wakes nobody
            runtime.worker.wake()
            await asyncio.sleep(0.01)
        assert outbox.claims == 0
        assert done == []
        await projects.set_active("shop", True, actor="test", now=_now())
        runtime.worker.resume()
        await asyncio.wait_for(finished.wait(), timeout=5)
        assert done == [item]
    finally:
        await runtime.stop()
