"""The batching writer on every backend: batching, commit-before-answer, failures, shutdown."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from syncengine.domain.reports import CrashReport
from syncengine.errors import BadReport, StoreBusy, StoreError, StoreRejected
from syncengine.ingest.writer import Arrivals, BatchWriter
from syncengine.store.batch_fold import Assigned, BatchFold
from syncengine.store.database import Database
from syncengine.store.groups import GroupRepository
from syncengine.store.projects import ProjectRepository
from syncengine.store.tables import ErrorGroup

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def clock() -> datetime:
    return T0


def reports(fingerprint: str, n: int, **attributes: str) -> list[CrashReport]:
    return [
        CrashReport(
            project="shop",
            timestamp=T0 + timedelta(seconds=i),
            fingerprint=fingerprint,
            classifier="E",
            attributes=attributes,
        )
        for i in range(n)
    ]


async def make_project(db: Database) -> int:
    record = await ProjectRepository(db).ensure("shop", name="", integration_active=True, now=T0)
    return record.id


async def group_count(db: Database, fingerprint: str) -> int | None:
    async with db.session() as session:
        return await session.scalar(
            select(ErrorGroup.count).where(ErrorGroup.fingerprint == fingerprint)
        )


async def test_concurrent_submits_share_few_transactions_and_answer_after_commit(
    db: Database,
) -> None:
    pid = await make_project(db)
    commits = 0

    def count_commit(_conn: Any) -> None:
        nonlocal commits
        commits += 1

    event.listen(db.engine.sync_engine, "commit", count_commit)
    writer = BatchWriter(GroupRepository(db), clock=clock, max_reports=500, max_delay=0.05)
    seen_after_answer: list[int | None] = []

    async def poster(i: int) -> None:
        accepted = await writer.submit(pid, reports(f"own-{i}", 10) + reports("shared", 10))
        assert len(accepted) == 20
        assert len({a.group_id for a in accepted[:10]}) == 1
        assert all(a.new_group for a in accepted[:10])
        # Answered means committed: another connection already sees the reports.
        seen_after_answer.append(await group_count(db, f"own-{i}"))

    try:
        await asyncio.gather(*(poster(i) for i in range(100)))
    finally:
        await writer.aclose()
        event.remove(db.engine.sync_engine, "commit", count_commit)
    assert seen_after_answer == [10] * 100
    assert await group_count(db, "shared") == 1000
    # 2,000 reports in batches of at most 500; plus one commit interning the attribute names
    # and the sessions the posters read with.
    assert 4 <= writer.stats.batches <= 6
    assert writer.stats.reports == 2000
    assert commits <= writer.stats.batches + 1 + 100


async def test_a_lone_report_waits_at_most_the_delay(db: Database) -> None:
    pid = await make_project(db)
    writer = BatchWriter(GroupRepository(db), clock=clock, max_reports=10_000, max_delay=0.02)
    try:
        [accepted] = await asyncio.wait_for(writer.submit(pid, reports("a", 1)), timeout=5)
        assert accepted.new_group
        # A full batch does not wait for the delay at all.
        full = BatchWriter(GroupRepository(db), clock=clock, max_reports=3, max_delay=3600)
        try:
            result = await asyncio.wait_for(
                asyncio.gather(*(full.submit(pid, reports("b", 1)) for _ in range(3))), timeout=5
            )
            assert [r[0].group_id for r in result] == [result[0][0].group_id] * 3
        finally:
            await full.aclose()
    finally:
        await writer.aclose()
    assert await group_count(db, "b") == 3


async def test_a_failing_submission_fails_only_its_submitter(db: Database) -> None:
    pid = await make_project(db)
    writer = BatchWriter(GroupRepository(db), clock=clock, max_reports=1000, max_delay=0.05)
    try:
        outcomes = await asyncio.gather(
            writer.submit(pid, reports("good-1", 3)),
            writer.submit(pid + 999, reports("orphan", 2)),  # no such project: a constraint
            writer.submit(pid, reports("good-2", 4)),
            return_exceptions=True,
        )
    finally:
        await writer.aclose()
    assert isinstance(outcomes[1], StoreRejected)
    assert [len(o) for o in outcomes if isinstance(o, list)] == [3, 4]
    assert await group_count(db, "good-1") == 3
    assert await group_count(db, "good-2") == 4
    assert await group_count(db, "orphan") is None
    assert writer.stats.failed_batches == 1


class FlakyRepository(GroupRepository):
    """A real repository that first fails as told: a fake, not a mock."""

    def __init__(self, db: Database, failures: list[StoreError]) -> None:
        super().__init__(db)
        self.failures = failures
        self.gate: asyncio.Event | None = None

    async def write(self, batch: BatchFold, *, now: datetime) -> list[list[Assigned]]:
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            raise self.failures.pop(0)
        return await super().write(batch, now=now)


async def test_a_failed_batch_fails_its_submitters_and_the_next_batch_succeeds(
    db: Database,
) -> None:
    pid = await make_project(db)
    repo = FlakyRepository(db, [StoreError("disk full")])
    writer = BatchWriter(repo, clock=clock, max_reports=100, max_delay=0.01)
    try:
        first = await asyncio.gather(
            writer.submit(pid, reports("a", 2)),
            writer.submit(pid, reports("b", 2)),
            return_exceptions=True,
        )
        assert all(isinstance(o, StoreError) and "disk full" in str(o) for o in first)
        again = await writer.submit(pid, reports("a", 2))
    finally:
        await writer.aclose()
    assert [a.new_group for a in again] == [True, True]
    assert await group_count(db, "a") == 2
    assert await group_count(db, "b") is None


async def test_passing_failures_are_retried(db: Database) -> None:
    pid = await make_project(db)
    repo = FlakyRepository(db, [StoreBusy("deadlock detected"), StoreBusy("database is locked")])
    writer = BatchWriter(repo, clock=clock, max_reports=100, max_delay=0)
    try:
        accepted = await writer.submit(pid, reports("a", 2))
    finally:
        await writer.aclose()
    assert len(accepted) == 2
    assert writer.stats.retries == 2
    assert await group_count(db, "a") == 2


async def test_reports_the_store_cannot_keep_are_refused_whole(db: Database) -> None:
    pid = await make_project(db)
    writer = BatchWriter(GroupRepository(db), clock=clock, max_reports=100, max_delay=0)
    unfingerprinted = CrashReport(project="shop", timestamp=T0)
    try:
        with pytest.raises(BadReport, match="report 1: no fingerprint"):
            await writer.submit(pid, [*reports("a", 1), unfingerprinted])
        with pytest.raises(BadReport, match="report 0: fingerprint is 129 characters"):
            await writer.submit(pid, reports("x" * 129, 1))
        with pytest.raises(BadReport, match="attribute 'k' is longer than 1024"):
            await writer.submit(pid, reports("a", 1, k="v" * 1025))
        assert await writer.submit(pid, []) == []
    finally:
        await writer.aclose()
    assert await group_count(db, "a") is None


async def test_backpressure_bounds_what_waits(db: Database) -> None:
    pid = await make_project(db)
    repo = FlakyRepository(db, [])
    repo.gate = asyncio.Event()
    writer = BatchWriter(repo, clock=clock, max_reports=5, max_delay=0, max_pending_reports=10)
    try:
        first = asyncio.create_task(writer.submit(pid, reports("a", 5)))
        second = asyncio.create_task(writer.submit(pid, reports("a", 5)))
        await asyncio.sleep(0.05)
        third = asyncio.create_task(writer.submit(pid, reports("a", 5)))
        await asyncio.sleep(0.05)
        assert writer.queued_reports == 10  # the third waits outside the queue
        assert not third.done()
        repo.gate.set()
        await asyncio.wait_for(asyncio.gather(first, second, third), timeout=10)
    finally:
        await writer.aclose()
    assert writer.queued_reports == 0
    assert await group_count(db, "a") == 15


async def test_close_writes_what_was_accepted_then_refuses(db: Database) -> None:
    pid = await make_project(db)
    writer = BatchWriter(GroupRepository(db), clock=clock, max_reports=10_000, max_delay=3600)
    pending = [asyncio.create_task(writer.submit(pid, reports("a", 2))) for _ in range(3)]
    await asyncio.sleep(0.01)
    assert not any(t.done() for t in pending)
    await asyncio.wait_for(writer.aclose(), timeout=10)
    assert all(len(t.result()) == 2 for t in pending)
    assert await group_count(db, "a") == 6
    with pytest.raises(StoreError, match="shutting down"):
        await writer.submit(pid, reports("a", 1))


async def test_a_submitter_that_goes_away_still_has_its_reports_written(db: Database) -> None:
    pid = await make_project(db)
    writer = BatchWriter(GroupRepository(db), clock=clock, max_reports=10_000, max_delay=0.05)
    try:
        task = asyncio.create_task(writer.submit(pid, reports("a", 2)))
        await asyncio.sleep(0.01)
        task.cancel()
        await writer.submit(pid, reports("b", 1))
    finally:
        await writer.aclose()
    assert await group_count(db, "a") == 2


class DefectRepository(GroupRepository):
    """A real repository with a defect set off by one fingerprint (not a store error)."""

    async def write(self, batch: BatchFold, *, now: datetime) -> list[list[Assigned]]:
        if any(fingerprint == "poison" for _, fingerprint in batch.groups):
            raise RuntimeError("a defect set off by one report")
        return await super().write(batch, now=now)


async def test_a_defect_set_off_by_one_submission_fails_only_that_submitter(db: Database) -> None:
    pid = await make_project(db)
    writer = BatchWriter(DefectRepository(db), clock=clock, max_reports=1000, max_delay=0.05)
    try:
        outcomes = await asyncio.gather(
            writer.submit(pid, reports("good-1", 3)),
            writer.submit(pid, reports("poison", 1)),
            writer.submit(pid, reports("good-2", 4)),
            return_exceptions=True,
        )
    finally:
        await writer.aclose()
    assert isinstance(outcomes[1], StoreRejected)
    assert "RuntimeError" in str(outcomes[1])
    assert [len(o) for o in outcomes if isinstance(o, list)] == [3, 4]
    assert await group_count(db, "good-1") == 3
    assert await group_count(db, "good-2") == 4


async def test_a_submission_that_cannot_be_folded_leaves_nothing_behind(db: Database) -> None:
    pid = await make_project(db)
    writer = BatchWriter(GroupRepository(db), clock=clock, max_reports=1000, max_delay=0.05)
    naive = CrashReport(
        project="shop", timestamp=T0.replace(tzinfo=None), fingerprint="shared", classifier="E"
    )
    try:
        first = asyncio.ensure_future(writer.submit(pid, reports("shared", 2)))
        await asyncio.sleep(0)  # folded into the open batch
        with pytest.raises(BadReport, match="could not be stored"):
            # Its first report folds, its second cannot be compared with the group's times.
            await writer.submit(pid, [*reports("half", 1), naive])
        assert len(await first) == 2
    finally:
        await writer.aclose()
    assert await group_count(db, "shared") == 2
    assert await group_count(db, "half") is None


async def test_with_arrivals_the_writer_commits_once_every_expected_request_has_submitted(
    db: Database,
) -> None:
    # max_delay is an hour: only the arrivals can make the writer write.
    pid = await make_project(db)
    arrivals = Arrivals()
    writer = BatchWriter(GroupRepository(db), clock=clock, max_delay=3600, arrivals=arrivals)
    first, second = arrivals.expect(), arrivals.expect()
    try:
        first.done()
        pending = asyncio.ensure_future(writer.submit(pid, reports("a", 1)))
        await asyncio.sleep(0.05)
        assert not pending.done()  # the second request is still on its way: the batch waits
        second.done()
        second.done()  # done twice counts once
        both = await asyncio.wait_for(
            asyncio.gather(pending, writer.submit(pid, reports("b", 1))), 60
        )
        assert [len(answer) for answer in both] == [1, 1]
        assert writer.stats.batches == 1  # one commit for both requests
        assert arrivals.waiting == 0
        # With no request on its way, a lone submission is written at once.
        assert len(await asyncio.wait_for(writer.submit(pid, reports("c", 1)), 60)) == 1
        assert writer.stats.batches == 2
    finally:
        await writer.aclose()
    assert await group_count(db, "c") == 1


async def test_a_request_that_fails_before_submitting_does_not_hold_the_batch(
    db: Database,
) -> None:
    pid = await make_project(db)
    arrivals = Arrivals()
    writer = BatchWriter(GroupRepository(db), clock=clock, max_delay=3600, arrivals=arrivals)
    failed = arrivals.expect()
    try:
        pending = asyncio.ensure_future(writer.submit(pid, reports("a", 1)))
        await asyncio.sleep(0.05)
        assert not pending.done()
        failed.done()  # the endpoint's finally: the request answered 4xx without submitting
        assert len(await asyncio.wait_for(pending, 60)) == 1
    finally:
        await writer.aclose()


async def test_a_batch_filled_while_the_writer_looks_for_arrivals_is_written(
    db: Database,
) -> None:
    pid = await make_project(db)
    arrivals = Arrivals()
    writer = BatchWriter(
        GroupRepository(db), clock=clock, max_reports=5, max_delay=3600, arrivals=arrivals
    )
    try:
        first = asyncio.ensure_future(writer.submit(pid, reports("a", 2)))
        await asyncio.sleep(0)  # the submission opens the batch and starts the writer
        await asyncio.sleep(0)  # the writer finds no one on its way and turns the loop
        other = arrivals.expect()  # another request starts and stays on its way
        second = asyncio.ensure_future(writer.submit(pid, reports("b", 5)))  # fills the batch
        answers = await asyncio.wait_for(asyncio.gather(first, second), 60)
        assert [len(a) for a in answers] == [2, 5]
        other.done()
    finally:
        await writer.aclose()
    assert await group_count(db, "b") == 5
