"""Two processes acting on one issue link at once (issue 14): one push, no lost change.

Two engines (each its own ``bootstrap``: its own database pool, link locks and Jira
client, as two processes have) share one PostgreSQL database and one simulated Jira.
On the engine side a user moves the group to In Progress; in Jira a human assigns the
issue at the same moment. Process B handles the assignment's webhook and holds Jira's
answer to its read of the issue; meanwhile process A runs the push. Only the link's
PostgreSQL advisory lock keeps A from pushing while B merges: A waits, then pushes
once, and both changes end on both sides.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from syncengine.bootstrap import bootstrap
from syncengine.domain.groups import GroupState
from syncengine.jira.simulator.seed import SeedUsers
from syncengine.web import create_app
from tests.conftest import _truncate_postgres
from tests.integration.sync.harness import HOOK_URL, SECRET, settings_for, sync_world
from tests.integration.sync.test_fresh_reads import HeldReads

pytestmark = pytest.mark.postgres
TRANSITION = "POST /issue/{issueIdOrKey}/transitions"


async def test_two_processes_on_one_link_push_once_and_lose_nothing(
    postgres_url: str, tmp_path: Path
) -> None:
    _truncate_postgres(postgres_url)
    async with sync_world(postgres_url, tmp_path / "a") as world:  # process A
        gid, key = await world.linked_group("two-processes")
        link = await world.container.links.for_group(gid)
        assert link is not None
        gate = HeldReads(world.sim.transport())
        other = await bootstrap(  # process B
            settings_for(postgres_url, tmp_path / "b"),
            migrate=False,
            clock=world.clock,
            jira_transport=gate,
        )
        try:
            # Jira's webhooks now reach process B.
            world.sim.webhooks.transport = httpx.ASGITransport(app=create_app(other.web))
            world.sim.webhooks.webhooks.clear()
            world.sim.register_webhook(HOOK_URL, secret=SECRET)
            await world.human.assign_issue(key, world.sim.user(SeedUsers.alice).account_id)
            await world.container.changes.set_state(gid, GroupState.IN_PROGRESS, actor="ann@x.io")
            world.sim.counter.reset()
            gate.hold_next()
            hook = asyncio.create_task(world.deliver())  # B merges the assignment...
            await gate.held.wait()  # ...and B's read of the issue is in Jira's hands
            push = asyncio.create_task(world.drain())  # A pushes the state meanwhile
            locks = world.sync.executor.locks
            for _ in range(400):
                if locks.contenders(link.id):
                    break
                await asyncio.sleep(0.005)
            assert locks.contenders(link.id) == 1, "process A never reached the link's lock"
            await asyncio.sleep(0.3)
            assert world.status(key) == "To Do", "A pushed while B held the link"
            assert world.sim.counter.total(TRANSITION) == 0
            gate.release()
            await asyncio.wait_for(asyncio.gather(hook, push), timeout=30)
            await world.settle()
            await other.worker.drain()
            await world.settle()
        finally:
            await other.aclose()
        assert world.sim.counter.total(TRANSITION) == 1, world.sim.counter.snapshot()
        assert world.status(key) == "In Progress"
        assert await world.state(gid) is GroupState.IN_PROGRESS
        assert (await world.group(gid)).assignee == SeedUsers.alice
        assigned = world.sim.issue(key).fields["assignee"]
        assert world.sim.user(SeedUsers.alice).account_id in str(assigned)
