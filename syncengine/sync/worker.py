"""The outbox worker: claims due items, runs them, records each outcome.

It is woken at once when new work is written (:meth:`OutboxWorker.wake`) and
otherwise sleeps until the next item falls due or ``poll_interval`` passes (other
processes write work too). A Jira error decides between a retry with backoff and
a dead item; anything unexpected is retried, never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from syncengine.domain.backoff import BackoffPolicy, GiveUp, next_attempt
from syncengine.errors import JiraError, SyncEngineError
from syncengine.logs import bound
from syncengine.store.outbox import OutboxRepository, OutboxWork

__all__ = ["BatchHandler", "Handler", "OutboxWorker", "OutcomeHook"]

log = logging.getLogger(__name__)

Handler = Callable[[OutboxWork], Awaitable[None]]
# Runs several items of one kind at once (bulk create); returns each item's error or None.
BatchHandler = Callable[[list[OutboxWork]], Awaitable[dict[int, BaseException | None]]]
# Called after every attempt with the error a user should see, or None on success.
OutcomeHook = Callable[[OutboxWork, str | None], Awaitable[None]]


async def _no_hook(_work: OutboxWork, _error: str | None) -> None:
    return None


class OutboxWorker:
    """Drains the outbox with bounded concurrency until stopped."""

    def __init__(
        self,
        outbox: OutboxRepository,
        handlers: dict[str, Handler],
        *,
        worker_id: str,
        clock: Callable[[], datetime],
        policy: BackoffPolicy | None = None,
        rng: random.Random | None = None,
        lease: timedelta = timedelta(seconds=120),
        batch_size: int = 50,
        concurrency: int = 4,
        poll_interval: float = 1.0,
        on_outcome: OutcomeHook = _no_hook,
        batch_handlers: dict[str, BatchHandler] | None = None,
        wakeup: asyncio.Event | None = None,
    ) -> None:
        """``wakeup``: an event others set when they write work (see :meth:`wake`)."""
        self.outbox = outbox
        self.handlers = handlers
        self.batch_handlers = batch_handlers if batch_handlers is not None else {}
        self.worker_id = worker_id
        self.clock = clock
        self.policy = policy or BackoffPolicy()
        self.rng = rng or random.Random()  # noqa: S311  # jitter, not cryptography
        self.lease = lease
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.on_outcome = on_outcome
        self._slots = asyncio.Semaphore(concurrency)
        self._wakeup = wakeup if wakeup is not None else asyncio.Event()
        self._stopping = asyncio.Event()

    def wake(self) -> None:
        """New work was written: look for it now rather than at the next poll."""
        self._wakeup.set()

    async def run_once(self) -> int:
        """Claim one batch of due items and run them; returns how many were claimed."""
        items = await self.outbox.claim(
            self.worker_id, now=self.clock(), lease=self.lease, limit=self.batch_size
        )
        batches: dict[str, list[OutboxWork]] = {}
        singles: list[OutboxWork] = []
        for item in items:
            if item.kind in self.batch_handlers:
                batches.setdefault(item.kind, []).append(item)
            else:
                singles.append(item)
        heartbeat = asyncio.create_task(self._heartbeat(), name="outbox-heartbeat")
        try:
            await asyncio.gather(
                *(self._run_item(item) for item in singles),
                *(self._run_batch(kind, batch) for kind, batch in batches.items()),
            )
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        return len(items)

    async def _heartbeat(self) -> None:
        # Keep our claims alive while slow Jira calls run: a lease that ran out would let
        # another worker take an item whose create may still land (a duplicate).
        interval = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            try:
                await self.outbox.extend_claims(self.worker_id, until=self.clock() + self.lease)
            except SyncEngineError:
                log.warning("outbox worker %s could not extend its claims", self.worker_id)

    async def drain(self, *, max_rounds: int = 1000) -> int:
        """Run batches until nothing is due (tests and the CLI); returns items processed."""
        total = 0
        for _ in range(max_rounds):
            claimed = await self.run_once()
            if not claimed:
                break
            total += claimed
        return total

    async def run(self) -> None:
        """Work until :meth:`stop`; then give back any claim still held."""
        try:
            while not self._stopping.is_set():
                self._wakeup.clear()
                try:
                    claimed = await self.run_once()
                except SyncEngineError:
                    log.exception("outbox worker %s: claiming failed; retrying", self.worker_id)
                    claimed = 0
                if claimed:
                    continue
                await self._sleep()
        finally:
            await self.outbox.release(self.worker_id, now=self.clock())

    def stop(self) -> None:
        """Ask :meth:`run` to return after the items in hand."""
        self._stopping.set()
        self._wakeup.set()

    async def _sleep(self) -> None:
        timeout = self.poll_interval
        due = await self.outbox.next_due()
        if due is not None:
            timeout = min(timeout, max((due - self.clock()).total_seconds(), 0.0))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout=timeout)

    async def _run_item(self, item: OutboxWork) -> None:
        with bound(outbox_id=item.id, group_id=item.group_id):
            await self._run_one(item)

    async def _run_one(self, item: OutboxWork) -> None:
        async with self._slots:
            handler = self.handlers.get(item.kind)
            if handler is None:
                await self._kill(item, f"no handler for outbox item kind {item.kind!r}")
                return
            try:
                await handler(item)
            except Exception as exc:  # settled below; nothing escapes the worker
                await self._settle(item, exc)
            else:
                await self._settle(item, None)

    async def _run_batch(self, kind: str, items: list[OutboxWork]) -> None:
        async with self._slots:
            try:
                outcomes = await self.batch_handlers[kind](items)
            except Exception as exc:  # the whole batch failed the same way
                outcomes = dict.fromkeys((item.id for item in items), exc)
            for item in items:
                missing = RuntimeError(f"batch handler for {kind!r} gave no outcome")
                with bound(outbox_id=item.id, group_id=item.group_id):
                    await self._settle(item, outcomes.get(item.id, missing))

    async def _settle(self, item: OutboxWork, error: BaseException | None) -> None:
        if error is None:
            await self.outbox.complete(item.id, self.worker_id, now=self.clock())
            await self.on_outcome(item, None)
        elif isinstance(error, JiraError):
            await self._failed(item, error.user_message(), error.transient, error.retry_after)
        elif isinstance(error, SyncEngineError):
            # A store error says whether it passes (a lock, a lost connection); others do not.
            transient = bool(getattr(error, "transient", False))
            await self._failed(item, str(error), transient=transient, retry_after=None)
        else:
            # A bug must not lose work: keep the item, retry with backoff, log loudly.
            log.error("outbox item %s (%s) failed unexpectedly", item.id, item.kind, exc_info=error)
            await self._failed(item, f"internal error: {type(error).__name__}", True, None)

    async def _failed(
        self, item: OutboxWork, error: str, transient: bool, retry_after: float | None
    ) -> None:
        now = self.clock()
        decision = next_attempt(
            attempts=item.attempts,
            transient=transient,
            retry_after=retry_after,
            now=now,
            policy=self.policy,
            rng=self.rng,
        )
        if isinstance(decision, GiveUp):
            await self._kill(item, error)
            return
        log.warning(
            "outbox item %s (%s) failed, retry in %.1fs: %s",
            item.id,
            item.kind,
            decision.delay_seconds,
            error,
        )
        await self.outbox.retry_later(
            item.id, self.worker_id, error=error, when=decision.when, now=now
        )
        await self.on_outcome(item, error)

    async def _kill(self, item: OutboxWork, error: str) -> None:
        log.error("outbox item %s (%s) is dead: %s", item.id, item.kind, error)
        await self.outbox.kill(item.id, self.worker_id, error=error, now=self.clock())
        await self.on_outcome(item, error)
