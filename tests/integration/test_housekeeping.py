"""Retention and create-screen re-validation."""

from __future__ import annotations

from datetime import timedelta

from syncengine.store.outbox import State
from syncengine.store.retention import RetentionRepository
from syncengine.sync.housekeeping import Housekeeping
from tests.integration.lifecycle_harness import Clock, crash, engine, ingest


def _housekeeping(container: object, clock: Clock) -> Housekeeping:
    assert any(j.name == "retention" for j in container.jobs)  # type: ignore[attr-defined]
    return Housekeeping(
        retention=RetentionRepository(container.db),  # type: ignore[attr-defined]
        cursors=container.cursors,  # type: ignore[attr-defined]
        tickets=container.tickets,  # type: ignore[attr-defined]
        clock=clock,
        retention_days=14,
        longest_window_minutes=0,
        projects=["shop"],
        is_active=lambda slug: _active(container, slug),
    )


async def _active(container: object, slug: str) -> bool:
    record = await container.projects.get(slug)  # type: ignore[attr-defined]
    return bool(record and record.integration_active)


async def test_retention_drops_old_done_items_only(database_url: str) -> None:
    clock = Clock()
    container, _ = await engine(database_url, clock)
    try:
        await ingest(container, [crash("r1"), crash("r2")])
        await container.worker.drain()
        await container.projects.set_active("shop", False, actor="t", now=clock())
        await ingest(container, [crash("r3")])  # pending: never deleted
        clock.advance(timedelta(days=15).total_seconds())
        removed = await _housekeeping(container, clock).retention()
        assert removed["outbox"] == 2  # the two done creates; the pending one stays
        left = await container.outbox.list(states=(State.PENDING, State.DONE))
        assert [i.state for i in left] == [State.PENDING]
    finally:
        await container.aclose()


async def test_revalidation_reports_drift_and_skips_passive(database_url: str) -> None:
    clock = Clock()
    container, sim = await engine(database_url, clock, jira={"custom_fields": {}})
    try:
        housekeeping = _housekeeping(container, clock)
        await housekeeping.revalidate()
        assert any("customfield_10050" in p for p in housekeeping.problems["shop"])
        await container.projects.set_active("shop", False, actor="t", now=clock())
        before = sim.calls()
        await housekeeping.revalidate()
        assert sim.calls() == before
    finally:
        await container.aclose()
