"""When to retry a Jira request, how long to wait, and how fast to go.

Decisions are values (:class:`RetryDecision`); the session performs them. Time
is injected (``clock``, ``sleep``, ``random``) so tests run instantly.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

from syncengine.domain.backoff import backoff_ceiling
from syncengine.domain.budget import BudgetLimits
from syncengine.jira.budget import LocalBudget, SiteBudget

__all__ = [
    "DEFAULT_MAX_RETRY_AFTER",
    "BudgetFactory",
    "Clock",
    "RetryDecision",
    "RetryPolicy",
    "SiteLimiter",
    "SiteLimiters",
    "Sleep",
    "rate_limit_backoff",
    "retry_after_seconds",
]

Sleep = Callable[[float], Awaitable[None]]
DEFAULT_MAX_RETRY_AFTER = 3600.0
"""The longest wait a Retry-After is honoured for (``jira.max_retry_after_seconds``)."""
Clock = Callable[[], float]

# Statuses a repeat of the same request may cure.
_RETRY_ANY_METHOD = {429, 503}  # Jira refused before doing anything
_RETRY_IDEMPOTENT = {500, 502, 504}  # the work may have been done: only repeat safe requests


RATE_LIMIT_FIRST_SECONDS = 5.0
RATE_LIMIT_MAX_SECONDS = 30.0


def rate_limit_backoff(attempt: int, random: Callable[[], float]) -> float:
    """The wait after a 429 that named no ``Retry-After``: Atlassian's advice for Cloud.

    5 s, doubling towards 30 s, each times a jitter of 0.7-1.3 but never under 5 s
    (a quick retry only spends more of the rate budget every process shares).
    """
    ceiling = min(RATE_LIMIT_MAX_SECONDS, RATE_LIMIT_FIRST_SECONDS * 2.0 ** max(attempt - 1, 0))
    return max(RATE_LIMIT_FIRST_SECONDS, ceiling * (0.7 + 0.6 * random()))


def retry_after_seconds(
    headers: Mapping[str, str], now: datetime, *, cap: float = DEFAULT_MAX_RETRY_AFTER
) -> float | None:
    """Seconds Jira asked us to wait: ``Retry-After`` (seconds or HTTP date), else
    ``X-RateLimit-Reset`` (ISO timestamp); at most ``cap``. None when neither is usable.

    Total: whatever the header holds (``1e12``, ``inf``, ``nan``, ``-5``, a date in
    year 9999, text) the answer is None or a finite number in ``[0, cap]``. An
    unreadable value (``nan``, text) counts as absent (the ordinary backoff applies); a
    negative delay or a date in the past as 0. ``now`` is the aware current time, used
    to turn dates into delays.
    """
    lowered = {k.lower(): v.strip() for k, v in headers.items()}
    value = lowered.get("retry-after", "")
    seconds = _delay_seconds(value) if value else None
    if seconds is None and value:
        seconds = _until(_http_date(value), now)
    if seconds is None:
        reset = lowered.get("x-ratelimit-reset", "")
        seconds = _until(_iso_time(reset), now) if reset else None
    return None if seconds is None else min(seconds, cap)


def _delay_seconds(value: str) -> float | None:
    # RFC 9110 says digits; Jira and proxies send "1.5" too. float() also takes "inf",
    # "nan" and "1e12": nan is no delay, the others are capped by the caller.
    try:
        seconds = float(value)
    except ValueError:
        return None
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)  # may be inf: the caller caps it


def _http_date(value: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def _iso_time(value: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def _until(when: datetime | None, now: datetime) -> float | None:
    if when is None:
        return None
    try:
        return max(0.0, (when - now).total_seconds())
    except OverflowError:
        return math.inf


@dataclass(frozen=True, kw_only=True)
class RetryDecision:
    """Whether to send the request again, after how many seconds, and why."""

    action: Literal["retry", "give_up", "outcome_unknown"]
    delay: float = 0.0
    reason: str = ""

    @property
    def retry(self) -> bool:
        """True when the request should be sent again after ``delay``."""
        return self.action == "retry"


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter; Jira's own wait wins when given.

    ``attempt`` counts the failed tries so far, starting at 1.
    """

    max_retries: int = 5
    base_delay: float = 0.5
    max_delay: float = 60.0

    def backoff(self, attempt: int, random: Callable[[], float]) -> float:
        """Full jitter: uniform in [0, min(max_delay, base * 2**(attempt-1)))."""
        return random() * backoff_ceiling(attempt, base=self.base_delay, cap=self.max_delay)

    def for_status(
        self,
        status: int,
        *,
        attempt: int,
        idempotent: bool,
        retry_after: float | None,
        random: Callable[[], float],
    ) -> RetryDecision:
        """The decision for an HTTP answer with ``status``."""
        if status not in _RETRY_ANY_METHOD | _RETRY_IDEMPOTENT:
            return RetryDecision(action="give_up", reason=f"{status} is not transient")
        if status in _RETRY_IDEMPOTENT and not idempotent:
            return RetryDecision(
                action="outcome_unknown", reason=f"{status} after a non-idempotent request"
            )
        if attempt > self.max_retries:
            return RetryDecision(action="give_up", reason=f"{self.max_retries} retries used")
        if retry_after is not None:
            if retry_after > self.max_delay:
                # Waiting this long inside one call would hold a worker; let the
                # caller reschedule with the error's retry_after instead.
                return RetryDecision(action="give_up", reason=f"Jira asked for {retry_after:g}s")
            return RetryDecision(action="retry", delay=retry_after, reason="Retry-After")
        delay = (
            rate_limit_backoff(attempt, random) if status == 429 else self.backoff(attempt, random)
        )
        return RetryDecision(action="retry", delay=delay, reason=f"{status} backoff")

    def for_transport_error(
        self,
        *,
        attempt: int,
        idempotent: bool,
        request_sent: bool,
        random: Callable[[], float],
    ) -> RetryDecision:
        """The decision after a timeout or connection failure.

        A request that may have reached Jira is repeated only when idempotent.
        """
        if request_sent and not idempotent:
            return RetryDecision(
                action="outcome_unknown", reason="sent, answer lost, not idempotent"
            )
        if attempt > self.max_retries:
            return RetryDecision(action="give_up", reason=f"{self.max_retries} retries used")
        return RetryDecision(
            action="retry", delay=self.backoff(attempt, random), reason="transport error"
        )


