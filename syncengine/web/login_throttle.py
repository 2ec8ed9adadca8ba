"""Sign-in throttling, in memory: the guesser waits longer after each failure; no one is locked out.

Failures are counted under three keys, each with a free allowance after which
every further failure doubles the wait before that key may try again (1 s, 2 s,
4 s… up to ``max_wait_seconds``):

- the client address, whatever the user (one address trying many accounts);
- the user at that address (one address guessing one account);
- the user, from every address (a guess spread over many addresses). This one
  slows down only addresses that are guessing themselves (``guessing_after``
  recent failures, of any user): an address that has not been guessing always
  gets its attempt, so a flood of wrong guesses for ``admin`` never keeps the
  admin, signing in from elsewhere, out.

A key is forgotten ``forget_seconds`` after its last failure. An attempt counts
as a failure from the moment it starts (:meth:`LoginThrottle.attempt`) until the
password proves right (:meth:`LoginThrottle.succeeded`) or the check did not run
(:meth:`LoginThrottle.cancelled`), so parallel guesses do not slip past the
allowance. Memory is bounded: the oldest keys go past ``max_keys``. Each process
keeps its own counts.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["LoginThrottle"]


@dataclass(slots=True)
class _Failures:
    count: int
    last: float


class LoginThrottle:
    """Says how long a sign-in must wait, and counts how each one went."""

    def __init__(
        self,
        *,
        per_address: int = 20,
        per_user_address: int = 5,
        per_user: int = 50,
        guessing_after: int = 3,
        first_wait_seconds: float = 1.0,
        max_wait_seconds: float = 900.0,
        forget_seconds: float = 900.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free = {"a": per_address, "p": per_user_address, "u": per_user}
        self.guessing_after = guessing_after
        self.first_wait = first_wait_seconds
        self.max_wait = max_wait_seconds
        self.forget = forget_seconds
        self.max_keys = max_keys
        self.clock = clock
        self._failures: OrderedDict[str, _Failures] = OrderedDict()

    @staticmethod
    def _keys(user: str, address: str) -> dict[str, str]:
        name = user.strip().lower()
        return {"a": f"a:{address}", "p": f"p:{name}\0{address}", "u": f"u:{name}"}

    def _current(self, key: str, now: float) -> _Failures | None:
        record = self._failures.get(key)
        if record is not None and now - record.last >= self.forget:
            del self._failures[key]
            return None
        return record

    def _wait(self, kind: str, record: _Failures | None, now: float) -> float:
        if record is None or record.count < self.free[kind]:
            return 0.0
        backoff = min(self.max_wait, self.first_wait * 2.0 ** (record.count - self.free[kind]))
        return max(0.0, record.last + backoff - now)

    def retry_after(self, user: str, address: str) -> float | None:
        """Seconds until ``user`` may try from ``address``; None when now."""
        now = self.clock()
        keys = self._keys(user, address)
        records = {kind: self._current(key, now) for kind, key in keys.items()}
        waits = [self._wait("a", records["a"], now), self._wait("p", records["p"], now)]
        guessed = records["a"]
        if guessed is not None and guessed.count >= self.guessing_after:
            waits.append(self._wait("u", records["u"], now))
        wait = max(waits)
        return wait if wait > 0 else None

    def attempt(self, user: str, address: str) -> float | None:
        """Start a sign-in: the wait if it must wait (nothing counted), else None.

        The attempt is counted as a failure until :meth:`succeeded` says otherwise.
        """
        wait = self.retry_after(user, address)
        if wait is not None:
            return wait
        now = self.clock()
        for key in self._keys(user, address).values():
            record = self._current(key, now)
            if record is None:
                self._failures[key] = _Failures(count=1, last=now)
            else:
                record.count += 1
                record.last = now
            self._failures.move_to_end(key)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)
        return None

    def succeeded(self, user: str, address: str) -> None:
        """The password was right: the attempt was no failure, and this pair starts afresh."""
        self.cancelled(user, address)
        self._failures.pop(self._keys(user, address)["p"], None)

    def cancelled(self, user: str, address: str) -> None:
        """The attempt's password was never checked (the server was busy): uncount it."""
        now = self.clock()
        for key in self._keys(user, address).values():
            record = self._current(key, now)
            if record is None:
                continue
            record.count -= 1
            if record.count <= 0:
                del self._failures[key]
