"""The request budget of one Jira site: rate, priorities, pauses and shedding."""

from __future__ import annotations

import pytest

from syncengine.domain.budget import (
    BudgetLimits,
    BudgetState,
    Grant,
    Priority,
    Shed,
    Wait,
    near_limit,
    pause,
    take,
)

LIMITS = BudgetLimits.per_second(10.0)


def _drain(state: BudgetState, priority: Priority, now: float) -> tuple[BudgetState, int]:
    granted = 0
    while True:
        state, decision = take(state, LIMITS, priority=priority, now=now)
        if not isinstance(decision, Grant):
            return state, granted
        granted += 1


def test_a_full_bucket_grants_one_second_of_requests_then_paces_them() -> None:
    state, granted = _drain(BudgetState.full(LIMITS, 0.0), Priority.CREATE, 0.0)
    assert granted == 10
    state, decision = take(state, LIMITS, priority=Priority.CREATE, now=0.0)
    assert decision == Wait(pytest.approx(0.1), "request budget")
    # Over 10 s at the rate, never more than rate x time + the burst.
    total, now = granted, 0.0
    while now < 10.0:
        now += 0.01
        state, got = _drain(state, Priority.CREATE, now)
        total += got
    assert total <= 10 * 10 + 10
    assert total >= 10 * 10


def test_refreshes_leave_the_reserve_to_creates_and_state_sync() -> None:
    state = BudgetState(tokens=4.0, updated=0.0)
    # A refresh needs the bucket fuller than half (1 + 0.5 x 9 = 5.5 tokens).
    _, decision = take(state, LIMITS, priority=Priority.REFRESH, now=0.0)
    assert isinstance(decision, Wait)
    assert decision.seconds == pytest.approx(0.15)
    for priority in (Priority.SYNC, Priority.CREATE):
        _, decision = take(state, LIMITS, priority=priority, now=0.0)
        assert decision == Grant()
    low = BudgetState(tokens=1.5, updated=0.0)
    assert take(low, LIMITS, priority=Priority.CREATE, now=0.0)[1] == Grant()
    assert isinstance(take(low, LIMITS, priority=Priority.SYNC, now=0.0)[1], Wait)


def test_a_pause_holds_every_priority_and_sheds_refreshes() -> None:
    state = pause(BudgetState.full(LIMITS, 0.0), now=0.0, seconds=5.0)
    assert take(state, LIMITS, priority=Priority.CREATE, now=1.0)[1] == Wait(4.0, "paused by a 429")
    assert take(state, LIMITS, priority=Priority.SYNC, now=1.0)[1] == Wait(4.0, "paused by a 429")
    assert take(state, LIMITS, priority=Priority.REFRESH, now=1.0)[1] == Shed(
        4.0, "paused by a 429"
    )
    assert take(state, LIMITS, priority=Priority.CREATE, now=5.0)[1] == Grant()
    # A shorter pause never shortens a longer one.
    assert pause(state, now=1.0, seconds=1.0).paused_until == 5.0


def test_the_bucket_does_not_refill_while_paused() -> None:
    state, _ = _drain(BudgetState.full(LIMITS, 0.0), Priority.CREATE, 0.0)
    state = pause(state, now=0.0, seconds=30.0)
    state, granted = _drain(state, Priority.CREATE, 30.0)
    assert granted == 0  # no burst of every waiting process the moment it ends
    state, granted = _drain(state, Priority.CREATE, 31.0)
    assert granted == 10


def test_near_the_limit_refreshes_are_shed_and_creates_still_go() -> None:
    state = near_limit(BudgetState.full(LIMITS, 0.0), now=0.0, seconds=60.0)
    assert take(state, LIMITS, priority=Priority.REFRESH, now=10.0)[1] == Shed(
        50.0, "Jira says near its limit"
    )
    assert take(state, LIMITS, priority=Priority.CREATE, now=10.0)[1] == Grant()
    assert take(state, LIMITS, priority=Priority.SYNC, now=10.0)[1] == Grant()
    assert take(state, LIMITS, priority=Priority.REFRESH, now=60.0)[1] == Grant()


def test_a_clock_that_goes_back_refills_nothing() -> None:
    state = BudgetState(tokens=0.0, updated=100.0)
    state, decision = take(state, LIMITS, priority=Priority.CREATE, now=50.0)
    assert isinstance(decision, Wait)
    assert state.tokens == 0.0


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="rate"):
        BudgetLimits(rate=0, capacity=1)
    with pytest.raises(ValueError, match="reserves"):
        BudgetLimits(rate=1, capacity=1, refresh_reserve=0.1, sync_reserve=0.5)
    assert BudgetLimits.per_second(0.2).capacity == 1.0
    assert BudgetLimits.per_second(0.2).needed(Priority.REFRESH) == 1.0
