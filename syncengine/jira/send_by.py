"""A time a request must be sent by, or not at all: a paused worker's late create.

A worker writes ahead in the store that it is about to send a create, while its
claim on the outbox item is live, and then sends it. A process stopped between the
two (SIGSTOP, a paused VM, a long swap-in) resumes after its claim ran out; by then
another worker may have taken the item over, found no issue in Jira and created one,
so the late send would make a second issue. Inside :func:`send_before`, every request
the task sends checks the clock in front of the transport and again right before its
first byte goes out (httpcore's ``trace`` extension, at ``send_request_headers``):
past the deadline it raises :class:`JiraNotSent`, and nothing reaches Jira.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from syncengine.jira.errors import JiraNotSent

__all__ = ["arm", "send_before"]

_DEADLINE: contextvars.ContextVar[_Deadline | None] = contextvars.ContextVar(
    "jira_send_before", default=None
)


@dataclass(frozen=True, slots=True)
class _Deadline:
    until: Callable[[], datetime]
    clock: Callable[[], datetime]

    def check(self) -> None:
        now, until = self.clock(), self.until()
        if now >= until:
            late = (now - until).total_seconds()
            raise JiraNotSent(
                f"not sent: it was due out by {until:%H:%M:%S} UTC, while this worker's "
                f"claim on the work was live, and it is {late:.1f} s past that (was the "
                "process paused?); another worker may have taken the work over",
                fix="nothing to fix: the work is retried by whichever worker holds it",
            )

    async def trace(self, event: str, _info: Mapping[str, Any]) -> None:
        if event.endswith("send_request_headers.started"):
            self.check()


@contextlib.contextmanager
def send_before(
    until: datetime | Callable[[], datetime], clock: Callable[[], datetime]
) -> Iterator[None]:
    """Requests sent inside (this task and the tasks it starts) go out before ``until``
    by ``clock``, or not at all (:class:`JiraNotSent`). ``until`` may be a function, read
    at each check (a claim that a heartbeat extends); inside another ``send_before`` the
    earlier of the two holds."""
    deadline = until if callable(until) else _fixed(until)
    outer = _DEADLINE.get()
    if outer is not None:
        deadline = _earlier(deadline, outer.until)
    token = _DEADLINE.set(_Deadline(deadline, clock))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _fixed(until: datetime) -> Callable[[], datetime]:
    return lambda: until


def _earlier(
    first: Callable[[], datetime], second: Callable[[], datetime]
) -> Callable[[], datetime]:
    return lambda: min(first(), second())


def arm(request: httpx.Request) -> None:
    """Check the deadline in force now, and have the request check it again right before
    its first byte is written. Raises :class:`JiraNotSent` once it has passed."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return
    deadline.check()
    request.extensions["trace"] = deadline.trace
