"""Backoff decisions: full jitter, bounded, Retry-After as a floor, permanent gives up."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from syncengine.domain.backoff import BackoffPolicy, GiveUp, RetryAt, backoff_ceiling, next_attempt

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


@given(attempt=st.integers(1, 5000), base=st.floats(0.01, 10), cap=st.floats(1, 3600))
def test_one_formula_for_the_outbox_and_the_jira_client(
    attempt: int, base: float, cap: float
) -> None:
    from syncengine.jira.retry import RetryPolicy

    ceiling = backoff_ceiling(attempt, base=base, cap=cap)
    assert ceiling == min(cap, base * 2.0 ** min(attempt - 1, 64))
    client = RetryPolicy(base_delay=base, max_delay=cap)
    assert client.backoff(attempt, lambda: 1.0) == ceiling  # long-lived failures stay capped

    class Top(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    policy = BackoffPolicy(base_seconds=base, max_seconds=cap, max_attempts=attempt + 1)
    decision = next_attempt(
        attempts=attempt, transient=True, retry_after=None, now=NOW, policy=policy, rng=Top()
    )
    assert isinstance(decision, RetryAt)
    assert decision.delay_seconds == ceiling
