"""The write-ahead record of ticket creates, kept in each ``ticket.create`` item's payload.

- ``create_sent``: set just before a create is sent, and only while the worker's
  claim is live; the create then goes out before that claim runs out or not at all
  (:func:`syncengine.jira.send_by.send_before`), so a worker paused between the two
  sends nothing late; cleared when Jira's answer shows nothing was created;
- ``create_unknown``: when the create's outcome became unknown (a lost or late
  answer), or when a later attempt found a ``create_sent`` nobody settled (its
  worker died or stalled mid-call: unknown from the moment that was noticed).

An item with ``create_unknown`` waits ``window`` from then before anything is
looked up, let alone created again: the client's timeout (Jira may finish a create
after the client gave up) plus the site's search lag.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from syncengine.errors import JiraTransientError
from syncengine.store.outbox import REQUEUED, OutboxRepository, OutboxWork

__all__ = [
    "DEFAULT_SETTLE_SECONDS",
    "SENT",
    "UNKNOWN",
    "CreateRecords",
    "CreateUnsettled",
    "may_exist",
    "send_by",
    "tried_before",
]

# How long after a create's outcome became unknown a site's search shows the issue, when
# the site's own figure is not known: a 30 s client timeout plus 5 minutes of search lag.
DEFAULT_SETTLE_SECONDS = 330.0
SENT = "create_sent"
UNKNOWN = "create_unknown"
# A create goes out at least this long before its claim runs out: another host whose
# clock runs ahead may see the claim as run out that much early.
_SEND_MARGIN = timedelta(seconds=1)


def send_by(claim_ends: datetime) -> datetime:
    """The time a request made under a claim ending at ``claim_ends`` must go out by."""
    return claim_ends - _SEND_MARGIN


class CreateUnsettled(JiraTransientError):
    """A create's outcome is unknown and Jira's search cannot settle it yet: wait, then look."""


def _stamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def tried_before(work: OutboxWork) -> bool:
    """True when an earlier try of the item may have reached Jira: a retry, or the first
    run after an operator's retry (which starts the attempts again)."""
    return work.attempts > 1 or bool(work.payload.get(REQUEUED))


def may_exist(work: OutboxWork) -> bool:
    """True when an earlier attempt may have created the issue (look before creating)."""
    return tried_before(work) or UNKNOWN in work.payload or bool(work.payload.get("lookup"))


def _by_worker(works: Sequence[OutboxWork]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for work in works:
        found.setdefault(work.claimed_by or "", []).append(work.id)
    return found


class CreateRecords:
    """Reads and writes the write-ahead record (see the module docstring)."""

    def __init__(self, outbox: OutboxRepository, clock: Callable[[], datetime]) -> None:
        self._outbox = outbox
        self._clock = clock

    async def waiting(
        self, works: Sequence[OutboxWork], window: timedelta, *, known: Collection[int] = ()
    ) -> dict[int, CreateUnsettled]:
        """The items that must wait (with the error saying until when), by item id.

        ``known``: item ids whose issue this process can read back by id (no wait).
        """
        now = self._clock()
        waits: dict[int, CreateUnsettled] = {}
        stalled: list[OutboxWork] = []
        for work in works:
            if work.id in known:
                continue
            if _stamp(work.payload.get(SENT)) is not None:
                stalled.append(work)
                continue
            unknown = _stamp(work.payload.get(UNKNOWN))
            if unknown is not None and now < unknown + window:
                waits[work.id] = self._wait_error(unknown + window, now)
        for worker, ids in _by_worker(stalled).items():
            await self._outbox.annotate(
                ids, worker, {SENT: None, UNKNOWN: now.isoformat()}, now=now
            )
        waits.update({w.id: self._wait_error(now + window, now) for w in stalled})
        return waits

    @staticmethod
    def _wait_error(until: datetime, now: datetime) -> CreateUnsettled:
        return CreateUnsettled(
            "an earlier create of this ticket may still show up in Jira: its outcome is "
            f"unknown; looking for it at {until:%H:%M:%S} UTC before creating again",
            retry_after=max((until - now).total_seconds(), 0.0),
        )

    async def announce(self, works: Sequence[OutboxWork]) -> dict[int, datetime]:
        """Write ahead that these creates go out; the ids whose claim is still live, each
        with the time its claim runs out (the create must go out before it)."""
        now = self._clock()
        held: dict[int, datetime] = {}
        for worker, ids in _by_worker(works).items():
            held |= await self._outbox.annotate(
                ids, worker, {SENT: now.isoformat()}, now=now, live_claim=True
            )
        return held

    async def answered(self, works: Sequence[OutboxWork], *, unknown: bool) -> None:
        """After the call: Jira created nothing (clear ``create_sent``) or the outcome is
        unknown (``create_unknown`` from now)."""
        if not works:
            return
        now = self._clock()
        values: dict[str, Any] = {SENT: None}
        if unknown:
            values[UNKNOWN] = now.isoformat()
        for worker, ids in _by_worker(works).items():
            await self._outbox.annotate(ids, worker, values, now=now)
