"""Sign-in throttling: per user, per address, sliding window, bounded memory."""

from __future__ import annotations

from syncengine.web.login_throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_user_is_blocked_after_failures_until_the_window_passes() -> None:
    clock = Clock()
    throttle = LoginThrottle(per_user=3, per_address=100, window_seconds=60, clock=clock)
    for _ in range(3):
        assert throttle.retry_after("Alice", "1.2.3.4") is None
        throttle.failed("Alice", "1.2.3.4")
        clock.now += 1
    assert throttle.retry_after("alice", "5.6.7.8") == 57  # per user, whatever the address
    clock.now += 57
    assert throttle.retry_after("alice", "5.6.7.8") is None


def test_address_is_blocked_across_user_names() -> None:
    clock = Clock()
    throttle = LoginThrottle(per_user=100, per_address=4, window_seconds=60, clock=clock)
    for n in range(4):
        throttle.failed(f"user{n}", "9.9.9.9")
    assert throttle.retry_after("someone-else", "9.9.9.9") is not None
    assert throttle.retry_after("someone-else", "1.1.1.1") is None


def test_success_clears_the_user_but_not_the_address() -> None:
    throttle = LoginThrottle(per_user=2, per_address=2, clock=Clock())
    throttle.failed("bob", "1.1.1.1")
    throttle.failed("bob", "1.1.1.1")
    throttle.succeeded("bob")
    assert throttle.retry_after("bob", "2.2.2.2") is None
    assert throttle.retry_after("bob", "1.1.1.1") is not None


def test_memory_is_bounded() -> None:
    throttle = LoginThrottle(max_keys=10, clock=Clock())
    for n in range(100):
        throttle.failed(f"u{n}", f"10.0.0.{n}")
    assert len(throttle._failures) <= 10
