"""The outbox on every backend: ordered claims, leases, passive projects, settling."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx
from pydantic import SecretStr
from sqlalchemy import select

from syncengine.domain.backoff import BackoffPolicy
from syncengine.errors import JiraPermanentError, JiraTransientError
from syncengine.jira import JiraClient, JiraConfig
from syncengine.store.database import Database
from syncengine.store.outbox import OutboxRepository, OutboxWork, State
from syncengine.store.projects import ProjectRepository
from syncengine.store.tables import AuditLog, ErrorGroup
from syncengine.sync.worker import OutboxWorker

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def _project(db: Database, slug: str = "shop", active: bool = True) -> int:
    record = await ProjectRepository(db).ensure(slug, name="", integration_active=active, now=T0)
    return record.id


async def _group(db: Database, project_id: int, fingerprint: str) -> int:
    async with db.session() as session:
        row = ErrorGroup(
            project_id=project_id,
            fingerprint=fingerprint,
            first_seen=T0,
            last_seen=T0,
            updated_at=T0,
        )
        session.add(row)
        await session.flush()
        return row.id


async def _add(
    db: Database, project_id: int, kind: str, *, group_id: int | None = None, now: datetime = T0
) -> int:
    async with db.session() as session:
        row = OutboxRepository.add(
            session,
            project_id=project_id,
            kind=kind,
            payload={"k": kind},
            group_id=group_id,
            now=now,
        )
        await session.flush()
        return row.id


async def test_items_of_one_group_run_in_order(db: Database) -> None:
    outbox = OutboxRepository(db)
    pid = await _project(db)
    g1, g2 = await _group(db, pid, "a"), await _group(db, pid, "b")
    create1 = await _add(db, pid, "create", group_id=g1)
    transition1 = await _add(db, pid, "transition", group_id=g1)
    create2 = await _add(db, pid, "create", group_id=g2)
    claimed = await outbox.claim("w1", now=T0, lease=LEASE)
    assert [c.id for c in claimed] == [create1, create2]
    # The transition waits until the create is done, even for another worker.
    assert await outbox.claim("w2", now=T0, lease=LEASE) == []
    assert await outbox.complete(create1, "w1", now=T0)
    assert [c.id for c in await outbox.claim("w2", now=T0, lease=LEASE)] == [transition1]


async def test_dead_item_blocks_later_items_of_its_group(db: Database) -> None:
    outbox = OutboxRepository(db)
    pid = await _project(db)
    g = await _group(db, pid, "a")
    first = await _add(db, pid, "create", group_id=g)
    await _add(db, pid, "comment", group_id=g)
    await outbox.claim("w", now=T0, lease=LEASE)
    assert await outbox.kill(first, "w", error="400 from Jira", now=T0)
    assert await outbox.claim("w", now=T0, lease=LEASE) == []
    assert [i.id for i in await outbox.list(states=(State.DEAD,))] == [first]
    assert await outbox.requeue(first, actor="ops", now=T0)
    assert [c.id for c in await outbox.claim("w", now=T0, lease=LEASE)] == [first]


async def test_passive_project_is_not_claimed_until_active(db: Database) -> None:
    outbox = OutboxRepository(db)
    projects = ProjectRepository(db)
    pid = await _project(db, active=False)
    ids = [await _add(db, pid, "create") for _ in range(3)]
    assert await outbox.claim("w", now=T0, lease=LEASE) == []
    await projects.set_active("shop", True, actor="ops", now=T0)
    assert [c.id for c in await outbox.claim("w", now=T0, lease=LEASE)] == ids


async def test_expired_lease_is_taken_over_and_old_holder_cannot_settle(db: Database) -> None:
    outbox = OutboxRepository(db)
    pid = await _project(db)
    item = await _add(db, pid, "create")
    assert len(await outbox.claim("dead-worker", now=T0, lease=LEASE)) == 1
    assert await outbox.claim("w2", now=T0 + timedelta(seconds=30), lease=LEASE) == []
    later = T0 + timedelta(seconds=61)
    taken = await outbox.claim("w2", now=later, lease=LEASE)
    assert [(t.id, t.attempts) for t in taken] == [(item, 2)]
    assert not await outbox.complete(item, "dead-worker", now=later)
    assert await outbox.complete(item, "w2", now=later)
    done = await outbox.get(item)
    assert done is not None
    assert done.state == State.DONE


async def test_a_heartbeat_extends_only_the_named_claims_of_its_worker(db: Database) -> None:
    outbox = OutboxRepository(db)
    pid = await _project(db)
    ids = [await _add(db, pid, f"k{n}") for n in range(3)]
    claimed = await outbox.claim("w1", now=T0, lease=LEASE, limit=2)
    mine = [item.id for item in claimed]
    assert len(mine) == 2
    assert len(await outbox.claim("w2", now=T0, lease=LEASE)) == 1
    theirs = next(i for i in ids if i not in mine)
    later = T0 + timedelta(seconds=50)
    # The other worker's claim and a crashed item (not named) are left to expire.
    assert await outbox.extend_claims([mine[0], theirs], "w1", until=later + LEASE) == {mine[0]}
    taken = await outbox.claim("w3", now=T0 + LEASE + timedelta(seconds=1), lease=LEASE)
    assert sorted(t.id for t in taken) == sorted([mine[1], theirs])


async def test_release_and_drop(db: Database) -> None:
    outbox = OutboxRepository(db)
    pid = await _project(db)
    item = await _add(db, pid, "create")
    await outbox.claim("w", now=T0, lease=LEASE)
    assert await outbox.release("w", now=T0) == 1
    released = await outbox.get(item)
    assert released is not None
    assert (released.state, released.attempts) == (State.PENDING, 0)
    assert await outbox.drop(item, actor="ops@example.com", now=T0)
    async with db.session() as session:
        audit = (await session.scalars(select(AuditLog))).all()
    assert [(a.actor, a.action) for a in audit] == [("ops@example.com", "outbox.drop")]
    assert await outbox.claim("w", now=T0, lease=LEASE) == []


async def test_not_yet_due_items_wait(db: Database) -> None:
    outbox = OutboxRepository(db)
    pid = await _project(db)
    await _add(db, pid, "create", now=T0 + timedelta(minutes=5))
    assert await outbox.claim("w", now=T0, lease=LEASE) == []
    assert await outbox.next_due() == T0 + timedelta(minutes=5)
    assert (await outbox.depth())[State.PENDING][0] == 1


@pytest.mark.postgres
async def test_concurrent_claims_never_share_an_item(postgres_url: str) -> None:
    from tests.conftest import _truncate_postgres

    _truncate_postgres(postgres_url)
    databases = [Database(postgres_url) for _ in range(4)]
    try:
        pid = await _project(databases[0])
        for _ in range(200):
            await _add(databases[0], pid, "create")
        claims = await asyncio.gather(
            *(
                OutboxRepository(d).claim(f"w{i}", now=T0, lease=LEASE, limit=80)
                for i, d in enumerate(databases)
            )
        )
        ids = [c.id for batch in claims for c in batch]
        assert len(ids) == len(set(ids)) == 200
    finally:
        for d in databases:
            await d.aclose()


async def test_worker_retries_transient_kills_permanent_and_survives_bugs(db: Database) -> None:
    outbox = OutboxRepository(db)
    clock = Clock()
    pid = await _project(db)
    flaky = await _add(db, pid, "flaky")
    broken = await _add(db, pid, "broken")
    buggy = await _add(db, pid, "buggy")
    unknown = await _add(db, pid, "unknown-kind")
    calls: dict[str, int] = {}
    outcomes: list[tuple[int, str | None]] = []

    async def flaky_handler(work: OutboxWork) -> None:
        calls["flaky"] = calls.get("flaky", 0) + 1
        if calls["flaky"] < 3:
            raise JiraTransientError("503 from Jira", status=503, retry_after=30)

    async def broken_handler(work: OutboxWork) -> None:
        raise JiraPermanentError("401 from Jira", status=401, fix="create a new API token")

    async def buggy_handler(work: OutboxWork) -> None:
        calls["buggy"] = calls.get("buggy", 0) + 1
        if calls["buggy"] == 1:
            raise RuntimeError("boom")

    async def hook(work: OutboxWork, error: str | None) -> None:
        outcomes.append((work.id, error))

    worker = OutboxWorker(
        outbox,
        {"flaky": flaky_handler, "broken": broken_handler, "buggy": buggy_handler},
        worker_id="w",
        clock=clock,
        rng=random.Random(1),
        on_outcome=hook,
        policy=BackoffPolicy(base_seconds=1, max_seconds=10, max_attempts=5),
    )
    await worker.drain()
    states = {i: (await outbox.get(i)) for i in (flaky, broken, buggy, unknown)}
    assert states[broken] is not None
    assert states[broken].state == State.DEAD
    assert states[broken].last_error == "401 from Jira — create a new API token"
    assert states[unknown] is not None
    assert states[unknown].state == State.DEAD
    assert states[flaky] is not None
    assert states[flaky].state == State.PENDING
    # Retry-After of 30 s is a floor on the backoff.
    assert states[flaky].next_attempt_at >= T0 + timedelta(seconds=30)
    for _ in range(5):
        clock.now += timedelta(minutes=1)
        await worker.drain()
    final = {i: (await outbox.get(i)) for i in (flaky, buggy)}
    assert all(w is not None and w.state == State.DONE for w in final.values())
    assert calls == {"flaky": 3, "buggy": 2}
    assert (flaky, None) in outcomes
    assert (broken, "401 from Jira — create a new API token") in outcomes


async def test_worker_gives_up_after_max_attempts(db: Database) -> None:
    outbox = OutboxRepository(db)
    clock = Clock()
    pid = await _project(db)
    item = await _add(db, pid, "always-503")

    async def handler(work: OutboxWork) -> None:
        raise JiraTransientError("503 from Jira", status=503)

    worker = OutboxWorker(
        outbox,
        {"always-503": handler},
        worker_id="w",
        clock=clock,
        rng=random.Random(2),
        policy=BackoffPolicy(base_seconds=1, max_seconds=2, max_attempts=3),
    )
    for _ in range(5):
        await worker.drain()
        clock.now += timedelta(seconds=5)
    work = await outbox.get(item)
    assert work is not None
    assert (work.state, work.attempts) == (State.DEAD, 3)


async def test_run_wakes_on_new_work_and_releases_on_stop(db: Database) -> None:
    outbox = OutboxRepository(db)
    pid = await _project(db)
    done = asyncio.Event()

    async def handler(work: OutboxWork) -> None:
        done.set()

    worker = OutboxWorker(
        outbox,
        {"create": handler},
        worker_id="w",
        clock=lambda: datetime.now(UTC),
        poll_interval=30,
    )
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0.05)
    await _add(db, pid, "create", now=datetime.now(UTC))
    worker.wake()
    await asyncio.wait_for(done.wait(), timeout=5)
    worker.stop()
    await asyncio.wait_for(task, timeout=5)


async def test_heartbeat_keeps_a_slow_item_from_being_taken_over(db: Database) -> None:
    outbox = OutboxRepository(db)
    pid = await _project(db)
    await _add(db, pid, "slow", now=datetime.now(UTC))
    taken: list[int] = []

    async def slow(work: OutboxWork) -> None:
        for _ in range(8):
            await asyncio.sleep(0.1)
            other = await outbox.claim("w2", now=datetime.now(UTC), lease=LEASE)
            taken.extend(item.id for item in other)

    worker = OutboxWorker(
        outbox,
        {"slow": slow},
        worker_id="w1",
        clock=lambda: datetime.now(UTC),
        lease=timedelta(seconds=0.3),
    )
    assert await worker.run_once() == 1
    assert taken == []  # the lease (0.3 s) was renewed while the 0.8 s handler ran


async def test_worker_logs_carry_the_item_and_the_project(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    from syncengine.logs import RedactingFilter, bind

    outbox = OutboxRepository(db)
    pid = await _project(db)
    group = await _group(db, pid, "fp-log")
    item = await _add(db, pid, "flaky", group_id=group)

    async def handler(work: OutboxWork) -> None:
        bind(project="shop")  # as the real handlers do once they know the slug
        raise JiraTransientError("503 from Jira", status=503)

    caplog.handler.addFilter(RedactingFilter())
    worker = OutboxWorker(outbox, {"flaky": handler}, worker_id="w", clock=Clock())
    with caplog.at_level(logging.WARNING, logger="syncengine.sync.worker"):
        await worker.drain(max_rounds=1)
    failed = next(r for r in caplog.records if "failed, retry" in r.getMessage())
    assert (failed.outbox_id, failed.group_id, failed.project) == (item, group, "shop")  # type: ignore[attr-defined]


async def test_when_jira_answers_again_its_projects_backed_off_items_are_due(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    # Jira was down: items back off (here 10 minutes). Once an item got through and no
    # other failed for 10 s, the project's backed-off items go, not 10 minutes on.
    outbox = OutboxRepository(db)
    clock = Clock()
    shop, other = await _project(db), await _project(db, "other")
    first = await _add(db, shop, "first")  # backs off 1 s, then gets through
    waiting = [await _add(db, shop, "long") for _ in range(3)]  # back off 10 minutes
    elsewhere = await _add(db, other, "long")  # another project: its Jira said nothing
    async with db.session() as session:  # a create whose outcome is unknown keeps its wait
        unsure = OutboxRepository.add(
            session,
            project_id=shop,
            kind="long",
            payload={"create_unknown": T0.isoformat(), "create_sent": None},
            now=T0,
        )
        await session.flush()
        unsure_id = unsure.id
    calls: dict[int, int] = {}

    async def handler(work: OutboxWork) -> None:
        calls[work.id] = calls.get(work.id, 0) + 1
        if work.kind == "storm" or calls[work.id] == 1:
            wait = {"first": 1, "storm": 3}.get(work.kind, 600)
            raise JiraTransientError("503 from Jira", status=503, retry_after=wait)

    worker = OutboxWorker(
        outbox,
        {"first": handler, "long": handler, "storm": handler},
        worker_id="w",
        clock=clock,
        rng=random.Random(3),
        policy=BackoffPolicy(base_seconds=1, max_seconds=900, max_attempts=10),
    )

    async def at(seconds: float) -> None:
        clock.now = T0 + timedelta(seconds=seconds)
        await worker.drain()

    async def state(item_id: int) -> str:
        item = await outbox.get(item_id)
        assert item is not None
        return item.state

    await at(0)
    assert set(calls) == {first, *waiting, elsewhere, unsure_id}
    await at(2)  # the first gets through, too soon after the failures to tell
    assert calls[first] == 2
    assert [await state(i) for i in waiting] == [State.PENDING] * 3
    with caplog.at_level(logging.INFO, logger="syncengine.sync.worker"):
        await at(12)
    assert "Jira answers again: 3 outbox items" in caplog.text
    assert [await state(i) for i in waiting] == [State.DONE] * 3
    assert all(calls[i] == 2 for i in waiting)
    for kept in (elsewhere, unsure_id):
        item = await outbox.get(kept)
        assert item is not None
        assert (item.state, item.next_attempt_at >= T0 + timedelta(seconds=600)) == (
            State.PENDING,
            True,
        )
    # While Jira still fails now and then, nothing is woken: no item spends its attempts
    # faster than its backoff allows.
    late = await _add(db, shop, "long", now=clock.now)
    again = await _add(db, shop, "first", now=clock.now)
    storm = await _add(db, shop, "storm", now=clock.now)
    await at(20)  # all three fail
    await at(22)  # one gets through...
    await at(24)  # ...and another fails after it
    await at(36)
    assert (calls[again], calls[storm]) == (2, 3)
    assert await state(late) == State.PENDING
    assert calls[late] == 1


@pytest.mark.parametrize("paused", [False, True])
async def test_a_handler_paused_past_its_claim_sends_nothing_to_jira(
    db: Database, respx_mock: respx.MockRouter, paused: bool
) -> None:
    """Any kind of work, not only creates: a worker stopped past its lease (SIGSTOP) must
    not act on an item another worker may hold by then."""
    outbox = OutboxRepository(db)
    clock = Clock()
    pid = await _project(db)
    item = await _add(db, pid, "comment")
    route = respx_mock.post("https://jira.example.com/rest/api/2/issue/C-1/comment").mock(
        return_value=httpx.Response(201, json={"id": "1"})
    )
    jira = JiraClient.open(
        JiraConfig(
            site="https://jira.example.com",
            deployment="datacenter",
            api_version=2,
            user="bot",
            token=SecretStr("t0ken"),
        )
    )

    async def comment(work: OutboxWork) -> None:
        if paused:
            clock.now += LEASE  # stopped right here, past the lease
        ctx = jira.session.context("comment on C-1")
        await jira.session.request("POST", "/issue/C-1/comment", context=ctx, json={})

    worker = OutboxWorker(outbox, {"comment": comment}, worker_id="w", clock=clock, lease=LEASE)
    try:
        await worker.drain()
    finally:
        await jira.aclose()
    state = await outbox.get(item)
    assert state is not None
    if paused:
        assert route.call_count == 0
        assert state.state == State.PENDING
        assert state.last_error is not None
        assert "not sent" in state.last_error
    else:
        assert route.call_count == 1
        assert state.state == State.DONE
