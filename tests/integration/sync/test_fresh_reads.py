"""A stale Jira read never overwrites a newer value (issue 19).

The webhook handler reads the issue under the link's lock, a poll's page is
re-checked against the link as it is when applied, and a webhook that cannot
take the lock in time is queued (``link.pull``) instead of waiting or failing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx

from syncengine.domain.groups import GroupState
from syncengine.jira.simulator.seed import SeedUsers
from syncengine.store.link_sync import PULL_KIND
from syncengine.sync.link_values import ISSUE_FIELDS
from tests.integration.sync.harness import sync_world


class HeldReads(httpx.AsyncBaseTransport):
    """Holds Jira's answer to the next ``GET /issue/{id}`` (armed by :meth:`hold_next`)
    until released: the answer tells the issue as it was when Jira read it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self._armed = False
        self.held = asyncio.Event()
        self._release = asyncio.Event()

    def hold_next(self) -> None:
        self._armed = True

    def release(self) -> None:
        self._release.set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if (
            self._armed
            and request.method == "GET"
            and "/issue/" in path
            and "/" not in (path.rsplit("/issue/", 1)[1])
        ):
            self._armed = False
            answer = await self._inner.handle_async_request(request)
            await answer.aread()  # Jira answered now; the answer arrives later
            self.held.set()
            await self._release.wait()
            return answer
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def _until(check: Callable[[], bool]) -> None:
    """Yield to the other tasks until ``check`` holds (bounded: fails rather than hangs)."""
    for _ in range(2000):
        if check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the condition never held")


async def test_a_held_webhook_read_during_a_push_keeps_the_newer_value(
    database_url: str, tmp_path: Path
) -> None:
    gate: HeldReads | None = None

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        nonlocal gate
        gate = HeldReads(inner)
        return gate

    async with sync_world(database_url, tmp_path, wrap=wrap) as world:
        assert gate is not None
        gid, key = await world.linked_group("held")
        link = await world.container.links.for_group(gid)
        assert link is not None
        await world.human.assign_issue(key, world.sim.user(SeedUsers.alice).account_id)
        await world.container.changes.set_state(gid, GroupState.IN_PROGRESS, actor="ann@x.io")
        gate.hold_next()
        hook = asyncio.create_task(world.deliver())  # the assignment's delivery
        await gate.held.wait()  # its GET /issue is in Jira's hands
        push = asyncio.create_task(world.drain())
        # Before the fix the push ran meanwhile and the held (older) answer won;
        # now the push waits for the link's lock.
        locks = world.sync.executor.locks
        await _until(lambda: world.status(key) == "In Progress" or locks.contenders(link.id) > 1)
        gate.release()
        await asyncio.gather(hook, push)
        assert await world.state(gid) is GroupState.IN_PROGRESS
        assert world.status(key) == "In Progress"
        applied = await world.audit(gid, "sync.apply")
        assert {"field": "state", "before": "in_progress", "after": "open"} not in applied
        assert (await world.group(gid)).assignee == SeedUsers.alice
        await world.settle()
        assert await world.state(gid) is GroupState.IN_PROGRESS
        assert world.status(key) == "In Progress"


async def test_a_poll_page_older_than_a_webhook_is_not_applied(
    database_url: str, tmp_path: Path
) -> None:
    async with sync_world(database_url, tmp_path) as world:
        gid, key = await world.linked_group("poll-stale")
        alice = world.sim.user(SeedUsers.alice).account_id
        await world.human.assign_issue(key, alice)
        await world.settle()
        bot = world.container.jira.for_project("shop")
        page_copy = await bot.get_issue(key, fields=ISSUE_FIELDS)  # what a poll page held
        await asyncio.sleep(0.002)  # Jira's `updated` has millisecond resolution
        await world.human.assign_issue(key, None)
        await world.settle()  # the webhook applies "nobody"
        assert (await world.group(gid)).assignee is None
        link = await world.container.links.for_group(gid)
        assert link is not None
        merged = await world.sync.executor.sync("shop", link, page_copy)
        assert merged is None  # older than what the link has seen: skipped
        assert (await world.group(gid)).assignee is None
        assert await world.state(gid) is GroupState.OPEN


async def test_a_webhook_for_a_busy_link_is_queued_then_applied(
    database_url: str, tmp_path: Path
) -> None:
    async with sync_world(database_url, tmp_path) as world:
        gid, key = await world.linked_group("busy")
        link = await world.container.links.for_group(gid)
        assert link is not None
        events = world.sync.webhooks
        events.lock_wait = 0.0
        await world.human_transition(key, "Start Progress")
        async with world.sync.executor.locks.hold(link.id):
            assert await world.deliver() >= 1
            [item] = await world.container.outbox.list(project_id=world.project_id)
            assert item.kind == PULL_KIND
            assert await world.state(gid) is GroupState.OPEN
        await world.drain()
        assert await world.state(gid) is GroupState.IN_PROGRESS
        assert await world.container.outbox.list(project_id=world.project_id) == []


async def test_a_webhook_is_answered_while_jira_is_slow_and_merged_from_the_queue(
    database_url: str, tmp_path: Path
) -> None:
    gate: HeldReads | None = None

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        nonlocal gate
        gate = HeldReads(inner)
        return gate

    async with sync_world(database_url, tmp_path, wrap=wrap) as world:
        assert gate is not None
        gid, key = await world.linked_group("slow-jira")
        world.sync.webhooks.answer_within = 0.2
        world.sim.webhooks.deliveries.clear()
        await world.human_transition(key, "Start Progress")
        gate.hold_next()  # Jira takes for ever to answer the merge's read of the issue
        delivered = await asyncio.wait_for(world.deliver(), timeout=30)
        assert delivered >= 1
        assert gate.held.is_set()  # the read is still in Jira's hands...
        for delivery in world.sim.webhooks.deliveries:  # ...yet every delivery was answered
            assert (delivery.attempts, delivery.outcomes, delivery.done) == (1, ["200"], True)
        [item] = await world.container.outbox.list(project_id=world.project_id)
        assert item.kind == PULL_KIND
        gate.release()
        await world.drain()
        assert await world.state(gid) is GroupState.IN_PROGRESS
        assert await world.container.outbox.list(project_id=world.project_id) == []
