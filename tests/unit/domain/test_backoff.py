"""Backoff decisions: full jitter, bounded, Retry-After as a floor, permanent gives up."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from syncengine.domain.backoff import BackoffPolicy, GiveUp, RetryAt, next_attempt

NOW = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = BackoffPolicy(base_seconds=2, max_seconds=60, max_attempts=10)


def test_permanent_errors_give_up_at_once() -> None:
    decision = next_attempt(
        attempts=1, transient=False, retry_after=None, now=NOW, policy=POLICY, rng=random.Random(0)
    )
    assert decision == GiveUp(reason="permanent error")


def test_attempts_are_bounded() -> None:
    decision = next_attempt(
        attempts=10, transient=True, retry_after=None, now=NOW, policy=POLICY, rng=random.Random(0)
    )
    assert isinstance(decision, GiveUp)


@given(
    attempts=st.integers(1, 9),
    seed=st.integers(0, 2**32),
    retry_after=st.one_of(st.none(), st.floats(0, 3600)),
)
def test_delay_within_bounds_and_honours_retry_after(
    attempts: int, seed: int, retry_after: float | None
) -> None:
    decision = next_attempt(
        attempts=attempts,
        transient=True,
        retry_after=retry_after,
        now=NOW,
        policy=POLICY,
        rng=random.Random(seed),
    )
    assert isinstance(decision, RetryAt)
    ceiling = min(60, 2 * 2 ** (attempts - 1))
    assert decision.delay_seconds <= max(ceiling, retry_after or 0)
    if retry_after is not None:
        assert decision.delay_seconds >= retry_after
    assert decision.when == NOW + timedelta(seconds=decision.delay_seconds)
