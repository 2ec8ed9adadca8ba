"""Jira Cloud's points-based quota for OAuth 2.0 (3LO) apps, and its beta headers.

Atlassian's "Rate limiting" page for Jira Cloud: Forge, Connect and OAuth 2.0 apps
spend points from an hourly quota (API-token traffic does not: it keeps the burst
limits only). Every answer to such a call carries::

    Beta-RateLimit-Policy: "tenant-app-quota";q=65000;w=3600
    Beta-RateLimit: "tenant-app-quota";r=64990;t=2107
    X-Beta-RateLimit-NearLimit: true          (only while under 20 % is left)

and a call past the quota is refused with 429, ``Retry-After`` (until the window
resets), ``X-Beta-RateLimit-Reason: jira-quota-tenant-based`` and
``X-Beta-RateLimit-Reset``. Each call costs 1 point here (Jira adds points per
object a read returns; writes cost the base only). Off unless configured
(``/_sim/quota``); ``everyone`` applies it to API-token traffic too (a test aid).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from syncengine.jira.simulator.clock import Clock

__all__ = ["POLICY", "PointsQuota", "QuotaConfig"]

POLICY = "tenant-app-quota"
REASON = "jira-quota-tenant-based"
NEAR_SHARE = 0.2


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

    def spend(self) -> dict[str, str] | None:
        """Charge one call: the headers for its answer, or None when the quota is spent
        (then :meth:`refusal` says how to answer)."""
        config, left = self._roll()
        if self._used >= config.points:
            return None
        self._used += 1
        return self._headers(config, left)

    def _headers(self, config: QuotaConfig, left: float) -> dict[str, str]:
        remaining = config.points - self._used
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