@dataclass(kw_only=True)
class SiteLimiter:
    """The concurrency limit (this process) and the request budget (the site) of one site.

    ``sleep`` is how a wait for the budget passes (``None``: the session's own sleep); a
    test on virtual time gives one that moves the budget's clock instead of waiting.
    """

    max_concurrency: int
    budget: SiteBudget
    sleep: Sleep | None = None
    semaphore: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.semaphore = asyncio.Semaphore(self.max_concurrency)

    @classmethod
    def build(
        cls,
        *,
        max_concurrency: int,
        requests_per_second: float,
        clock: Clock,
        sleep: Sleep,
        refresh_reserve: float = 0.5,
    ) -> SiteLimiter:
        """A limiter with this process's own budget on ``clock``, bursts of one second's
        worth of requests, its waits passing with ``sleep``."""
        limits = BudgetLimits.per_second(requests_per_second, refresh_reserve=refresh_reserve)
        return cls(
            max_concurrency=max_concurrency,
            budget=LocalBudget(limits=limits, clock=clock),
            sleep=sleep,
        )


BudgetFactory = Callable[[str, BudgetLimits], SiteBudget]
"""Builds the budget of a site (its address) with these limits: shared through the database
when several processes send to the site."""


@dataclass(kw_only=True)
class SiteLimiters:
    """One :class:`SiteLimiter` per site, shared by every client of that site.

    ``budgets`` builds each site's request budget (default: this process's own).
    """

    clock: Clock
    sleep: Sleep
    budgets: BudgetFactory | None = None
    _by_site: dict[str, SiteLimiter] = field(default_factory=dict)

    def for_site(
        self,
        site: str,
        *,
        max_concurrency: int,
        requests_per_second: float,
        refresh_reserve: float = 0.5,
    ) -> SiteLimiter:
        """The limiter of ``site``, created with these limits the first time it is asked for."""
        limiter = self._by_site.get(site)
        if limiter is None:
            limits = BudgetLimits.per_second(requests_per_second, refresh_reserve=refresh_reserve)
            budget = (
                self.budgets(site, limits)
                if self.budgets is not None
                else LocalBudget(limits=limits, clock=self.clock)
            )
            limiter = SiteLimiter(max_concurrency=max_concurrency, budget=budget)
            self._by_site[site] = limiter
        return limiter
