"""Two-way sync converges when both sides change at once (issue 19).

Two variants: one engine on SQLite, and three engines sharing one PostgreSQL
database (``sync_world(postgres_url, ..., engines=3)``: each a full container with
its own pool, outbox worker, link locks and user cache, as three processes have;
they run in this test's process, not as separate OS processes), on a Jira Cloud that
hides users' e-mails, so each engine names a person only once it looked them up.
Engine-side changes go to a random engine, webhook deliveries to each in turn.

``LINKS`` linked issues (200; ``CONVERGE_LINKS`` overrides; ``PG_LINKS``, 200, on
PostgreSQL, to keep the suite short; ``CONVERGE_SEED`` picks another run) have their
state and assignee changed at once in the engine and in Jira, over a few rounds, while
the simulator fails 30 % of Jira calls (500s, 429s, writes whose answer is lost) and
webhook deliveries arrive shuffled, several at once, duplicated or never (Jira gave
up on them). Then the faults stop and ONE poll cycle runs (every delivery still
owed, one poll, the outbox until quiet) with NO backoff waited out: the engine's
clock moves a second a pass, so a much-failed push must be made due by the poll.
Afterwards every link agrees on state (in meaning: a resolved group whose issue is
closed as Won't Do agrees) and on assignee, a quiet period (the engine's clock a
minute and a poll further) makes no Jira write at all (no echo), and no engine change
is overridden without an audit line. During the rounds the engine's clock is moved by
the test, so outbox backoffs pass in no real time.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
from collections.abc import Awaitable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from syncengine.domain.groups import GroupState
from syncengine.domain.statuses import satisfies
from syncengine.errors import SyncEngineError
from syncengine.jira.simulator.limits import LimitsConfig, RateLimiter
from syncengine.jira.simulator.seed import SeedUsers
from syncengine.jira.simulator.webhooks import Delivery
from syncengine.store.links import Snapshot
from syncengine.store.tables import AuditLog, ErrorGroup
from syncengine.sync.link_values import ISSUE_FIELDS, domain_status
from syncengine.sync.users import JIRA_PREFIX
from tests.audit_checks import lost_without_audit
from tests.conftest import _truncate_postgres
from tests.integration.sync.harness import SyncWorld, sync_world

pytestmark = pytest.mark.slow
LINKS = int(os.environ.get("CONVERGE_LINKS", "200"))
PG_LINKS = int(os.environ.get("CONVERGE_PG_LINKS", "200"))
ROUNDS = 2  # each changes ~80 % of the links, on one side or on both
PEOPLE = (SeedUsers.alice, SeedUsers.bob, None)
STATES = tuple(GroupState)
PERSON = "person@example.com"


def is_write(operation: str) -> bool:
    """A request that changes Jira (searches are POSTs that only read)."""
    return not operation.startswith("GET") and "search" not in operation


def writes(world: SyncWorld) -> int:
    counts = world.sim.counter.snapshot()
    return sum(sum(by.values()) for op, by in counts.items() if is_write(op))


async def make_links(world: SyncWorld, count: int) -> dict[int, str]:
    """``count`` groups, each linked to a new CRASH issue in step with it."""
    now = world.clock()
    bot = world.container.jira.for_project("shop")
    async with world.container.db.session() as session:
        rows = [
            ErrorGroup(
                project_id=world.project_id,
                fingerprint=f"converge-{n:04d}",
                count=1,
                first_seen=now,
                last_seen=now,
                updated_at=now,
            )
            for n in range(count)
        ]
        session.add_all(rows)
        await session.flush()
        ids = [row.id for row in rows]
    keys: dict[int, str] = {}

    async def one(gid: int) -> None:
        created = await bot.create_issue(
            {"project": {"key": "CRASH"}, "issuetype": {"name": "Task"}, "summary": f"g{gid}"}
        )
        await world.container.links.link(
            project_id=world.project_id,
            group_id=gid,
            issue_id=created.id,
            issue_key=created.key,
            snapshot=Snapshot(state="open", status="To Do"),
            now=now,
        )
        keys[gid] = created.key

    await gather_bounded([one(gid) for gid in ids], limit=8)
    await world.settle()
    return dict(sorted(keys.items()))  # in group order, whichever issue was created first


class People:
    """What persons do on both sides, at random (seeded); failures are shrugged off."""

    def __init__(self, world: SyncWorld, rng: random.Random) -> None:
        self.world = world
        self.rng = rng
        self.failed = 0
        self.engines = (world.container, *world.others)

    async def engine(self, gid: int) -> None:
        changes = self.rng.choice(self.engines).changes  # whichever process took the request
        if self.rng.random() < 0.5:
            await changes.set_state(gid, self.rng.choice(STATES), actor=PERSON)
        else:
            await changes.assign(gid, self.rng.choice(PEOPLE), actor=PERSON)

    async def jira(self, key: str) -> None:
        human = self.world.human
        try:
            if self.rng.random() < 0.5:
                offered = await human.transitions(key)
                if not offered:
                    return
                chosen = self.rng.choice(offered)
                resolution = {"Done": "Done", "Won't Do": "Won't Do"}.get(chosen.name)
                fields = {"resolution": {"name": resolution}} if resolution else None
                await human.transition_issue(key, chosen.id, fields=fields)
            else:
                who = self.rng.choice(PEOPLE)
                account = self.world.sim.user(who).account_id if who else None
                await human.assign_issue(key, account)
        except SyncEngineError:
            self.failed += 1  # a person whose click Jira refused or lost


class Deliveries:
    """Jira's webhook deliveries, reordered, duplicated and sometimes given up on."""

    def __init__(self, world: SyncWorld, rng: random.Random) -> None:
        self.world = world
        self.rng = rng
        self.dropped = self.duplicated = 0
        transport = world.sim.webhooks.transport
        assert transport is not None
        self._http = httpx.AsyncClient(transport=transport, base_url="http://engine.test")

    async def round(self, *, lossy: bool) -> int:
        hooks = self.world.sim.webhooks
        due = hooks.pending()
        self.rng.shuffle(due)
        # Decided before any is sent, so the seeded run does not depend on which ends first.
        fates = [(d, self.rng.random() < 0.1, self.rng.random() < 0.15) for d in due]

        async def send(delivery: Delivery, duplicate: bool) -> None:
            delivery.due = 0.0
            await hooks._attempt(delivery)  # one delivery, now
            if delivery.done and duplicate:
                self.duplicated += 1  # Jira sends it again, later (the same identifier)
                delivery.done = False

        jobs: list[Awaitable[None]] = []
        for delivery, lost, duplicate in fates:
            if lossy and lost:
                delivery.failed = True  # Jira gave up on it: only a poll repairs it
                self.dropped += 1
            else:
                jobs.append(send(delivery, duplicate))
        await gather_bounded(jobs, limit=8)  # several at once, as Jira sends them
        return len(due)

    async def aclose(self) -> None:
        await self._http.aclose()


