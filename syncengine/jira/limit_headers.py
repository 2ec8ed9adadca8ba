"""What Jira's rate-limit headers say about the site's budget, read defensively.

Jira Cloud sends, on OAuth 2.0 (3LO), Forge and Connect traffic, its points-based
quota headers (Atlassian's "Rate limiting" page for Jira Cloud)::

    Beta-RateLimit-Policy: "tenant-app-quota";q=65000;w=3600    quota q points per w seconds
    Beta-RateLimit: "tenant-app-quota";r=12000;t=2107           r points left, reset in t s
    X-Beta-RateLimit-NearLimit: true                            little of the quota is left
    X-Beta-RateLimit-Reason: jira-quota-tenant-based            on a 429: which limit

and, on every kind of traffic, ``RateLimit-Reason`` on a 429 (``jira-burst-based``,
``jira-per-issue-on-write``, ``jira-quota-*``) and ``X-RateLimit-NearLimit``. Any
header may be missing or malformed; then it says nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["NEAR_LIMIT_SHARE", "LimitSignal", "read_limit_headers"]

NEAR_LIMIT_SHARE = 0.2
"""Below this share of the quota left, the site counts as near its limit (Jira's own
``NearLimit`` flag says the same)."""
_LONGEST_HOLD = 60.0  # a near-limit flag holds this long at most; the next answer renews it


@dataclass(frozen=True, kw_only=True)
class LimitSignal:
    """What one answer's headers say: near the quota (for how long), and whether a 429 is
    about one issue only (``per_issue``: no reason to slow the whole site)."""

    near_limit: bool = False
    hold_seconds: float = 0.0
    remaining: float | None = None
    quota: float | None = None
    reason: str = ""

    @property
    def per_issue(self) -> bool:
        """The 429 was Jira's per-issue write limit: only writes to that issue must wait."""
        return self.reason == "jira-per-issue-on-write"


def _items(value: str) -> dict[str, dict[str, str]]:
    """``"name";a=1;b=2, "other";a=3`` → ``{"name": {"a": "1", "b": "2"}, ...}``."""
    found: dict[str, dict[str, str]] = {}
    for item in value.split(","):
        name, *params = (part.strip() for part in item.split(";"))
        if not name:
            continue
        pairs: dict[str, str] = {}
        for param in params:
            key, sep, raw = param.partition("=")
            if sep:
                pairs[key.strip().lower()] = raw.strip()
        found[name.strip('"')] = pairs
    return found


def _number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def read_limit_headers(headers: Mapping[str, str]) -> LimitSignal:
    """The :class:`LimitSignal` of one answer's headers (empty when they say nothing)."""
    lowered = {k.lower(): v.strip() for k, v in headers.items()}
    flagged = any(
        lowered.get(name, "").lower() == "true"
        for name in ("x-beta-ratelimit-nearlimit", "x-ratelimit-nearlimit")
    )
    policies = _items(lowered.get("beta-ratelimit-policy", ""))
    states = _items(lowered.get("beta-ratelimit", ""))
    near, hold, least_share = flagged, 0.0, math.inf
    remaining_shown: float | None = None
    quota_shown: float | None = None
    for name, state in states.items():
        remaining = _number(state.get("r"))
        reset = _number(state.get("t"))
        quota = _number(policies.get(name, {}).get("q"))
        if remaining is not None and quota:
            share = remaining / quota
            if share < least_share:
                least_share, remaining_shown, quota_shown = share, remaining, quota
            if share < NEAR_LIMIT_SHARE:
                near = True
        if reset is not None:
            hold = max(hold, reset)
    if near:
        hold = min(hold or _LONGEST_HOLD, _LONGEST_HOLD)
    reason = lowered.get("x-beta-ratelimit-reason") or lowered.get("ratelimit-reason", "")
    return LimitSignal(
        near_limit=near,
        hold_seconds=hold if near else 0.0,
        remaining=remaining_shown,
        quota=quota_shown,
        reason=reason,
    )
