"""After Jira's faults stop, the next poll repairs what they left (issue 19: one poll cycle).

A push that ran out of attempts on passing failures, with no later change of the link,
is pushed again by the next poll; a much-failed push waiting on its backoff (up to the
15-minute cap, longer than the poll period) is made due by the poll.
"""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest

from syncengine.domain.backoff import BackoffPolicy
from syncengine.jira.simulator.seed import SeedUsers
from syncengine.store.outbox import State
from tests.integration.sync.harness import SyncWorld, sync_world
from tests.integration.sync.test_regressions import comments, crash, fixed_in

ASSIGN = "PUT /issue/*/assignee"


def assignee(world: SyncWorld, key: str) -> str | None:
    found = world.sim.issue(key).fields.get("assignee")
    return None if found is None else str(found)


async def test_a_push_dead_after_its_attempts_is_pushed_again_by_the_next_poll(
    database_url: str, tmp_path: Path
) -> None:
    async with sync_world(database_url, tmp_path, jira={"max_retries": 0}) as world:
        gid, key = await world.linked_group("exhausted")
        world.container.worker.policy = BackoffPolicy(max_attempts=2)
        world.sim.add_fault(kind="error", status=500, route=ASSIGN)
        await world.container.changes.assign(gid, SeedUsers.alice, actor="ann@x.io")
        for _ in range(3):
            await world.drain()
            world.clock.now += timedelta(hours=1)  # past any backoff
        [dead] = await world.container.outbox.list(project_id=world.project_id)
        assert (dead.state, dead.attempts, dead.payload["exhausted"]) == (State.DEAD, 2, True)
        world.sim.clear_faults()
        assert assignee(world, key) is None  # nothing changes after this on either side
        result = await world.sync.poller.run("shop", force=True)
        assert result.requeued == 1
        await world.settle()
        alice = world.sim.user(SeedUsers.alice).account_id
        assert assignee(world, key) == alice
        assert (await world.group(gid)).assignee == SeedUsers.alice
        left = await world.container.outbox.list(project_id=world.project_id)
        assert [(i.id, i.state) for i in left] == [(dead.id, State.DEAD)]  # for the operator
        # Repaired: the next poll queues nothing again.
        assert (await world.sync.poller.run("shop", force=True)).requeued == 0


async def test_a_much_failed_push_is_due_at_the_next_poll_not_at_its_backoff(
    database_url: str, tmp_path: Path
) -> None:
    async with sync_world(database_url, tmp_path, jira={"max_retries": 0}) as world:
        gid, key = await world.linked_group("backed-off")
        world.container.worker.rng = random.Random(7)
        world.sim.add_fault(kind="error", status=500, route=ASSIGN)
        await world.container.changes.assign(gid, SeedUsers.bob, actor="ann@x.io")
        for _ in range(12):
            await world.drain()
            [item] = await world.container.outbox.list(project_id=world.project_id)
            if item.attempts >= 6 and item.next_attempt_at - world.clock() > timedelta(minutes=5):
                break
            world.clock.now = item.next_attempt_at + timedelta(seconds=1)
        assert item.state == State.PENDING
        assert item.next_attempt_at - world.clock() > timedelta(minutes=5), item
        world.sim.clear_faults()
        world.clock.now += timedelta(seconds=61)  # one poll period, far less than the backoff
        result = await world.sync.poller.run("shop", force=True)
        assert result.woken == 1
        await world.settle()  # at the poll's time: no backoff has passed
        assert assignee(world, key) == world.sim.user(SeedUsers.bob).account_id
        assert await world.container.outbox.list(project_id=world.project_id) == []


@pytest.mark.parametrize(
    ("failing", "detached"),
    [("POST /issue", True), ("PUT /issue/*", False)],
    ids=["create", "detach"],
)
async def test_a_replacement_dead_after_its_attempts_is_resumed_by_the_next_poll(
    database_url: str, tmp_path: Path, failing: str, detached: bool
) -> None:
    # A regression files a new issue (the old one is detached first); Jira fails every
    # create (or the detach) until the item runs out of attempts. The next poll resumes
    # the replacement, not a push: that would find no link (the old issue detached) or
    # update the old issue instead of filing the new one.
    async with sync_world(
        database_url, tmp_path, regression_action="new_issue", jira={"max_retries": 0}
    ) as world:
        await world.linked_group("bystander")  # the poll asks Jira about linked issues only
        gid, old = await world.linked_group("replaced")
        await fixed_in(world, old, "2.3.0")
        world.container.worker.policy = BackoffPolicy(max_attempts=2)
        world.sim.add_fault(kind="error", status=500, route=failing)
        await crash(world, "replaced", "2.4.0")
        for _ in range(3):
            await world.drain()
            world.clock.now += timedelta(hours=1)  # past any backoff
        items = await world.container.outbox.list(project_id=world.project_id)
        [dead] = [i for i in items if i.state == State.DEAD]
        assert (dead.kind, dead.payload["exhausted"], dead.payload["new_issue_for"]) == (
            "link.regression",
            True,
            old,
        )
        link = await world.container.links.for_group(gid)
        assert (link is None) is detached
        world.sim.clear_faults()
        result = await world.sync.poller.run("shop", force=True)
        assert result.requeued == 1
        await world.settle()
        link = await world.container.links.for_group(gid)
        assert link is not None
        assert link.issue_key != old
        assert world.status(old) == "Done"  # the old issue stays closed
        [note] = comments(world, link.issue_key)
        assert f"Previously tracked in {old}" in note
        assert len(world.sim.issues("CRASH")) == 3  # the bystander's, the old and one new
        # Repaired: the next poll queues nothing again.
        assert (await world.sync.poller.run("shop", force=True)).requeued == 0