async def gather_bounded(jobs: list[Awaitable[None]], limit: int = 16) -> None:
    gate = asyncio.Semaphore(limit)

    async def run(job: Awaitable[None]) -> None:
        async with gate:
            await job

    await asyncio.gather(*(run(job) for job in jobs))


async def disagreements(world: SyncWorld, keys: dict[int, str]) -> list[str]:
    cfg = world.sync.executor.config("shop")
    bot = world.container.jira.for_project("shop")
    found = []
    for gid, key in keys.items():
        group = await world.group(gid)
        issue = await bot.get_issue(key, fields=ISSUE_FIELDS)
        assert issue.status is not None
        state = GroupState(group.state)
        status = domain_status(issue.status)
        if not satisfies(status, issue.resolution, state, cfg.mapping):
            found.append(f"{key}: group {state.value}, Jira {status.name} ({issue.resolution})")
        jira_user = issue.assignee.identifier if issue.assignee else None
        wanted = (
            world.sim.user(group.assignee.removeprefix(JIRA_PREFIX)).account_id
            if group.assignee
            else None
        )
        if jira_user != wanted:
            found.append(f"{key}: group assignee {group.assignee}, Jira {jira_user}")
    return found


async def overridden_without_audit(world: SyncWorld, keys: dict[int, str]) -> list[str]:
    """Engine changes by a person that the end state lost with no audit line saying why."""
    async with world.container.db.session() as session:
        rows = (
            await session.scalars(
                select(AuditLog)
                .where(AuditLog.project_id == world.project_id)
                .order_by(AuditLog.id)
            )
        ).all()
    final = {}
    for gid in keys:
        group = await world.group(gid)
        final[gid] = {"state": group.state, "assignee": group.assignee}
    return lost_without_audit(rows, final, PERSON)


