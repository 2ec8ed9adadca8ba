"""Sign-in throttling: the guesser backs off, the right password from elsewhere gets in."""

from __future__ import annotations

from syncengine.web.login_throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _fail(throttle: LoginThrottle, user: str, address: str) -> float | None:
    # An attempt is counted as a failure unless succeeded() follows.
    return throttle.attempt(user, address)


def test_a_guesser_is_slowed_but_the_admin_from_another_address_signs_in() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    for _ in range(5):
        assert _fail(throttle, "admin", "6.6.6.6") is None
    # The guessing address waits (1 s, then 2 s, 4 s...), the account is not locked:
    assert throttle.attempt("admin", "6.6.6.6") == 1.0
    assert throttle.attempt("Admin", "10.0.0.7") is None  # the real admin, elsewhere
    throttle.succeeded("admin", "10.0.0.7")


def test_each_further_failure_doubles_the_wait_up_to_the_cap() -> None:
    clock = Clock()
    throttle = LoginThrottle(per_user_address=2, max_wait_seconds=60, clock=clock)
    waits = []
    for _ in range(12):
        wait = throttle.attempt("bob", "6.6.6.6")
        if wait is not None:
            waits.append(wait)
            clock.now += wait
            assert throttle.attempt("bob", "6.6.6.6") is None  # after the wait: one more try
    assert waits[:5] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert max(waits) == 60.0
    clock.now += 900  # forgotten after a quiet while
    assert throttle.retry_after("bob", "6.6.6.6") is None


def test_a_guess_spread_over_many_addresses_slows_only_the_guessing_ones() -> None:
    clock = Clock()
    throttle = LoginThrottle(per_user=50, clock=clock)
    for n in range(60):
        for _ in range(3):
            _fail(throttle, "admin", f"203.0.113.{n}")
    # Every guessing address now waits for the account's count, whatever its own...
    assert throttle.retry_after("admin", "203.0.113.200") is None  # (a fresh one: no)
    assert throttle.retry_after("admin", "203.0.113.5") is not None
    # ...a clean address is never kept out, and neither is an address with a typo or two.
    for _ in range(2):
        _fail(throttle, "admin", "198.51.100.1")
    assert throttle.attempt("admin", "198.51.100.1") is None
    throttle.succeeded("admin", "198.51.100.1")


def test_an_address_trying_many_accounts_waits_for_every_account() -> None:
    throttle = LoginThrottle(per_address=4, clock=Clock())
    for n in range(4):
        _fail(throttle, f"user{n}", "9.9.9.9")
    assert throttle.retry_after("someone-else", "9.9.9.9") is not None
    assert throttle.retry_after("someone-else", "1.1.1.1") is None


def test_parallel_attempts_count_from_their_start() -> None:
    throttle = LoginThrottle(per_user_address=5, clock=Clock())
    started = [throttle.attempt("root", "6.6.6.6") for _ in range(10)]  # none has finished
    assert started.count(None) == 5


def test_success_forgets_the_pair_but_not_the_address_or_the_account() -> None:
    clock = Clock()
    throttle = LoginThrottle(per_user_address=2, per_address=3, clock=clock)
    _fail(throttle, "bob", "1.1.1.1")
    _fail(throttle, "bob", "1.1.1.1")
    assert throttle.retry_after("bob", "1.1.1.1") is not None
    clock.now += 5  # the wait passes
    assert throttle.attempt("bob", "1.1.1.1") is None
    throttle.succeeded("bob", "1.1.1.1")
    assert throttle.retry_after("bob", "1.1.1.1") is None
    _fail(throttle, "eve", "1.1.1.1")
    assert throttle.retry_after("carol", "1.1.1.1") is not None, "the address keeps its count"


def test_a_check_that_never_ran_is_not_counted() -> None:
    throttle = LoginThrottle(per_user_address=1, clock=Clock())
    assert throttle.attempt("bob", "1.1.1.1") is None
    throttle.cancelled("bob", "1.1.1.1")
    assert throttle.attempt("bob", "1.1.1.1") is None


def test_memory_is_bounded() -> None:
    throttle = LoginThrottle(max_keys=10, clock=Clock())
    for n in range(100):
        _fail(throttle, f"u{n}", f"10.0.0.{n}")
    assert len(throttle._failures) <= 10
