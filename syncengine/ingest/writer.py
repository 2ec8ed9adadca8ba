"""The batching writer: reports of many requests, folded into one transaction per batch.

A commit costs about the same for ten reports as for ten thousand (it is the
pages it dirties, and a sync), so the writer gathers what concurrent requests
submit and writes it together:

- a batch is cut when it holds ``max_reports`` reports or its oldest
  submission has waited ``max_delay`` seconds; while one batch is being written
  the next one fills, so under load batches grow on their own;
- a submission is never split: it lands in one batch, whole, or fails whole;
- each :meth:`BatchWriter.submit` resolves only once its batch has committed;
- a batch that fails on its data (a constraint, a bad value) is split and
  retried, so only the submissions that cause the failure get the error; one
  that fails for a passing reason (a deadlock, a lock timeout, a dropped
  connection) is retried a few times before its submitters get a StoreError;
- at most ``max_pending_reports`` reports wait at once; a submitter beyond that
  waits for room (backpressure), so memory stays bounded under any load;
- :meth:`BatchWriter.aclose` writes everything already accepted before it returns.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from syncengine.domain.reports import CrashReport
from syncengine.errors import BadReport, StoreBusy, StoreError, StoreRejected
from syncengine.ingest.sink import Accepted
from syncengine.settings import IngestSettings
from syncengine.store.groups import FIELD_LIMITS, Assigned, GroupRepository

__all__ = ["BatchWriter", "WriterStats"]

log = logging.getLogger(__name__)

_RETRY_DELAYS = (0.05, 0.25, 1.0)  # seconds before each retry of a batch after a passing error


@dataclass(kw_only=True, slots=True)
class WriterStats:
    """What the writer has done since it started."""

    batches: int = 0
    reports: int = 0
    failed_batches: int = 0
    retries: int = 0


@dataclass(eq=False, slots=True)
class _Submission:
    project_id: int
    reports: Sequence[CrashReport]
    future: asyncio.Future[list[Accepted]]
    arrived: float


class BatchWriter:
    """A :class:`~syncengine.ingest.sink.ReportSink` writing through a :class:`GroupRepository`.

    ``clock`` gives the aware UTC time stamped on updated groups.
    """

    def __init__(
        self,
        repository: GroupRepository,
        *,
        clock: Callable[[], datetime],
        max_reports: int = 5000,
        max_delay: float = 0.05,
        max_pending_reports: int | None = None,
    ) -> None:
        self._repository = repository
        self._clock = clock
        self._max_reports = max_reports
        self._max_delay = max_delay
        self._max_pending = max_pending_reports or 4 * max_reports
        self._pending: deque[_Submission] = deque()
        self._pending_reports = 0
        self._queued_reports = 0  # waiting or being written: what backpressure bounds
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.stats = WriterStats()

    @classmethod
    def from_settings(
        cls, repository: GroupRepository, settings: IngestSettings, *, clock: Callable[[], datetime]
    ) -> BatchWriter:
        """A writer batching as ``settings`` say."""
        return cls(
            repository,
            clock=clock,
            max_reports=settings.batch_max_reports,
            max_delay=settings.batch_max_delay_ms / 1000,
        )

    @property
    def queued_reports(self) -> int:
        """Reports accepted and not yet written (waiting or in the batch being written)."""
        return self._queued_reports

    def start(self) -> None:
        """Start writing (:meth:`submit` also starts the writer when needed)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="batch-writer")

    async def submit(self, project_id: int, reports: Sequence[CrashReport]) -> list[Accepted]:
        """Store ``reports`` of project ``project_id``; resolves once they are committed.

        Returns one :class:`Accepted` per report, in order. Raises BadReport when
        a report has no fingerprint or a field longer than the store keeps (nothing
        of the submission is stored), StoreError when the batch could not be
        written or the writer is closed.
        """
        _check(reports)
        if not reports:
            return []
        while self._queued_reports and self._queued_reports + len(reports) > self._max_pending:
            if self._closing:
                break
            self._room.clear()
            await self._room.wait()
        if self._closing:
            raise StoreError("the ingest writer is shutting down; retry against a running server")
        self.start()
        loop = asyncio.get_running_loop()
        submission = _Submission(project_id, reports, loop.create_future(), loop.time())
        self._pending.append(submission)
        self._pending_reports += len(reports)
        self._queued_reports += len(reports)
        self._wake.set()
        # Shielded: a submitter that goes away does not un-write its reports.
        return await asyncio.shield(submission.future)

    async def aclose(self) -> None:
        """Write every submission already accepted, then stop."""
        self._closing = True
        self._wake.set()
        self._room.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            deadline = self._pending[0].arrived + self._max_delay
            while self._pending_reports < self._max_reports and not self._closing:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), remaining)
                except TimeoutError:
                    break
            batch = self._take()
            try:
                await self._write(batch)
            except Exception as exc:  # a bug must not stop the writer and strand every submitter
                log.exception("ingest writer failed on a batch")
                _fail(batch, StoreError(f"storing the batch failed: {exc}"))
            finally:
                self._queued_reports -= sum(len(s.reports) for s in batch)
                self._room.set()

    def _take(self) -> list[_Submission]:
        batch: list[_Submission] = []
        size = 0
        pending = self._pending
        while pending and (not batch or size + len(pending[0].reports) <= self._max_reports):
            submission = pending.popleft()
            batch.append(submission)
            size += len(submission.reports)
        self._pending_reports -= size
        return batch

    async def _write(self, batch: list[_Submission]) -> None:
        attempt = 0
        while True:
            try:
                results = await self._repository.fold(
                    [(s.project_id, s.reports) for s in batch], now=self._clock()
                )
            except StoreError as exc:
                if isinstance(exc, StoreRejected) and len(batch) > 1:
                    # Split so only the submissions that cause the failure see it.
                    self.stats.retries += 1
                    middle = len(batch) // 2
                    await self._write(batch[:middle])
                    await self._write(batch[middle:])
                    return
                if isinstance(exc, StoreBusy) and attempt < len(_RETRY_DELAYS):
                    self.stats.retries += 1
                    await asyncio.sleep(_RETRY_DELAYS[attempt])
                    attempt += 1
                    continue
                log.warning("a batch of %d submissions failed: %s", len(batch), exc)
                self.stats.failed_batches += 1
                _fail(batch, exc)
                return
            break
        self.stats.batches += 1
        for submission, assigned in zip(batch, results, strict=True):
            self.stats.reports += len(assigned)
            if not submission.future.done():
                submission.future.set_result(_accepted(assigned))


