"""The Jira request budget shared through PostgreSQL, as two processes see it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import create_engine, text

from syncengine.domain.budget import BudgetLimits, Grant, Priority, Shed, Wait
from syncengine.store.database import Database, sync_url
from syncengine.store.jira_budget import LOCK_WAIT_MS, SharedBudgets
from tests.conftest import _truncate_postgres

pytestmark = pytest.mark.postgres
SITE = "https://acme.atlassian.net"
LIMITS = BudgetLimits.per_second(5.0)


@pytest.fixture
async def two_processes(postgres_url: str) -> AsyncIterator[tuple[Database, Database]]:
    _truncate_postgres(postgres_url)
    first, second = Database(postgres_url), Database(postgres_url)
    try:
        yield first, second
        assert first.checked_out() == second.checked_out() == 0
    finally:
        await first.aclose()
        await second.aclose()


async def test_two_processes_share_one_bucket(two_processes: tuple[Database, Database]) -> None:
    slow = BudgetLimits(rate=0.01, capacity=5)  # nothing refills while the test runs
    first = SharedBudgets(two_processes[0])(SITE, slow)
    second = SharedBudgets(two_processes[1])(SITE, slow)
    granted = 0
    for budget in (first, second) * 10:
        if isinstance(await budget.take(Priority.CREATE), Grant):
            granted += 1
    assert granted == 5  # one burst between them, not two
    assert isinstance(await first.take(Priority.CREATE), Wait)
    other = SharedBudgets(two_processes[1])("https://other.atlassian.net", LIMITS)
    assert isinstance(await other.take(Priority.CREATE), Grant)


async def test_a_pause_one_process_records_holds_the_other(
    two_processes: tuple[Database, Database],
) -> None:
    first = SharedBudgets(two_processes[0])(SITE, LIMITS)
    second = SharedBudgets(two_processes[1])(SITE, LIMITS)
    assert isinstance(await second.take(Priority.SYNC), Grant)
    await first.pause(30.0)
    waited = await second.take(Priority.CREATE)
    assert isinstance(waited, Wait)
    assert 29.0 < waited.seconds <= 30.0
    assert isinstance(await second.take(Priority.REFRESH), Shed)


async def test_near_the_limit_one_process_sheds_the_others_refreshes(
    two_processes: tuple[Database, Database],
) -> None:
    first = SharedBudgets(two_processes[0])(SITE, LIMITS)
    second = SharedBudgets(two_processes[1])(SITE, LIMITS)
    await first.near_limit(60.0)
    assert isinstance(await second.take(Priority.REFRESH), Shed)
    assert isinstance(await second.take(Priority.CREATE), Grant)


async def test_an_unreachable_database_leaves_a_budget_of_its_own() -> None:
    db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        budget = SharedBudgets(db)(SITE, LIMITS)
        decisions = [await budget.take(Priority.CREATE) for _ in range(6)]
        assert decisions[:5] == [Grant()] * 5
        assert isinstance(decisions[5], Wait)
        await budget.pause(10.0)
        assert isinstance(await budget.take(Priority.REFRESH), Shed)
    finally:
        await db.aclose()


async def test_a_stalled_holder_of_the_budget_row_does_not_stall_the_others(
    two_processes: tuple[Database, Database], postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A process stopped inside its take (SIGSTOP, a paused VM) keeps the row locked.

    The others wait at most the lock timeout, then keep to the rate on their own; once
    the lock is free they share the bucket again.
    """
    slow = BudgetLimits(rate=0.01, capacity=3)
    first = SharedBudgets(two_processes[0])(SITE, slow)
    second = SharedBudgets(two_processes[1])(SITE, slow)
    assert isinstance(await first.take(Priority.CREATE), Grant)  # the row exists: 2 left
    stalled = create_engine(sync_url(postgres_url))
    try:
        with stalled.connect() as conn:
            conn.execute(
                text("SELECT tokens FROM jira_budgets WHERE site = :s FOR UPDATE"), {"s": SITE}
            )
            started = time.monotonic()
            decisions = [
                await asyncio.wait_for(second.take(Priority.CREATE), timeout=10) for _ in range(4)
            ]
            waited = time.monotonic() - started
            conn.rollback()
    finally:
        stalled.dispose()
    # Its own bucket (full: 3), not the shared one's 2; each take waited for the lock once.
    assert decisions[:3] == [Grant()] * 3
    assert isinstance(decisions[3], Wait)
    assert waited < 4 * (LOCK_WAIT_MS / 1000) + 4
    assert "held by a stalled process (LockNotAvailable)" in caplog.text
    caplog.clear()
    # The lock is free again: the shared bucket (2 left) decides, and says so.
    assert [await second.take(Priority.CREATE) for _ in range(2)] == [Grant()] * 2
    assert isinstance(await first.take(Priority.CREATE), Wait)
    assert "reachable again" in caplog.text
