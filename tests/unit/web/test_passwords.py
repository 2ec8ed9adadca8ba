"""The unknown user's stand-in hash costs what a real one does (it is a literal, not hashed)."""

from __future__ import annotations

from syncengine.web import passwords


def test_the_unknown_users_hash_has_the_hashers_cost_and_verifies() -> None:
    # A wrong name must cost as long as a wrong password: same parameters as new hashes.
    assert not passwords._HASHER.check_needs_rehash(passwords._DUMMY)
    assert passwords._HASHER.verify(passwords._DUMMY, "not a password anyone has")


def test_an_unknown_user_is_refused() -> None:
    assert not passwords.verify_password(None, "not a password anyone has")
