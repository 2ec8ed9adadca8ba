"""The batching writer: reports of many requests, folded into one transaction per batch.

A commit costs about the same for ten reports as for ten thousand (it is the
pages it dirties, and a sync), so the writer gathers what concurrent requests
submit and writes it together:

- a batch is cut when it holds ``max_reports`` reports or its oldest
  submission has waited ``max_delay`` seconds; while one batch is being written
  the next one fills, so under load batches grow on their own;
- with :class:`Arrivals` (the HTTP intake counts the requests it is reading), an
  idle writer does not wait for the clock when no submission is on its way: it
  writes at once, so concurrent single-event requests share one commit without
  each waiting ``max_delay`` (group commit);
- a submission is never split: it lands in one batch, whole, or fails whole (one
  that cannot even be folded fails alone, the batch folded again without it);
- each :meth:`BatchWriter.submit` resolves only once its batch has committed;
- a batch that fails on its data (a constraint, a bad value) or with an error
  outside the store's tree (a defect one report's data sets off) is split and
  retried, so only the submissions that cause the failure get the error; one
  that fails for a passing reason (a deadlock, a lock timeout, a dropped
  connection) is retried a few times before its submitters get a StoreError;
- at most ``max_pending_reports`` reports wait at once; a submitter beyond that
  waits for room (backpressure), so memory stays bounded under any load;
- :meth:`BatchWriter.aclose` writes everything already accepted before it returns.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from syncengine.domain.reports import CrashReport
from syncengine.errors import BadReport, StoreBusy, StoreError, StoreRejected
from syncengine.ingest.sink import Accepted
from syncengine.store.batch_fold import Assigned, BatchFold
from syncengine.store.groups import FIELD_LIMITS, GroupRepository

__all__ = ["Arrival", "Arrivals", "BatchWriter", "WriterStats", "tune_gc_for_ingest"]

log = logging.getLogger(__name__)

_RETRY_DELAYS = (0.05, 0.25, 1.0)  # seconds before each retry of a batch after a passing error
_SETTLE_TURNS = 3  # loop turns an idle writer yields before writing with no request on its way


def tune_gc_for_ingest() -> None:
    """Collect the youngest generation every 50,000 allocations instead of every 700.

    Ingest keeps tens of thousands of reports alive per batch and allocates
    millions of short-lived objects; with the default thresholds the cyclic
    collector walks those batches again and again and takes about a third of the
    CPU (measured with bench/ingest.py). Process-wide: call it from the composition root.
    """
    gc.set_threshold(50_000, 20, 100)


class Arrivals:
    """How many submissions are on their way to the writer (requests still being read).

    The intake calls :meth:`expect` when a request starts and :meth:`Arrival.done`
    once it has submitted (or failed); the writer writes its open batch as soon as
    none is on its way, instead of waiting for ``max_delay``.
    """

    __slots__ = ("_settled", "waiting")

    def __init__(self) -> None:
        self.waiting = 0
        self._settled: Callable[[], None] | None = None

    def expect(self) -> Arrival:
        """Count one more submission on its way; call ``done()`` on the answer once."""
        self.waiting += 1
        return Arrival(self)

    def on_settled(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` each time the last submission on its way has arrived."""
        self._settled = callback

    def _arrived(self) -> None:
        self.waiting -= 1
        if not self.waiting and self._settled is not None:
            self._settled()


class Arrival:
    """One expected submission; :meth:`done` may be called any number of times."""

    __slots__ = ("_of",)

    def __init__(self, of: Arrivals) -> None:
        self._of: Arrivals | None = of

    def done(self) -> None:
        """It has been submitted, or will not be."""
        if self._of is not None:
            self._of._arrived()
            self._of = None


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


@dataclass(eq=False, slots=True)
class _Batch:
    fold: BatchFold
    opened: float
    submissions: list[_Submission] = field(default_factory=list)


