"""When to try a failed Jira action again: exponential backoff with full jitter.

``retry_at`` is a pure decision: the random source and the time are arguments.
A delay Jira asked for (``Retry-After``) is honoured as a floor, never shortened.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["BackoffPolicy", "GiveUp", "RetryAt", "next_attempt"]


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
    ceiling = min(policy.max_seconds, policy.base_seconds * 2 ** max(attempts - 1, 0))
    delay = rng.uniform(0, ceiling)  # full jitter spreads a herd of retries apart
    if retry_after is not None:
        delay = max(delay, retry_after)
    return RetryAt(when=now + timedelta(seconds=delay), delay_seconds=delay)