def _accepted(assigned: list[Assigned]) -> list[Accepted]:
    return [Accepted(group_id=a.group_id, new_group=a.new_group) for a in assigned]


def _fail(batch: list[_Submission], exc: StoreError) -> None:
    for submission in batch:
        if not submission.future.done():
            submission.future.set_exception(exc)


def _check(reports: Sequence[CrashReport]) -> None:
    """Raise BadReport for a report the store cannot keep as it is."""
    for index, report in enumerate(reports):
        if not report.fingerprint:
            raise BadReport(f"report {index}: no fingerprint (derive one before submitting)")
        fields = [("fingerprint", report.fingerprint), ("classifier", report.classifier)]
        if report.version is not None:
            fields.append(("version", report.version))
        for name, value in fields:
            if len(value) > FIELD_LIMITS[name]:
                raise BadReport(
                    f"report {index}: {name} is {len(value)} characters; "
                    f"the most kept is {FIELD_LIMITS[name]}"
                )
        for key, value in report.attributes.items():
            if len(key) > FIELD_LIMITS["attribute name"]:
                raise BadReport(
                    f"report {index}: attribute name {key[:40]!r}… is longer than "
                    f"{FIELD_LIMITS['attribute name']} characters"
                )
            if len(value) > FIELD_LIMITS["attribute value"]:
                raise BadReport(
                    f"report {index}: attribute {key!r} is longer than "
                    f"{FIELD_LIMITS['attribute value']} characters"
                )