class BatchWriter:
    """A :class:`~syncengine.ingest.sink.ReportSink` writing through a :class:`GroupRepository`.

    Submissions are folded into the open batch as they arrive, so that work
    overlaps the database writing the previous batch. ``clock`` gives the aware
    UTC time stamped on updated groups.
    """

    def __init__(
        self,
        repository: GroupRepository,
        *,
        clock: Callable[[], datetime],
        max_reports: int = 5000,
        max_delay: float = 0.05,
        max_pending_reports: int | None = None,
        arrivals: Arrivals | None = None,
    ) -> None:
        self._repository = repository
        self._arrivals = arrivals
        if arrivals is not None:
            arrivals.on_settled(self._settled)
        self._clock = clock
        self._max_reports = max_reports
        self._max_delay = max_delay
        self._max_pending = max_pending_reports or 4 * max_reports
        self._open: _Batch | None = None
        self._ready: deque[_Batch] = deque()
        self._queued_reports = 0  # waiting or being written: what backpressure bounds
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.stats = WriterStats()

    def _settled(self) -> None:
        if self._open is not None:
            self._wake.set()

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
        a report has no fingerprint or a field longer than the store keeps, or the
        reports cannot be folded (nothing of the submission is stored), StoreError
        when the batch could not be written or the writer is closed.
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
        batch = self._open
        if batch is None:
            batch = self._open = _Batch(self._repository.new_batch(), loop.time())
        submission = _Submission(project_id, reports, loop.create_future())
        try:
            batch.fold.add(project_id, reports)
        except Exception as exc:
            # Half folded, it would be written with the others: fold them again without it.
            log.exception("a submission could not be folded into its batch")
            batch.fold = self._refold(batch.submissions).fold
            raise BadReport(f"the reports could not be stored: {exc}") from exc
        batch.submissions.append(submission)
        self._queued_reports += len(reports)
        if batch.fold.reports >= self._max_reports:
            self._ready.append(batch)
            self._open = None
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
            if not self._ready and self._open is None:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            while not self._ready and self._open is not None and not self._closing:
                if await self._nobody_on_the_way():
                    break  # waiting would only add latency
                if self._ready or self._open is None:
                    break  # filled while the loop turned: write it
                remaining = self._open.opened + self._max_delay - loop.time()
                if remaining <= 0:
                    break
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), remaining)
                except TimeoutError:
                    break
            if self._ready:
                batch = self._ready.popleft()
            else:
                assert self._open is not None
                batch, self._open = self._open, None
            try:
                await self._write(batch)
            except Exception as exc:  # a bug must not stop the writer and strand every submitter
                log.exception("ingest writer failed on a batch")
                _fail(batch.submissions, StoreError(f"storing the batch failed: {exc}"))
            finally:
                self._queued_reports -= batch.fold.reports
                self._room.set()

    async def _nobody_on_the_way(self) -> bool:
        """True when no request is on its way to the intake (never without Arrivals)."""
        if self._arrivals is None or self._arrivals.waiting:
            return False
        # Requests already read from their sockets reach the intake within a turn or
        # two of the loop: give them those turns before deciding.
        for _ in range(_SETTLE_TURNS):
            await asyncio.sleep(0)
        return not self._arrivals.waiting

    async def _write(self, batch: _Batch) -> None:
        attempt = 0
        while True:
            try:
                results = await self._repository.write(batch.fold, now=self._clock())
            except StoreRejected as exc:
                await self._isolate(batch, exc)
                return
            except StoreBusy as exc:
                if attempt == len(_RETRY_DELAYS):
                    self._failed(batch, exc)
                    return
                self.stats.retries += 1
                await asyncio.sleep(_RETRY_DELAYS[attempt])
                attempt += 1
                continue
            except StoreError as exc:
                self._failed(batch, exc)
                return
            except Exception as exc:  # a defect, perhaps set off by one report's data
                await self._isolate(batch, exc)
                return
            break
        self.stats.batches += 1
        self.stats.reports += batch.fold.reports
        accepted: dict[int, Accepted] = {}
        for submission, assigned in zip(batch.submissions, results, strict=True):
            if not submission.future.done():
                submission.future.set_result(_accepted(assigned, accepted))

    async def _isolate(self, batch: _Batch, exc: Exception) -> None:
        """Split ``batch`` until only the submissions that make ``exc`` happen see it."""
        if len(batch.submissions) == 1:
            self._failed(batch, _rejected(exc))
            return
        self.stats.retries += 1
        middle = len(batch.submissions) // 2
        for half in (batch.submissions[:middle], batch.submissions[middle:]):
            await self._write(self._refold(half))

    def _refold(self, submissions: list[_Submission]) -> _Batch:
        fold = self._repository.new_batch()
        for submission in submissions:
            fold.add(submission.project_id, submission.reports)
        return _Batch(fold, 0.0, submissions)

    def _failed(self, batch: _Batch, exc: StoreError) -> None:
        log.warning("a batch of %d submissions failed: %s", len(batch.submissions), exc)
        self.stats.failed_batches += 1
        _fail(batch.submissions, exc)


def _rejected(exc: Exception) -> StoreError:
    """The error a lone failing submission gets: a defect is logged and answered as a rejection."""
    if isinstance(exc, StoreError):
        return exc
    log.error("storing a submission failed unexpectedly", exc_info=exc)
    return StoreRejected(f"storing the reports failed: {type(exc).__name__}: {exc}")


def _accepted(assigned: list[Assigned], cache: dict[int, Accepted]) -> list[Accepted]:
    out = []
    for item in assigned:
        # One Accepted per group, shared by its reports (thousands per batch).
        value = cache.get(item.group_id)
        if value is None:
            value = cache[item.group_id] = Accepted(
                group_id=item.group_id, new_group=item.new_group
            )
        out.append(value)
    return out


def _fail(submissions: list[_Submission], exc: StoreError) -> None:
    for submission in submissions:
        if not submission.future.done():
            submission.future.set_exception(exc)


def _check(reports: Sequence[CrashReport]) -> None:
    """Raise BadReport for a report the store cannot keep as it is."""
    # Runs for every report: cheap length checks first, the message only on failure.
    fp_max, cls_max, ver_max = (FIELD_LIMITS[k] for k in ("fingerprint", "classifier", "version"))
    key_max, value_max = FIELD_LIMITS["attribute name"], FIELD_LIMITS["attribute value"]
    for index, report in enumerate(reports):
        fingerprint, version = report.fingerprint, report.version
        if not fingerprint:
            raise BadReport(f"report {index}: no fingerprint (derive one before submitting)")
        if (
            len(fingerprint) > fp_max
            or len(report.classifier) > cls_max
            or (version is not None and len(version) > ver_max)
        ):
            _too_long(index, report)
        for key, value in report.attributes.items():
            if len(key) > key_max:
                raise BadReport(
                    f"report {index}: attribute name {key[:40]!r}… is longer than "
                    f"{key_max} characters"
                )
            if len(value) > value_max:
                raise BadReport(
                    f"report {index}: attribute {key!r} is longer than {value_max} characters"
                )


def _too_long(index: int, report: CrashReport) -> None:
    for name, value in (
        ("fingerprint", report.fingerprint or ""),
        ("classifier", report.classifier),
        ("version", report.version or ""),
    ):
        if len(value) > FIELD_LIMITS[name]:
            raise BadReport(
                f"report {index}: {name} is {len(value)} characters; "
                f"the most kept is {FIELD_LIMITS[name]}"
            )
