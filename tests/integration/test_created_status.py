"""A new ticket's Jira status is known from its creation, not only after the first poll."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from syncengine.bootstrap import Container
from syncengine.jira.simulator import Simulator
from tests.integration.lifecycle_harness import Clock, crash, engine, ingest


@asynccontextmanager
async def _lagging(database_url: str) -> AsyncIterator[tuple[Container, Simulator]]:
    """An engine on a Jira whose search shows writes 5 minutes late (no poll could see them)."""
    clock = Clock()
    container, sim = await engine(database_url, clock, clock.simulator(search_lag=300))
    try:
        yield container, sim
    finally:
        await container.aclose()


async def _assert_status_known(container: Container, sim: Simulator, group_id: int) -> None:
    link = await container.links.for_group(group_id)
    assert link is not None
    (issue,) = [i for i in sim.issues("CRASH") if i.key == link.issue_key]
    assert link.snapshot.status == sim.state.statuses[issue.status_id].name == "To Do"


async def test_a_created_ticket_shows_its_status_before_any_poll(database_url: str) -> None:
    async with _lagging(database_url) as (container, sim):
        (accepted,) = await ingest(container, [crash("fp-status")])
        await container.worker.drain()
        await _assert_status_known(container, sim, accepted.group_id)
        assert sim.calls("POST /search/jql") == 0  # read with GET, not the lagging search


async def test_bulk_created_tickets_show_their_status(database_url: str) -> None:
    async with _lagging(database_url) as (container, sim):
        accepted = await ingest(container, [crash(f"fp-{n}") for n in range(6)])
        await container.worker.drain()
        assert sim.calls("POST /issue/bulk") >= 1
        for item in accepted:
            await _assert_status_known(container, sim, item.group_id)
        assert sim.calls("GET /issue/{issueIdOrKey}") <= 1  # not one GET per issue
