"""A Jira user whose e-mail Cloud hides is the same person in every engine process.

One process pushes the assignee (it looked the user up by e-mail); another, which never
did, merges a later Jira change: Jira shows only the account id, and that must read as
the group's own assignee, not as a Jira change to ``jira:<id>``.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from syncengine.bootstrap import bootstrap
from syncengine.domain.groups import GroupState
from syncengine.jira.simulator.seed import SeedUsers
from syncengine.web import create_app
from tests.integration.sync.harness import settings_for, sync_world


async def test_a_hidden_email_assignee_is_no_change_for_another_process(
    database_url: str, tmp_path: Path
) -> None:
    async with sync_world(database_url, tmp_path / "a") as world:  # process A
        world.sim.state.hidden_emails = True
        gid, key = await world.linked_group("hidden")
        await world.container.changes.assign(gid, SeedUsers.alice, actor="ann@x.io")
        await world.settle()  # A looked alice up and pushed her; the echo is A's
        alice = world.sim.user(SeedUsers.alice).account_id
        assert world.sim.issue(key).fields["assignee"] == alice
        other = await bootstrap(  # process B, which never looked anyone up
            settings_for(database_url, tmp_path / "b"),
            migrate=False,
            clock=world.clock,
            jira_transport=world.sim.transport(),
        )
        try:
            world.sim.webhooks.transport = httpx.ASGITransport(app=create_app(other.web))
            await world.human_transition(key, "Start Progress")
            await world.deliver()  # B merges: Jira's assignee is only an account id
            await other.worker.drain()
            await world.settle()
        finally:
            await other.aclose()
        assert await world.state(gid) is GroupState.IN_PROGRESS
        group = await world.group(gid)
        assert group.assignee == SeedUsers.alice
        applied = await world.audit(gid, "sync.apply")
        assert [a for a in applied if a.get("field") == "assignee"] == []
        assert world.sim.issue(key).fields["assignee"] == alice
