"""When to try a failed Jira action again: exponential backoff with full jitter.

:func:`backoff_ceiling` is the one backoff formula: the outbox (:func:`next_attempt`,
between attempts of a work item) and the Jira client (``RetryPolicy``, between tries
of one call) both draw their delay uniformly below it.

``next_attempt`` is a pure decision: the random source and the time are arguments.
A delay Jira asked for (``Retry-After``) is honoured as a floor, never shortened.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["BackoffPolicy", "GiveUp", "RetryAt", "backoff_ceiling", "next_attempt"]

_MAX_DOUBLINGS = 64  # far past any cap; keeps 2**n a float and never an OverflowError


def backoff_ceiling(attempt: int, *, base: float, cap: float) -> float:
    """The longest wait after the ``attempt``-th failure (counted from 1).

    ``min(cap, base * 2 ** (attempt - 1))``: doubling from ``base``, never above ``cap``.
    """
    return min(cap, base * 2.0 ** min(max(attempt - 1, 0), _MAX_DOUBLINGS))


@dataclass(frozen=True, kw_only=True, slots=True)
class BackoffPolicy:
    """Bounds of the backoff: the first delay, the cap, and attempts before an item is dead."""

    base_seconds: float = 2.0
    max_seconds: float = 15 * 60.0
    max_attempts: int = 20


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryAt:
    """Try again at ``when``."""

    when: datetime
    delay_seconds: float


@dataclass(frozen=True, kw_only=True, slots=True)
class GiveUp:
    """Stop retrying: the item becomes dead, with ``reason`` shown to users."""

    reason: str


def next_attempt(
    *,
    attempts: int,
    transient: bool,
    retry_after: float | None,
    now: datetime,
    policy: BackoffPolicy,
    rng: random.Random,
) -> RetryAt | GiveUp:
    """Decide what happens to an item that failed on its ``attempts``-th try."""
    if not transient:
        return GiveUp(reason="permanent error")
    if attempts >= policy.max_attempts:
        return GiveUp(reason=f"gave up after {attempts} attempts")
    ceiling = backoff_ceiling(attempts, base=policy.base_seconds, cap=policy.max_seconds)
    delay = rng.uniform(0, ceiling)  # full jitter spreads a herd of retries apart
    if retry_after is not None:
        delay = max(delay, retry_after)
    return RetryAt(when=now + timedelta(seconds=delay), delay_seconds=delay)
