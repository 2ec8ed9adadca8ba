"""Jira Cloud's published rate limits: burst per endpoint and method, and per issue on write.

Sliding windows on the simulator's clock, so tests move time instead of
sleeping. A refused call is not counted against the window (Jira does the same:
only served requests consume quota).
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from syncengine.jira.simulator.clock import Clock

__all__ = ["LimitsConfig", "RateLimiter", "Throttle"]


def _burst_defaults() -> dict[str, int]:
    return {"GET": 100, "POST": 100, "PUT": 50, "DELETE": 50}


@dataclass(frozen=True, kw_only=True)
class LimitsConfig:
    """The limits the simulator enforces (Jira Cloud's defaults).

    ``burst_per_second`` is per operation and method; ``issue_write_windows``
    are (writes, seconds) pairs per issue; ``html_429_ratio`` is the share of
    429 answers sent as an HTML page instead of JSON.
    """

    enabled: bool = True
    burst_per_second: dict[str, int] = field(default_factory=_burst_defaults)
    issue_write_windows: tuple[tuple[int, float], ...] = ((20, 2.0), (100, 30.0))
    html_429_ratio: float = 0.25
    bulk_create_max: int = 50
    search_max_with_fields: int = 100
    search_max_ids_only: int = 5000
    dc_search_max: int = 1000


@dataclass(frozen=True, kw_only=True)
class Throttle:
    """A refusal: why, the limit, and when to come back."""

    reason: str
    limit: int
    retry_after: int
    reset: datetime


class RateLimiter:
    """Counts calls in sliding windows and says when one must be refused."""

    def __init__(self, config: LimitsConfig, clock: Clock) -> None:
        self.config = config
        self._clock = clock
        self._calls: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._writes: dict[str, deque[float]] = defaultdict(deque)

    def _window(
        self, log: deque[float], limit: int, seconds: float, reason: str
    ) -> Throttle | None:
        now = self._clock.monotonic()
        while log and log[0] <= now - seconds:
            log.popleft()
        if len(log) < limit:
            return None
        wait = log[-limit] + seconds - now
        return Throttle(
            reason=reason,
            limit=limit,
            retry_after=max(1, math.ceil(wait)),
            reset=self._clock.now() + timedelta(seconds=wait),
        )

    def check_burst(self, operation: str, method: str) -> Throttle | None:
        """Refuse past the per-second budget of ``operation``; else record the call."""
        limit = self.config.burst_per_second.get(method.upper())
        if not self.config.enabled or not limit:
            return None
        log = self._calls[(operation, method.upper())]
        throttle = self._window(log, limit, 1.0, "jira-burst-based")
        if throttle is None:
            log.append(self._clock.monotonic())
        return throttle

    def check_issue_write(self, issue_id: str) -> Throttle | None:
        """Refuse a write to ``issue_id`` past any per-issue window; else record it."""
        if not self.config.enabled:
            return None
        log = self._writes[issue_id]
        longest = max((s for _, s in self.config.issue_write_windows), default=0.0)
        for limit, seconds in self.config.issue_write_windows:
            view = deque(t for t in log if t > self._clock.monotonic() - seconds)
            throttle = self._window(view, limit, seconds, "jira-per-issue-on-write")
            if throttle is not None:
                return throttle
        now = self._clock.monotonic()
        while log and log[0] <= now - longest:
            log.popleft()
        log.append(now)
        return None

    def reset(self) -> None:
        self._calls.clear()
        self._writes.clear()
