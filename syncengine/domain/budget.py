"""The Jira request budget of one site: who may send a request now, and who waits or is shed.

Pure decisions on a :class:`BudgetState` (a token bucket, a pause after a 429, a
near-limit flag from Jira's quota headers). Whoever holds the state — a process on
its own, or a PostgreSQL row every process shares — applies :func:`take`,
:func:`pause` and :func:`near_limit` and stores what they return. Times are seconds
on one clock that every user of the state shares.

Priorities: creates (and the lookups that settle them) go first, state sync next;
field and impact refreshes wait for more tokens, and are shed (not sent) while Jira
says the site is near its limit or a 429 paused it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum

__all__ = [
    "BudgetLimits",
    "BudgetState",
    "Grant",
    "Priority",
    "Shed",
    "Wait",
    "near_limit",
    "pause",
    "take",
]


class Priority(IntEnum):
    """How much a Jira request matters when the budget runs short (lower goes first)."""

    CREATE = 0
    """Creates, and the identity lookups that settle a create's unknown outcome."""
    SYNC = 1
    """State, assignee, fix versions, comments, the poll: the default."""
    REFRESH = 2
    """Field and crash-impact refreshes: wait for a fuller bucket, shed near the limit."""


@dataclass(frozen=True, kw_only=True)
class BudgetLimits:
    """The budget of one site: ``rate`` requests a second for every process together,
    bursts of up to ``capacity``. ``refresh_reserve`` is the share of the burst that
    refreshes leave for creates and state sync (0.5: a refresh goes only while the
    bucket is more than half full)."""

    rate: float
    capacity: float
    refresh_reserve: float = 0.5
    sync_reserve: float = 0.1

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.capacity < 1:
            raise ValueError("a request budget needs rate > 0 and capacity >= 1")
        if not 0 <= self.sync_reserve <= self.refresh_reserve <= 1:
            raise ValueError("reserves must satisfy 0 <= sync <= refresh <= 1")

    @classmethod
    def per_second(cls, rate: float, *, refresh_reserve: float = 0.5) -> BudgetLimits:
        """A budget whose burst is one second's worth of requests (at least one)."""
        return cls(
            rate=rate,
            capacity=max(1.0, rate),
            refresh_reserve=refresh_reserve,
            sync_reserve=min(0.1, refresh_reserve),
        )

    def needed(self, priority: Priority) -> float:
        """Tokens the bucket must hold for a request of ``priority`` to go."""
        reserve = {
            Priority.CREATE: 0.0,
            Priority.SYNC: self.sync_reserve,
            Priority.REFRESH: self.refresh_reserve,
        }[priority]
        return 1.0 + reserve * (self.capacity - 1.0)


@dataclass(frozen=True, kw_only=True)
class BudgetState:
    """The bucket (``tokens`` at ``updated``), the pause a 429 asked for, and until when
    Jira said the site is near its limit."""

    tokens: float
    updated: float
    paused_until: float = 0.0
    near_limit_until: float = 0.0

    @classmethod
    def full(cls, limits: BudgetLimits, now: float) -> BudgetState:
        """A new site's state: a full bucket."""
        return cls(tokens=limits.capacity, updated=now)


@dataclass(frozen=True)
class Grant:
    """Send the request now (one token was taken)."""


@dataclass(frozen=True)
class Wait:
    """Ask again after ``seconds``."""

    seconds: float
    reason: str


@dataclass(frozen=True)
class Shed:
    """Do not send this request: it is low priority and the site is near its limit.
    ``seconds`` is how long that is expected to last."""

    seconds: float
    reason: str


Decision = Grant | Wait | Shed


def _refilled(state: BudgetState, limits: BudgetLimits, now: float) -> BudgetState:
    elapsed = max(0.0, now - state.updated)
    tokens = min(limits.capacity, state.tokens + elapsed * limits.rate)
    return replace(state, tokens=tokens, updated=max(now, state.updated))


def take(
    state: BudgetState, limits: BudgetLimits, *, priority: Priority, now: float
) -> tuple[BudgetState, Decision]:
    """Whether a request of ``priority`` may go at ``now``, and the state after."""
    state = _refilled(state, limits, now)
    if priority >= Priority.REFRESH:
        blocked = max(state.paused_until, state.near_limit_until) - now
        if blocked > 0:
            why = "paused by a 429" if state.paused_until > now else "Jira says near its limit"
            return state, Shed(blocked, why)
    if state.paused_until > now:
        return state, Wait(state.paused_until - now, "paused by a 429")
    needed = limits.needed(priority)
    if state.tokens >= needed:
        return replace(state, tokens=state.tokens - 1.0), Grant()
    return state, Wait((needed - state.tokens) / limits.rate, "request budget")


def pause(state: BudgetState, *, now: float, seconds: float) -> BudgetState:
    """Every request waits ``seconds`` (a 429 from Jira). The bucket does not refill while
    paused, so the processes that waited do not all burst the moment the pause ends."""
    until = max(state.paused_until, now + max(0.0, seconds))
    return replace(state, paused_until=until, updated=max(state.updated, until))


def near_limit(state: BudgetState, *, now: float, seconds: float) -> BudgetState:
    """Jira says the site is near its quota for ``seconds``: refreshes are shed till then."""
    until = max(state.near_limit_until, now + max(0.0, seconds))
    return replace(state, near_limit_until=until)
