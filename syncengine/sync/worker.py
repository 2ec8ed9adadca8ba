"""The outbox worker: claims due items, runs them, records each outcome.

It is woken at once when new work is written (:meth:`OutboxWorker.wake`) and
otherwise sleeps until the next item falls due or ``poll_interval`` passes (other
processes write work too). While no project's integration is Active nothing can
be claimed: the worker neither claims nor wakes for work written, it asks one
cheap question each ``poll_interval`` (another process may turn a project Active)
and goes on at once when this process turns one Active (:meth:`OutboxWorker.resume`).
A Jira error decides between a retry with backoff and a dead item; anything
unexpected is retried, never dropped.

When a project's Jira answers again after transient failures (an item succeeded since
the last one, and none failed for ``_QUIET``), the project's items waiting on a backoff
are made due at once: after an outage the tickets owed go out within seconds, not up to
the backoff cap (15 minutes) later. While Jira still fails now and then (a storm of
429s, a flaky proxy) nothing is woken, so no item spends its attempts faster than its
backoff allows. A create whose outcome is unknown keeps its wait for Jira's search.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta

from syncengine.domain.backoff import BackoffPolicy, GiveUp, next_attempt
from syncengine.errors import JiraError, SyncEngineError, WorkTimedOut
from syncengine.jira.budget import Priority, request_priority
from syncengine.jira.errors import JiraNotSent
from syncengine.jira.send_by import send_before
from syncengine.logs import bound
from syncengine.store.create_records import SENT, UNKNOWN, CreateUnsettled, send_by
from syncengine.store.outbox import OutboxRepository, OutboxWork
from syncengine.store.work_kinds import SUPPORT_CREATE, TICKET_CREATE

__all__ = ["WORK_PRIORITIES", "BatchHandler", "Handler", "OutboxWorker", "OutcomeHook"]

log = logging.getLogger(__name__)

_LONGEST_WAIT = 7 * 24 * 3600.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # a claim not in hand: nothing may go out
_QUIET = timedelta(seconds=10)  # no transient Jira failure for this long: Jira answers again

Handler = Callable[[OutboxWork], Awaitable[None]]
# Runs several items of one kind at once (bulk create); returns each item's error or None.
BatchHandler = Callable[[list[OutboxWork]], Awaitable[dict[int, BaseException | None]]]
# Called after every attempt with the error a user should see, or None on success.
OutcomeHook = Callable[[OutboxWork, str | None], Awaitable[None]]

WORK_PRIORITIES: Mapping[str, Priority] = {
    TICKET_CREATE: Priority.CREATE,
    SUPPORT_CREATE: Priority.CREATE,
}
"""The Jira priority of each kind's requests; any other kind's are ``Priority.SYNC`` (a
handler may lower its own calls with ``request_priority(Priority.REFRESH)``)."""


async def _no_hook(_work: OutboxWork, _error: str | None) -> None:
    return None


def _nothing() -> None:
    return None


def _ignore(_error: BaseException) -> None:
    return None


class OutboxWorker:
    """Drains the outbox with bounded concurrency until stopped.

    ``concurrency`` items run at once in all, at most ``project_concurrency`` of them
    for one project, so a project whose Jira is slow cannot take every slot. Each
    claim's items of one project form a *unit* (one bulk call for batch kinds); a
    project with ``project_concurrency`` units in hand is left out of the next claim,
    which :meth:`run` makes as soon as capacity frees, not when a whole batch is done.
    Every item (or batch) ends within ``item_deadline`` seconds: past it, it fails
    as transient and is retried (a create is looked up first).
    """

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
        project_concurrency: int | None = None,
        item_deadline: float = 600.0,
        poll_interval: float = 1.0,
        on_outcome: OutcomeHook = _no_hook,
        batch_handlers: dict[str, BatchHandler] | None = None,
        wakeup: asyncio.Event | None = None,
        progress: Callable[[], None] = _nothing,
        on_crash: Callable[[BaseException], None] = _ignore,
        any_active: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        """``wakeup``: an event others set when they write work (see :meth:`wake`);
        ``any_active``: whether any project's integration is Active (None: assume so; see
        :meth:`resume`);
        ``progress``: told whenever the worker did work or found none due, ``on_crash`` of
        every unexpected exception of a run (supervision counts both)."""
        self.outbox = outbox
        self.handlers = handlers
        self.batch_handlers = batch_handlers if batch_handlers is not None else {}
        self.worker_id = worker_id
        self.clock = clock
        self.policy = policy or BackoffPolicy()
        self.rng = rng or random.Random()  # noqa: S311  # jitter, not cryptography
        self.lease = lease
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.project_concurrency = project_concurrency or max(1, concurrency // 2)
        self.item_deadline = item_deadline
        self.poll_interval = poll_interval
        self.on_outcome = on_outcome
        self._progress = progress
        self._on_crash = on_crash
        self._slots = asyncio.Semaphore(concurrency)
        self._project_slots: dict[int, asyncio.Semaphore] = {}
        self._wakeup = wakeup if wakeup is not None else asyncio.Event()
        self._any_active = any_active
        self._resumed = asyncio.Event()  # set by resume() and stop()
        self._stopping = asyncio.Event()
        self._in_hand: dict[int, OutboxWork] = {}
        # When each claim in hand runs out, as claimed or last extended by the heartbeat.
        self._claim_ends: dict[int, datetime] = {}
        self._started: set[int] = set()
        self._units: dict[asyncio.Task[None], int] = {}
        # Per project id: its last transient Jira failure, and its last success after one.
        self._failing: dict[int, datetime] = {}
        self._answered: dict[int, datetime] = {}

    def wake(self) -> None:
        """New work was written: look for it now rather than at the next poll."""
        self._wakeup.set()

    def resume(self) -> None:
        """A project was turned Active: a worker waiting while all were Passive goes on now."""
        self._resumed.set()
        self._wakeup.set()

    def _units_of(
        self, items: list[OutboxWork], claimed_at: datetime
    ) -> list[tuple[int, list[OutboxWork]]]:
        by_project: dict[int, list[OutboxWork]] = {}
        for item in items:
            by_project.setdefault(item.project_id, []).append(item)
            self._in_hand[item.id] = item
            self._claim_ends[item.id] = claimed_at + self.lease
        return list(by_project.items())

    def _send_by(self, items: list[OutboxWork]) -> Callable[[], datetime]:
        """When the work's Jira requests must have gone out: before the first of its
        claims runs out as this worker last extended them (a process paused past that
        sends nothing: another worker may hold the work by then)."""
        ids = [item.id for item in items]
        ends = self._claim_ends

        def deadline() -> datetime:
            return send_by(min(ends.get(i, _EPOCH) for i in ids))

        return deadline

    async def run_once(self) -> int:
        """Claim one batch of due items and run them all; returns how many were claimed."""
        await self._wake_recovered()
        now = self.clock()
        items = await self.outbox.claim(
            self.worker_id, now=now, lease=self.lease, limit=self.batch_size
        )
        heartbeat = asyncio.create_task(self._heartbeat(), name="outbox-heartbeat")
        try:
            await asyncio.gather(*(self._run_unit(p, u) for p, u in self._units_of(items, now)))
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        return len(items)

    async def _heartbeat(self) -> None:
        # Keep our claims alive while slow Jira calls run: a lease that ran out would let
        # another worker take an item whose create may still land (a duplicate). Only the
        # items in hand: one whose run crashed must expire and be taken over.
        interval = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            until = self.clock() + self.lease
            in_hand = list(self._in_hand)
            if not in_hand:
                continue
            # One statement for every item in hand: one per item took longer than the lease
            # itself with a few hundred in hand on a loaded database, and claims ran out.
            try:
                extended = await self.outbox.extend_claims(in_hand, self.worker_id, until=until)
                for item_id in extended:
                    if item_id in self._claim_ends:
                        self._claim_ends[item_id] = until
            except SyncEngineError:
                log.warning(
                    "outbox worker %s could not extend its %d claims",
                    self.worker_id,
                    len(in_hand),
                )

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
        """Work until :meth:`stop`; then let the items in hand finish and give back any claim.

        Raises whatever unexpected error the loop meets (the supervisor restarts it);
        items in hand keep running meanwhile only until the loop is left.
        """
        heartbeat = asyncio.create_task(self._heartbeat(), name="outbox-heartbeat")
        try:
            while not self._stopping.is_set():
                self._wakeup.clear()
                if not self._units and await self._all_passive():
                    self._progress()  # nothing may run: idle is progress
                    await self._wait_for_resume()
                    continue
                try:
                    claimed = await self._fill()
                except SyncEngineError:
                    log.exception("outbox worker %s: claiming failed; retrying", self.worker_id)
                    claimed = -1
                if claimed > 0:
                    continue
                await self._sleep(nothing_due=claimed == 0)
            if self._units:
                await asyncio.wait(set(self._units))
        finally:
            heartbeat.cancel()
            for unit in list(self._units):
                unit.cancel()
            if self._units:
                await asyncio.wait(set(self._units))
            await self._give_back()

    async def _give_back(self) -> None:
        # Work cut off mid-way may have reached Jira: it is retried as a later attempt (a
        # create is looked up first). Work not begun is released as if never claimed.
        now = self.clock()
        for item_id in sorted(self._started):
            await self.outbox.retry_later(
                item_id, self.worker_id, error="interrupted by a stop; retried", when=now, now=now
            )
        self._started.clear()
        self._in_hand.clear()
        await self.outbox.release(self.worker_id, now=now)

    async def _fill(self) -> int:
        """Claim what capacity allows and start it; 0 when nothing could be claimed."""
        if len(self._units) >= self.concurrency:
            return 0
        in_flight: dict[int, int] = {}
        for project in self._units.values():
            in_flight[project] = in_flight.get(project, 0) + 1
        full = {p for p, n in in_flight.items() if n >= self.project_concurrency}
        await self._wake_recovered()
        now = self.clock()
        items = await self.outbox.claim(
            self.worker_id,
            now=now,
            lease=self.lease,
            limit=self.batch_size,
            exclude_projects=full,
        )
        if not items and not full:
            self._progress()  # nothing due for us: idle is progress
        for project, unit in self._units_of(items, now):
            task = asyncio.create_task(self._run_unit(project, unit), name="outbox-unit")
            self._units[task] = project
            task.add_done_callback(self._unit_done)
        return len(items)

    def _unit_done(self, task: asyncio.Task[None]) -> None:
        self._units.pop(task, None)
        self._wakeup.set()  # capacity freed: claim again

    def stop(self) -> None:
        """Ask :meth:`run` to return after the items in hand."""
        self._stopping.set()
        self._wakeup.set()
        self._resumed.set()

    async def _all_passive(self) -> bool:
        if self._any_active is None:
            return False
        try:
            return not await self._any_active()
        except SyncEngineError:
            return False  # claiming will say what is wrong with the store

    async def _wait_for_resume(self) -> None:
        # Not on the wakeup: work written while every project is Passive cannot run.
        self._resumed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._resumed.wait(), timeout=self.poll_interval)

    async def _sleep(self, *, nothing_due: bool) -> None:
        timeout = self.poll_interval
        if nothing_due:
            due = await self.outbox.next_due()
            if due is not None and due > self.clock():
                timeout = min(timeout, (due - self.clock()).total_seconds())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout=timeout)

    async def _run_unit(self, project_id: int, items: list[OutboxWork]) -> None:
        slots = self._project_slots.setdefault(
            project_id, asyncio.Semaphore(self.project_concurrency)
        )
        batches: dict[str, list[OutboxWork]] = {}
        singles: list[OutboxWork] = []
        for item in items:
            if item.kind in self.batch_handlers:
                batches.setdefault(item.kind, []).append(item)
            else:
                singles.append(item)
        try:
            results = await asyncio.gather(
                *(self._run_item(item, slots) for item in singles),
                *(self._run_batch(kind, batch, slots) for kind, batch in batches.items()),
                return_exceptions=True,
            )
        finally:
            for item in items:
                self._in_hand.pop(item.id, None)
                self._claim_ends.pop(item.id, None)
        for result in results:
            if isinstance(result, asyncio.CancelledError):
                raise result
            if isinstance(result, BaseException):
                # Settling failed (the store, or a bug): the item's claim is no longer renewed,
                # so it expires and the item is taken again, as a later attempt.
                log.error(
                    "outbox worker %s: settling an item failed", self.worker_id, exc_info=result
                )
                self._on_crash(result)

    async def _run_item(self, item: OutboxWork, project_slots: asyncio.Semaphore) -> None:
        with bound(outbox_id=item.id, group_id=item.group_id):
            await self._run_one(item, project_slots)

    async def _run_one(self, item: OutboxWork, project_slots: asyncio.Semaphore) -> None:
        async with project_slots, self._slots:
            handler = self.handlers.get(item.kind)
            if handler is None:
                await self._kill(item, f"no handler for outbox item kind {item.kind!r}")
                return
            self._started.add(item.id)
            error: BaseException | None = None
            try:
                with (
                    request_priority(WORK_PRIORITIES.get(item.kind, Priority.SYNC)),
                    send_before(self._send_by([item]), self.clock),
                ):
                    async with asyncio.timeout(self.item_deadline):
                        await handler(item)
            except TimeoutError:
                error = self._timed_out(item.kind)
            except Exception as exc:  # settled below; nothing escapes the worker
                error = exc
            await self._settle(item, error)
            # Only once settled: work cut off before this is retried by _give_back.
            self._started.discard(item.id)
        self._progress()

    async def _run_batch(
        self, kind: str, items: list[OutboxWork], project_slots: asyncio.Semaphore
    ) -> None:
        async with project_slots, self._slots:
            self._started.update(item.id for item in items)
            try:
                with (
                    request_priority(WORK_PRIORITIES.get(kind, Priority.SYNC)),
                    send_before(self._send_by(items), self.clock),
                ):
                    async with asyncio.timeout(self.item_deadline):
                        outcomes = await self.batch_handlers[kind](items)
            except TimeoutError:
                outcomes = dict.fromkeys((item.id for item in items), self._timed_out(kind))
            except Exception as exc:  # the whole batch failed the same way
                outcomes = dict.fromkeys((item.id for item in items), exc)
            for item in items:
                missing = RuntimeError(f"batch handler for {kind!r} gave no outcome")
                with bound(outbox_id=item.id, group_id=item.group_id):
                    await self._settle(item, outcomes.get(item.id, missing))
                self._started.discard(item.id)
        self._progress()

    def _timed_out(self, kind: str) -> WorkTimedOut:
        return WorkTimedOut(
            f"the {kind} work did not finish within {self.item_deadline:g}s "
            "(outbox_item_deadline_seconds); it is retried"
        )

    async def _settle(self, item: OutboxWork, error: BaseException | None) -> None:
        if error is None:
            await self.outbox.complete(item.id, self.worker_id, now=self.clock())
            await self.on_outcome(item, None)
            if item.project_id in self._failing:
                self._answered[item.project_id] = self.clock()
        elif isinstance(error, JiraError):
            if error.transient and not isinstance(error, CreateUnsettled | JiraNotSent):
                # (neither is Jira's doing)
                self._failing[item.project_id] = self.clock()
            await self._failed(item, error.user_message(), error.transient, error.retry_after)
        elif isinstance(error, SyncEngineError):
            # A store error says whether it passes (a lock, a lost connection); others do not.
            transient = bool(getattr(error, "transient", False))
            await self._failed(item, str(error), transient=transient, retry_after=None)
        else:
            # A bug must not lose work: keep the item, retry with backoff, log loudly.
            log.error("outbox item %s (%s) failed unexpectedly", item.id, item.kind, exc_info=error)
            await self._failed(item, f"internal error: {type(error).__name__}", True, None)

    async def _wake_recovered(self) -> None:
        """Make due the backed-off items of each project whose Jira answers again."""
        now = self.clock()
        for project_id, answered in list(self._answered.items()):
            failed = self._failing[project_id]
            if answered < failed or now - failed < _QUIET:
                continue  # failed again since, or too lately to tell
            try:
                woken = await self.outbox.wake_backoffs(project_id, now=now, keep=(SENT, UNKNOWN))
            except SyncEngineError as exc:  # the items keep their backoff: nothing is lost
                log.warning("could not make backed-off outbox items due: %s", exc)
                return
            del self._answered[project_id], self._failing[project_id]
            if woken:
                log.info(
                    "Jira answers again: %d outbox items waiting on a backoff are due now", woken
                )

    async def _failed(
        self, item: OutboxWork, error: str, transient: bool, retry_after: float | None
    ) -> None:
        now = self.clock()
        if retry_after is not None:
            # Any error may carry a wait (the Jira client caps Jira's own): never one that
            # overflows a date, nor a NaN.
            retry_after = min(retry_after, _LONGEST_WAIT) if retry_after >= 0 else 0.0
        decision = next_attempt(
            attempts=item.attempts,
            transient=transient,
            retry_after=retry_after,
            now=now,
            policy=self.policy,
            rng=self.rng,
        )
        if isinstance(decision, GiveUp):
            # ``exhausted``: a passing failure ran out of attempts (the poll may repair it).
            await self._kill(item, error, exhausted=transient)
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

    async def _kill(self, item: OutboxWork, error: str, *, exhausted: bool = False) -> None:
        log.error("outbox item %s (%s) is dead: %s", item.id, item.kind, error)
        await self.outbox.kill(
            item.id, self.worker_id, error=error, now=self.clock(), exhausted=exhausted
        )
        await self.on_outcome(item, error)
