"""Cheap argon2id hashes for tests of sign-in (not of hashing).

The product's :func:`syncengine.web.passwords.hash_password` uses argon2-cffi's default cost
(64 MiB, 3 passes, 4 lanes: a second per check on a loaded 2-core machine), and
``tests/integration/test_cli_user.py`` holds it to that. Verification reads the cost from the
hash itself, so users configured with these hashes go through the product's own check, fast.
"""

from __future__ import annotations

from argon2 import PasswordHasher

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def cheap_hash(password: str) -> str:
    """An argon2id hash of ``password`` that the sign-in accepts, at the lowest cost."""
    return CHEAP.hash(password)
