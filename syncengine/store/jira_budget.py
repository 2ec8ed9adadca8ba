"""The Jira request budget of each site, shared by every process on one PostgreSQL database.

One ``jira_budgets`` row per site holds the token bucket, the pause a 429 asked for,
and the near-limit flag (see :mod:`syncengine.domain.budget` for the rules). Each
request's token is taken in a short transaction under the row's lock, on the
database's clock (``clock_timestamp()``), so processes on hosts whose clocks differ
still share one budget. Should the database fail, or the row stay locked past
``LOCK_WAIT_MS`` (a process stopped inside its transaction holds the lock until the
server ends its session), the process goes on with a budget of its own at the same
rate (logged), rather than stop talking to Jira.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy import text

from syncengine.domain.budget import (
    BudgetLimits,
    BudgetState,
    Decision,
    Grant,
    Priority,
    near_limit,
    pause,
    take,
)
from syncengine.store.database import Database
from syncengine.store.db_errors import FOREIGN_ERRORS

__all__ = ["SharedBudget", "SharedBudgets"]

log = logging.getLogger("syncengine.store")

LOCK_WAIT_MS = 1000  # a take holds the lock for milliseconds: a longer wait is a stalled holder
_LOCK_WAIT = text(f"SET LOCAL lock_timeout = {LOCK_WAIT_MS}")
_CREATE = text(
    "INSERT INTO jira_budgets (site, tokens, updated, paused_until, near_limit_until) "
    "VALUES (:site, :tokens, EXTRACT(EPOCH FROM clock_timestamp()), 0, 0) "
    "ON CONFLICT (site) DO NOTHING"
)
_LOCK = text(
    "SELECT tokens, updated, paused_until, near_limit_until, "
    "EXTRACT(EPOCH FROM clock_timestamp()) AS now "
    "FROM jira_budgets WHERE site = :site FOR UPDATE"
)
_WRITE = text(
    "UPDATE jira_budgets SET tokens = :tokens, updated = :updated, "
    "paused_until = :paused_until, near_limit_until = :near_limit_until WHERE site = :site"
)

Step = Callable[[BudgetState, float], tuple[BudgetState, Decision | None]]


class SharedBudget:
    """One site's budget, kept in the database (the ``SiteBudget`` the Jira session uses)."""

    def __init__(self, db: Database, site: str, limits: BudgetLimits) -> None:
        self._db = db
        self.site = site
        self.limits = limits
        self._created = False
        self._fallback: BudgetState | None = None
        self._failing = False

    async def take(self, priority: Priority) -> Decision:
        decision = await self._apply(
            lambda state, now: take(state, self.limits, priority=priority, now=now)
        )
        assert decision is not None  # take always decides
        return decision

    async def pause(self, seconds: float) -> None:
        await self._apply(lambda state, now: (pause(state, now=now, seconds=seconds), None))

    async def near_limit(self, seconds: float) -> None:
        await self._apply(lambda state, now: (near_limit(state, now=now, seconds=seconds), None))

    async def _apply(self, step: Step) -> Decision | None:
        try:
            decision = await self._in_database(step)
        except FOREIGN_ERRORS as exc:
            if not self._failing:
                log.warning(
                    "the shared Jira budget of %s is unreachable or held by a stalled "
                    "process (%s); this process keeps to the rate on its own until the "
                    "database answers",
                    self.site,
                    type(getattr(exc, "orig", None) or exc).__name__,
                )
            self._failing = True
            return self._locally(step)
        if self._failing:
            log.warning("the shared Jira budget of %s is reachable again", self.site)
            self._failing = False
        return decision

    def _locally(self, step: Step) -> Decision | None:
        now = time.time()
        state = self._fallback or BudgetState.full(self.limits, now)
        self._fallback, decision = step(state, now)
        return decision

    async def _in_database(self, step: Step) -> Decision | None:
        async with self._db.engine.begin() as conn:
            await conn.execute(_LOCK_WAIT)
            if not self._created:
                await conn.execute(_CREATE, {"site": self.site, "tokens": self.limits.capacity})
            row = (await conn.execute(_LOCK, {"site": self.site})).one()
            before = BudgetState(
                tokens=float(row.tokens),
                updated=float(row.updated),
                paused_until=float(row.paused_until),
                near_limit_until=float(row.near_limit_until),
            )
            after, decision = step(before, float(row.now))
            # A refused take changes nothing worth a write (the refill is recomputed).
            if after != before and (decision is None or isinstance(decision, Grant)):
                await conn.execute(
                    _WRITE,
                    {
                        "site": self.site,
                        "tokens": after.tokens,
                        "updated": after.updated,
                        "paused_until": after.paused_until,
                        "near_limit_until": after.near_limit_until,
                    },
                )
        self._created = True
        return decision


class SharedBudgets:
    """Builds each site's :class:`SharedBudget` (the ``budgets`` factory of the Jira limiters)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def __call__(self, site: str, limits: BudgetLimits) -> SharedBudget:
        return SharedBudget(self._db, site, limits)
