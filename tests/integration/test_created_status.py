"""A new ticket's Jira status is known from its creation, not only after the first poll."""

from __future__ import annotations

from syncengine.jira.simulator import Simulator
from tests.integration.lifecycle_harness import Clock, crash, engine, ingest


def _status(sim: Simulator, key: str) -> str:
    (issue,) = [i for i in sim.issues("CRASH") if i.key == key]
    return sim.state.statuses[issue.status_id].name


async def test_a_created_ticket_shows_its_status_before_any_poll(database_url: str) -> None:
    clock = Clock()
    sim = clock.simulator(search_lag=300)  # the poll could not see it yet anyway
    container, _ = await engine(database_url, clock, sim)
    try:
        (accepted,) = await ingest(container, [crash("fp-status")])
        await container.worker.drain()
        link = await container.links.for_group(accepted.group_id)
        assert link is not None
        assert link.snapshot.status == _status(sim, link.issue_key) == "To Do"
        assert sim.calls("POST /search/jql") == 0  # read with GET, not the lagging search
    finally:
        await container.aclose()


async def test_bulk_created_tickets_show_their_status(database_url: str) -> None:
    clock = Clock()
    sim = clock.simulator(search_lag=300)
    container, _ = await engine(database_url, clock, sim)
    try:
        accepted = await ingest(container, [crash(f"fp-{n}") for n in range(6)])
        await container.worker.drain()
        assert sim.calls("POST /issue/bulk") >= 1
        for item in accepted:
            link = await container.links.for_group(item.group_id)
            assert link is not None
            assert link.snapshot.status == _status(sim, link.issue_key) == "To Do"
        assert sim.calls("GET /issue/{issueIdOrKey}") <= 1  # not one GET per issue
    finally:
        await container.aclose()
