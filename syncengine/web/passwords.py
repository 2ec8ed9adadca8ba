"""Password hashing with argon2id (argon2-cffi), the only place that touches it."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["hash_password", "is_password_hash", "verify_password"]

_HASHER = PasswordHasher()
# Verified against for unknown users, so a wrong name costs as long as a wrong password.
_DUMMY = _HASHER.hash("not a password anyone has")


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