@pytest.mark.parametrize(
    ("backend", "engines", "links"),
    [
        ("sqlite", 1, LINKS),
        pytest.param("postgres", 3, PG_LINKS, marks=pytest.mark.postgres),
    ],
)
async def test_concurrent_changes_with_faults_converge_in_one_poll_cycle(
    backend: str, engines: int, links: int, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    rng = random.Random(int(os.environ.get("CONVERGE_SEED", "19")))
    if backend == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "store.db")
        url = f"sqlite+aiosqlite:///{tmp_path}/store.db"
    else:
        url = request.getfixturevalue("postgres_url")
        _truncate_postgres(url)
    async with sync_world(
        url,
        tmp_path,
        jira={"max_retries": 0, "requests_per_second": 5000},
        engines=engines,
    ) as world:
        everyone = (world.container, *world.others)
        # Three processes on Cloud hiding e-mails: each engine names a Jira user only once it
        # looked them up (its own cache), so the same person must read alike in all of them.
        world.sim.state.hidden_emails = engines > 1
        # The faults below are all the failing there is (no burst limits on top).
        world.sim.limiter = RateLimiter(LimitsConfig(enabled=False), world.sim.clock)
        keys = await make_links(world, links)
        people, hooks = People(world, rng), Deliveries(world, rng)
        for rule in (
            {"kind": "error", "status": 500, "rate": 0.2},
            {"kind": "error", "status": 429, "rate": 0.05, "retry_after": 0},
            {"kind": "commit_then_fail", "drop": True, "rate": 0.1},
        ):
            world.sim.add_fault(**rule)
        workers = [asyncio.create_task(c.worker.run()) for c in everyone]
        try:
            for _ in range(ROUNDS):
                jobs: list[Awaitable[None]] = []
                for gid, key in keys.items():
                    roll = rng.random()
                    if roll < 0.4:
                        jobs += [people.engine(gid), people.jira(key)]  # both at once
                    elif roll < 0.6:
                        jobs.append(people.engine(gid))
                    elif roll < 0.8:
                        jobs.append(people.jira(key))
                rng.shuffle(jobs)
                await asyncio.gather(gather_bounded(jobs), hooks.round(lossy=True))
                await hooks.round(lossy=True)
                world.clock.now += timedelta(seconds=30)
            # The last changes in Jira whose deliveries Jira gave up on: only the poll sees them.
            lost = rng.sample(sorted(keys.values()), max(1, links // 10))
            await gather_bounded([people.jira(key) for key in lost])
            for delivery in world.sim.webhooks.pending():
                delivery.failed = True
                hooks.dropped += 1
        finally:
            for each in everyone:
                each.worker.stop()
            await asyncio.gather(*workers)
        world.sim.clear_faults()
        # One poll cycle: what Jira still owes is delivered, one poll, the outbox until quiet.
        await hooks.round(lossy=False)
        await world.sync.poller.run("shop", force=True)
        for _ in range(40):
            # No backoff is waited out: the poll made every backed-off link sync due.
            world.clock.now += timedelta(seconds=1)
            drained = await asyncio.gather(*(c.worker.drain() for c in everyone))
            if not (await hooks.round(lossy=False)) + sum(drained):
                break
        assert await disagreements(world, keys) == []
        assert await overridden_without_audit(world, keys) == []
        conflicts = [r.detail for r in await _audit(world, "sync.conflict")]
        assert conflicts, "the run made no conflict: it tests nothing"
        assert all(c["winner"] in ("engine", "jira") and c["policy"] for c in conflicts)
        assert people.failed
        assert hooks.dropped
        assert hooks.duplicated
        # A quiet period: a minute and a poll later, nothing is written to Jira (no echo).
        before = writes(world)
        world.clock.now += timedelta(seconds=61)
        await world.sync.poller.run("shop", force=True)
        for _ in range(3):
            await hooks.round(lossy=False)
            await asyncio.gather(*(c.worker.drain() for c in everyone))
        assert writes(world) == before
        dead = await world.container.outbox.list(project_id=world.project_id)
        assert all(item.state == "dead" for item in dead)
        # The checks can fail: a Jira change nobody was told of is a disagreement.
        gid, key = next(iter(keys.items()))
        await world.human.assign_issue(key, world.sim.user(SeedUsers.admin).account_id)
        assert await disagreements(world, {gid: key}) != []
        await hooks.aclose()


async def _audit(world: SyncWorld, action: str) -> list[AuditLog]:
    async with world.container.db.session() as session:
        return list(
            (await session.scalars(select(AuditLog).where(AuditLog.action == action))).all()
        )
