"""Pushes whose answer Jira lost (the write landed, the connection dropped): the retry and
the echo know the value for the engine's own, whatever the engine wants meanwhile."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from syncengine.domain.groups import GroupState
from syncengine.jira.simulator.seed import SeedUsers
from tests.integration.sync.harness import sync_world

# Each PUT is tried twice: both tries land and lose their answer.
QUICK = {"max_retries": 1}


@pytest.mark.parametrize("policy", ["jira_wins", "engine_wins"])
async def test_a_retried_transition_knows_its_own_landed_value(
    database_url: str, tmp_path: Path, policy: str
) -> None:
    """Poll-only (no webhook secret): the retry runs before any echo is merged."""
    async with sync_world(database_url, tmp_path, secret=None, conflict_policy=policy) as world:
        gid, key = await world.linked_group("lost-state")
        await world.container.changes.set_state(gid, GroupState.RESOLVED, actor="a")
        world.sim.add_fault(
            kind="commit_then_fail", route="*transitions*", method="POST", drop=True, remaining=1
        )
        await world.drain()
        assert world.status(key) == "Done"  # landed, answer lost
        await world.container.changes.set_state(gid, GroupState.IN_PROGRESS, actor="a")
        world.clock.now += timedelta(hours=1)  # the retry falls due
        await world.settle()
        assert await world.audit(gid, "sync.conflict") == []
        assert await world.state(gid) is GroupState.IN_PROGRESS
        assert world.status(key) == "In Progress"


@pytest.mark.parametrize("policy", ["jira_wins", "engine_wins"])
async def test_a_retried_assignment_knows_its_own_landed_value(
    database_url: str, tmp_path: Path, policy: str
) -> None:
    async with sync_world(database_url, tmp_path, conflict_policy=policy, jira=QUICK) as world:
        gid, key = await world.linked_group("lost-assignee")
        await world.container.changes.assign(gid, SeedUsers.bob, actor="a")
        world.sim.add_fault(
            kind="commit_then_fail", route="*assignee*", method="PUT", drop=True, remaining=2
        )
        await world.drain()
        assert world.sim.issue(key).fields["assignee"] == world.sim.user(SeedUsers.bob).account_id
        assert await world.container.outbox.list(project_id=world.project_id), "no fault fired"
        await world.container.changes.assign(gid, SeedUsers.alice, actor="a")
        world.clock.now += timedelta(hours=1)
        await world.settle()
        assert await world.audit(gid, "sync.conflict") == []
        assert (await world.group(gid)).assignee == SeedUsers.alice
        assert world.sim.issue(key).fields["assignee"] == world.sim.user(SeedUsers.alice).account_id


async def test_the_echo_of_an_assignment_whose_every_try_lost_its_answer_is_ours(
    database_url: str, tmp_path: Path
) -> None:
    """Every try of the idempotent PUT landed; the session gave up on a passing error."""
    async with sync_world(database_url, tmp_path, conflict_policy="jira_wins", jira=QUICK) as world:
        gid, _ = await world.linked_group("lost-assign-echo")
        await world.container.changes.assign(gid, SeedUsers.bob, actor="a")
        world.sim.add_fault(
            kind="commit_then_fail", route="*assignee*", method="PUT", drop=True, remaining=2
        )
        await world.drain()
        [item] = await world.container.outbox.list(project_id=world.project_id)
        assert item.payload["pushing"] == {"assignee": SeedUsers.bob}  # still on its way
        await world.container.changes.assign(gid, SeedUsers.alice, actor="a")
        await world.deliver()  # the echo of our own bob
        assert (await world.group(gid)).assignee == SeedUsers.alice
        assert await world.audit(gid, "sync.conflict") == []
