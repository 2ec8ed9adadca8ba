"""The request budget of a Jira site, and the priority of the requests that spend it.

Every request the session sends first takes a token from its site's
:class:`SiteBudget`. One process alone uses :class:`LocalBudget`; several processes
on PostgreSQL share one budget per site (``syncengine.store.jira_budget``), so N
processes together send ``requests_per_second``, not N times it, and a 429 one of
them sees pauses them all.

Callers say how much their requests matter with :func:`request_priority`; the
outbox worker sets it per work kind, and code that refreshes fields wraps its calls::

    from syncengine.jira import JiraRequestShed, Priority, request_priority

    with request_priority(Priority.REFRESH):
        try:
            await client.update_issue(key, fields)
        except JiraRequestShed as shed:  # near the limit: try again after shed.retry_after
            ...

A shed request was not sent. ``JiraRequestShed`` is a :class:`JiraRateLimited`
(transient, with ``retry_after``), so outbox work that meets it is simply retried later.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from syncengine.domain.budget import (
    BudgetLimits,
    BudgetState,
    Decision,
    Grant,
    Priority,
    Shed,
    near_limit,
    pause,
    take,
)
from syncengine.jira.errors import JiraRateLimited

__all__ = [
    "JiraRequestShed",
    "LocalBudget",
    "Priority",
    "SiteBudget",
    "current_priority",
    "request_priority",
    "spend",
]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

_PRIORITY: contextvars.ContextVar[Priority] = contextvars.ContextVar(
    "jira_request_priority", default=Priority.SYNC
)


@contextlib.contextmanager
def request_priority(priority: Priority) -> Iterator[None]:
    """Jira requests made inside (in this task and the tasks it starts) have ``priority``."""
    token = _PRIORITY.set(priority)
    try:
        yield
    finally:
        _PRIORITY.reset(token)


def current_priority() -> Priority:
    """The priority requests made here have (``Priority.SYNC`` unless set)."""
    return _PRIORITY.get()


class JiraRequestShed(JiraRateLimited):
    """A low-priority request was not sent: the site is near its Jira rate limit."""


class SiteBudget(Protocol):
    """One site's request budget (in this process, or shared through the database)."""

    async def take(self, priority: Priority) -> Decision:
        """Try to take one request's token now: Grant, Wait (ask again) or Shed."""
        ...

    async def pause(self, seconds: float) -> None:
        """Jira answered 429: no request of this site goes for ``seconds``."""
        ...

    async def near_limit(self, seconds: float) -> None:
        """Jira says the site is near its quota: shed refreshes for ``seconds``."""
        ...


@dataclass(kw_only=True)
class LocalBudget:
    """The budget of a site used by this process only (SQLite, or one process)."""

    limits: BudgetLimits
    clock: Clock
    _state: BudgetState | None = field(default=None, init=False)

    def _current(self) -> BudgetState:
        if self._state is None:
            self._state = BudgetState.full(self.limits, self.clock())
        return self._state

    async def take(self, priority: Priority) -> Decision:
        self._state, decision = take(
            self._current(), self.limits, priority=priority, now=self.clock()
        )
        return decision

    async def pause(self, seconds: float) -> None:
        self._state = pause(self._current(), now=self.clock(), seconds=seconds)

    async def near_limit(self, seconds: float) -> None:
        self._state = near_limit(self._current(), now=self.clock(), seconds=seconds)


async def spend(budget: SiteBudget, priority: Priority, *, sleep: Sleep) -> float:
    """Wait until ``budget`` lets a request of ``priority`` go; return the seconds waited.

    Raises:
        JiraRequestShed: the request is low priority and the site is near its limit.
    """
    waited = 0.0
    while True:
        decision = await budget.take(priority)
        if isinstance(decision, Grant):
            return waited
        if isinstance(decision, Shed):
            raise JiraRequestShed(
                f"a low-priority Jira request was not sent: {decision.reason}",
                retry_after=max(decision.seconds, 1.0),
                fix="nothing to do: it is sent again once Jira's rate limit allows",
            )
        delay = max(decision.seconds, 0.001)
        await sleep(delay)
        waited += delay
        await asyncio.sleep(0)  # let a fake sleep in tests still yield
