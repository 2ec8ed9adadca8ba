"""Password hashing with argon2id (argon2-cffi), the only place that touches it.

argon2 is made to be slow and memory-hungry, so a flood of sign-ins could take
every core from the intake. :class:`PasswordChecks` runs verifications on a few
threads of their own (``web.password_check_concurrency``, 1 by default), at a
lower CPU priority where the system allows (Linux: argon2's lane threads inherit
it), and turns sign-ins away once too many are waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "PasswordChecks",
    "PasswordChecksBusy",
    "hash_password",
    "is_password_hash",
    "verify_password",
]

log = logging.getLogger(__name__)

_HASHER = PasswordHasher()
# Verified against for unknown users, so a wrong name costs as long as a wrong password.
# A literal hash at _HASHER's cost (tests/unit/web/test_passwords.py holds it there): hashing
# it at import took a fifth of a second of every process that imports the web app.
_DUMMY = (
    "$argon2id$v=19$m=65536,t=3,p=4$cXDJx9EPN4QBxVp2hURK0w"
    "$j/9yPraRblP8pLCx5E3bjD76nK2uDIDGNWQRodq1TAo"
)
_LOWER_PRIORITY = 10  # nice increment for the hashing threads


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` for ``[web.users.<name>] password_hash``."""
    return _HASHER.hash(password)


def is_password_hash(value: str) -> bool:
    """True when ``value`` looks like an argon2 hash this module can verify."""
    return value.startswith(("$argon2id$", "$argon2i$", "$argon2d$"))


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; False for a mismatch, a bad hash or no user."""
    try:
        return _HASHER.verify(password_hash or _DUMMY, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class PasswordChecksBusy(Exception):  # answered as 503 by the sign-in page
    """Too many sign-ins are already waiting for a password check."""


def _lower_priority() -> None:
    # Per thread on Linux; elsewhere it would renice the process, so only there.
    if hasattr(os, "setpriority") and os.uname().sysname == "Linux":
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _LOWER_PRIORITY)


class PasswordChecks:
    """Password verifications, at most ``concurrency`` at once, on threads of their own."""

    def __init__(self, concurrency: int = 1, *, max_waiting: int | None = None) -> None:
        self.concurrency = concurrency
        self.max_waiting = max_waiting if max_waiting is not None else 16 * concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._waiting = 0
        self._pool = ThreadPoolExecutor(
            max_workers=concurrency,
            thread_name_prefix="password-check",
            initializer=_lower_priority,
        )

    async def verify(
        self, check: Callable[[str | None, str], bool], password_hash: str | None, password: str
    ) -> bool:
        """``check(password_hash, password)`` in turn; raises PasswordChecksBusy when full."""
        if self._waiting >= self.max_waiting:
            raise PasswordChecksBusy(f"{self._waiting} sign-ins are waiting for their check")
        self._waiting += 1
        try:
            async with self._slots:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._pool, check, password_hash, password)
        finally:
            self._waiting -= 1

    def close(self) -> None:
        """Stop the threads (running checks finish)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
