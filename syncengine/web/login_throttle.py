"""Sign-in rate limiting, in memory: failures per user name and per client address."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

__all__ = ["LoginThrottle"]


class LoginThrottle:
    """Counts failed sign-ins per key in a sliding window and says when to refuse.

    Per user name (guessing one account's password) and per address (trying many
    accounts). Memory is bounded: the oldest keys are forgotten past ``max_keys``.
    """

    def __init__(
        self,
        *,
        per_user: int = 5,
        per_address: int = 20,
        window_seconds: float = 900.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self.window = window_seconds
        self.max_keys = max_keys
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.get(key)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def retry_after(self, user: str, address: str) -> float | None:
        """Seconds until a sign-in for ``user`` from ``address`` is allowed, or None."""
        now = self.clock()
        waits = []
        for key, limit in (
            (f"u:{user.lower()}", self.per_user),
            (f"a:{address}", self.per_address),
        ):
            failures = self._recent(key, now)
            if len(failures) >= limit:
                waits.append(failures[len(failures) - limit] + self.window - now)
        return max(waits) if waits else None

    def failed(self, user: str, address: str) -> None:
        """Count a failed sign-in."""
        now = self.clock()
        for key in (f"u:{user.lower()}", f"a:{address}"):
            failures = self._failures.setdefault(key, deque())
            failures.append(now)
            self._failures.move_to_end(key)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    def succeeded(self, user: str) -> None:
        """A correct password clears the user's failures (not the address's)."""
        self._failures.pop(f"u:{user.lower()}", None)
