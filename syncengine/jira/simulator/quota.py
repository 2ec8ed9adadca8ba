"""Jira Cloud's points-based quota for OAuth 2.0 (3LO) apps, and its beta headers.

Atlassian's "Rate limiting" page for Jira Cloud: Forge, Connect and OAuth 2.0 apps
spend points from an hourly quota (API-token traffic does not: it keeps the burst
limits only). Every answer to such a call carries::

    Beta-RateLimit-Policy: "tenant-app-quota";q=65000;w=3600
    Beta-RateLimit: "tenant-app-quota";r=64990;t=2107
    X-Beta-RateLimit-NearLimit: true          (only while under 20 % is left)

and a call past the quota is refused with 429, ``Retry-After`` (until the window
resets), ``X-Beta-RateLimit-Reason: jira-quota-tenant-based`` and
``X-Beta-RateLimit-Reset``. What a call costs is the page's points model
(:func:`points_for`): a base point per request, plus, for a read, 1 point per core
domain object it returns (issues, projects) and 2 per identity-and-access object
(users, permissions); a write costs the base point only, and so does a read of
anything else. A call is let through while any point is left and charged once
answered, so the last one may overdraw (``r`` shows 0 then). Off unless configured
(``/_sim/quota``); ``everyone`` applies it to API-token traffic too (a test aid).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from syncengine.jira.simulator.clock import Clock

__all__ = ["POLICY", "PointsQuota", "QuotaConfig", "points_for"]

POLICY = "tenant-app-quota"
REASON = "jira-quota-tenant-based"
NEAR_SHARE = 0.2


CORE_POINTS = 1  # per core domain object a read returns (issues, projects)
IDENTITY_POINTS = 2  # per identity-and-access object a read returns (users, permissions)


def _listed(key: str) -> Callable[[Any], int]:
    return lambda body: len(body.get(key) or ()) if isinstance(body, dict) else 0


def _one(body: Any) -> int:
    return 1 if isinstance(body, dict) else 0


def _many(body: Any) -> int:
    return len(body) if isinstance(body, list) else 0


# The reads whose answers hold objects the points model prices (by the simulator's
# operation names), with how to count them; every other read is priced as its base point.
_SEARCH = _listed("issues")
_CORE: dict[str, Callable[[Any], int]] = {
    "GET /issue/{issueIdOrKey}": _one,
    "GET /search/jql": _SEARCH,
    "POST /search/jql": _SEARCH,
    "GET /search": _SEARCH,
    "POST /search": _SEARCH,
    "GET /project": _many,
    "GET /project/search": _listed("values"),
    "GET /project/{projectIdOrKey}": _one,
}
_IDENTITY: dict[str, Callable[[Any], int]] = {
    "GET /myself": _one,
    "GET /user": _one,
    "GET /user/search": _many,
    "GET /user/assignable/search": _many,
    "GET /mypermissions": _listed("permissions"),
}
_READS_BY_POST = frozenset({"POST /search/jql", "POST /search", "POST /search/approximate-count"})


def points_for(operation: str, status: int, body: bytes) -> int:
    """What a call of ``operation`` (``"GET /myself"``) answered ``status`` with ``body``
    costs: the base point, plus the objects a successful read returned."""
    method = operation.partition(" ")[0]
    if (method != "GET" and operation not in _READS_BY_POST) or not 200 <= status < 300:
        return 1
    count, each = _CORE.get(operation), CORE_POINTS
    if count is None:
        count, each = _IDENTITY.get(operation), IDENTITY_POINTS
    if count is None or not body:
        return 1
    try:
        answer = json.loads(body)
    except ValueError:
        return 1
    return 1 + each * count(answer)


@dataclass(frozen=True, kw_only=True)
class QuotaConfig:
    """``points`` per ``window`` seconds; ``everyone``: API-token traffic pays too."""

    points: int
    window: float = 3600.0
    everyone: bool = False

    def __post_init__(self) -> None:
        if self.points < 1 or self.window <= 0:
            raise ValueError("a quota needs points >= 1 and window > 0")


class PointsQuota:
    """The quota's window on the simulator's clock: what is left, and the headers saying it."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.config: QuotaConfig | None = None
        self._start = 0.0
        self._used = 0

    def configure(self, config: QuotaConfig | None) -> None:
        """Start a new window with ``config`` (None: no quota)."""
        self.config = config
        self._start = self._clock.monotonic()
        self._used = 0

    def applies(self, *, oauth2: bool) -> bool:
        """Whether a call (by an OAuth 2.0 app when ``oauth2``) spends points."""
        return self.config is not None and (oauth2 or self.config.everyone)

    def _roll(self) -> tuple[QuotaConfig, float]:
        assert self.config is not None  # callers check applies() first
        now = self._clock.monotonic()
        if now - self._start >= self.config.window:
            self._start, self._used = now, 0
        return self.config, self._start + self.config.window - now

    def admits(self) -> bool:
        """Whether a call may go now: some point is left in the window (when not, answer
        with :meth:`refusal`)."""
        config, _ = self._roll()
        return self._used < config.points

    def spend(self, points: int = 1) -> dict[str, str]:
        """Charge an answered call ``points`` (:func:`points_for`): the headers for its
        answer."""
        config, left = self._roll()
        self._used += points
        return self._headers(config, left)

    def _headers(self, config: QuotaConfig, left: float) -> dict[str, str]:
        remaining = max(config.points - self._used, 0)
        headers = {
            "Beta-RateLimit-Policy": f'"{POLICY}";q={config.points};w={config.window:g}',
            "Beta-RateLimit": f'"{POLICY}";r={remaining};t={math.ceil(left)}',
        }
        if remaining < NEAR_SHARE * config.points:
            headers["X-Beta-RateLimit-NearLimit"] = "true"
        return headers

    def refusal(self) -> dict[str, str]:
        """The headers of the 429 for a call past the quota."""
        config, left = self._roll()
        reset = self._clock.now() + timedelta(seconds=left)
        return {
            **self._headers(config, left),
            "Retry-After": str(max(1, math.ceil(left))),
            "X-Beta-RateLimit-Reason": REASON,
            "X-Beta-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%MZ"),
            "RateLimit-Reason": REASON,
        }
