"""The JQL poll: covers silent webhooks, costs one call when nothing changed, skips seen issues."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from syncengine.domain.groups import GroupState
from syncengine.sync.poller import poll_jql
from tests.integration.sync.harness import sync_world


async def test_poll_covers_for_silent_webhooks(database_url: str, tmp_path: Path) -> None:
    async with sync_world(database_url, tmp_path, webhook_silence_seconds=600) as world:
        gid, key = await world.linked_group("polled")
        await world.human_transition(key, "Start Progress")
        world.sim.webhooks.deliveries.clear()  # the webhook is lost
        first = await world.sync.poller.run("shop")  # never polled yet: due
        assert first.skipped is None
        assert first.synced == 1
        assert await world.state(gid) is GroupState.IN_PROGRESS
        again = await world.sync.poller.run("shop")
        assert again.skipped == "webhooks are live"
        world.clock.now += timedelta(seconds=601)
        assert (await world.sync.poller.run("shop")).skipped is None


async def test_poll_costs_one_call_when_nothing_changed(database_url: str, tmp_path: Path) -> None:
    async with sync_world(database_url, tmp_path) as world:
        gid, key = await world.linked_group("quiet")
        for _ in range(3):
            await world.linked_group(f"other-{_}")
        await world.sync.poller.run("shop", force=True)
        before = world.sim.calls()
        result = await world.sync.poller.run("shop", force=True)
        assert world.sim.calls() - before == 1
        assert (result.pages, result.synced) == (1, 0)  # the overlap's issues were seen before
        await world.human_transition(key, "Start Progress")
        world.sim.webhooks.deliveries.clear()
        before = world.sim.calls()
        result = await world.sync.poller.run("shop", force=True)
        assert world.sim.calls() - before == 1  # the search carries every field needed
        assert result.synced == 1
        assert await world.state(gid) is GroupState.IN_PROGRESS


async def test_passive_project_is_not_polled(database_url: str, tmp_path: Path) -> None:
    async with sync_world(database_url, tmp_path) as world:
        await world.linked_group("passive")
        await world.container.projects.set_active("shop", False, actor="op", now=world.clock())
        before = world.sim.calls()
        result = await world.sync.poller.run("shop", force=True)
        assert result.skipped == "the integration is passive"
        assert world.sim.calls() == before


async def test_polling_is_due_by_webhook_liveness(database_url: str, tmp_path: Path) -> None:
    async with sync_world(database_url, tmp_path) as world:
        poller = world.sync.poller
        await world.linked_group("seen")  # its webhooks arrive
        assert (await poller.run("shop")).skipped is None  # never polled with links: due
        assert (await poller.run("shop")).skipped == "webhooks are live"


async def test_without_a_secret_polling_is_always_due(database_url: str, tmp_path: Path) -> None:
    async with sync_world(database_url, tmp_path, secret=None) as world:
        poller = world.sync.poller
        record = await world.container.projects.get("shop")
        assert record is not None
        now = world.clock()
        await world.container.cursors.update(record.id, last_webhook_at=now, last_poll_at=now)
        cursor = await world.container.cursors.get(record.id)
        assert poller.due("shop", cursor, now) is None  # no secret: every interval
        before = world.sim.calls()
        assert (await poller.run("shop")).skipped == "no linked issues"
        assert world.sim.calls() == before


def test_poll_jql_follows_moved_issues() -> None:
    assert poll_jql("CRASH", minutes=7) == (
        'project = "CRASH" AND updated >= "-7m" ORDER BY updated ASC'
    )
    assert poll_jql("CRASH", minutes=3, moved_ids=("10001", "10002")) == (
        '(project = "CRASH" OR id in (10001, 10002)) AND updated >= "-3m" ORDER BY updated ASC'
    )


async def test_poll_follows_an_issue_moved_to_another_project(
    database_url: str, tmp_path: Path
) -> None:
    async with sync_world(database_url, tmp_path) as world:
        gid, key = await world.linked_group("wanderer")
        moved = world.sim.move_issue(key, "SUP")
        await world.settle()  # the move's webhook stores the new key
        await world.human_transition(moved.key, "Start Progress")
        world.sim.webhooks.deliveries.clear()
        result = await world.sync.poller.run("shop", force=True)
        assert result.synced == 1
        assert await world.state(gid) is GroupState.IN_PROGRESS


async def test_poll_finds_an_issue_moved_away_while_webhooks_were_silent(
    database_url: str, tmp_path: Path
) -> None:
    async with sync_world(database_url, tmp_path) as world:
        gid, key = await world.linked_group("silent-wanderer")
        moved = world.sim.move_issue(key, "SUP")
        await world.human_transition(moved.key, "Start Progress")
        world.sim.webhooks.deliveries.clear()  # no webhook told the engine of the move
        result = await world.sync.poller.run("shop", force=True)
        assert result.synced == 1
        assert await world.state(gid) is GroupState.IN_PROGRESS
        link = await world.container.links.for_group(gid)
        assert link is not None
        assert link.issue_key == moved.key
        # Found by id: the next runs keep following it (and look no further).
        await world.human_transition(moved.key, "Done", resolution="Done")
        world.sim.webhooks.deliveries.clear()
        assert (await world.sync.poller.run("shop", force=True)).synced == 1
        assert await world.state(gid) is GroupState.RESOLVED


async def test_a_delivery_lost_while_no_process_ran_is_repaired_at_start(
    database_url: str, tmp_path: Path
) -> None:
    async with sync_world(database_url, tmp_path) as world:
        gid, key = await world.linked_group("restarted")
        assert (await world.sync.poller.run("shop")).skipped is None  # polled; webhooks live
        await world.human_transition(key, "Start Progress")
        world.sim.webhooks.deliveries.clear()  # Jira gave up on it while the engine was down
        # The schedule's poll would wait out the webhooks' silence period (900 s by default).
        assert (await world.sync.poller.run("shop")).skipped == "webhooks are live"
        world.container.start_background()
        for _ in range(400):
            if await world.state(gid) is GroupState.IN_PROGRESS:
                break
            await asyncio.sleep(0.025)
        assert await world.state(gid) is GroupState.IN_PROGRESS
