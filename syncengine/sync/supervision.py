"""Supervision of the background loops: the outbox worker and each periodic job.

A loop reports its progress and its crashes here; :class:`Supervision` answers
what ``/readyz`` shows of each (``ok``, ``restarting``, ``stalled``, ``dead``) and
tells a hook of every crash (the composition root counts them in ``/metrics``).
:func:`supervise` keeps a loop running: an unexpected exception is logged with
its traceback, counted, and the loop restarts after a short backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

__all__ = ["LoopReport", "LoopState", "Supervision", "supervise"]

log = logging.getLogger(__name__)

LoopState = Literal["ok", "restarting", "stalled", "dead", "stopped"]
CrashHook = Callable[[str], None]


@dataclass(kw_only=True, slots=True)
class _Loop:
    stall_after: timedelta
    running: bool = False
    dead: bool = False
    crashes: int = 0
    last_crash_at: datetime | None = None
    last_error: str | None = None
    last_progress_at: datetime | None = None
    started_at: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class LoopReport:
    """What readiness shows of one loop; ``state`` is all an anonymous caller sees."""

    state: LoopState
    crashes: int
    last_error: str | None
    last_progress_at: datetime | None

    def details(self) -> dict[str, Any]:
        """The report as JSON values."""
        return {
            "state": self.state,
            "crashes": self.crashes,
            "last_error": self.last_error,
            "last_progress": self.last_progress_at.isoformat() if self.last_progress_at else None,
        }


def _no_hook(_name: str) -> None:
    return None


class Supervision:
    """The health of this process's background loops, by name."""

    def __init__(self, *, clock: Callable[[], datetime], on_crash: CrashHook = _no_hook) -> None:
        self._clock = clock
        self._on_crash = on_crash
        self._loops: dict[str, _Loop] = {}

    def register(self, name: str, *, stall_after: timedelta) -> None:
        """Watch loop ``name``: without progress for ``stall_after`` it is stalled."""
        self._loops[name] = _Loop(stall_after=stall_after)

    def _loop(self, name: str) -> _Loop:
        loop = self._loops.get(name)
        if loop is None:
            loop = self._loops[name] = _Loop(stall_after=timedelta(hours=1))
        return loop

    def started(self, name: str) -> None:
        """The loop (re)started: its stall clock starts now."""
        loop = self._loop(name)
        loop.running, loop.dead = True, False
        loop.started_at = self._clock()

    def stopped(self, name: str, *, dead: bool = False) -> None:
        """The loop ended: on purpose (a graceful stop), or ``dead`` (it will not restart)."""
        loop = self._loop(name)
        loop.running, loop.dead = False, dead

    def progress(self, name: str) -> None:
        """The loop did useful work, or found none due."""
        self._loop(name).last_progress_at = self._clock()

    def crashed(self, name: str, error: BaseException) -> None:
        """The loop (or one of its runs) raised ``error`` unexpectedly."""
        loop = self._loop(name)
        loop.crashes += 1
        loop.last_crash_at = self._clock()
        loop.last_error = f"{type(error).__name__}: {error}"[:300]
        self._on_crash(name)

    def crashes(self, name: str) -> int:
        """How many unexpected exceptions loop ``name`` has met."""
        return self._loop(name).crashes

    @staticmethod
    def healthy(report: LoopReport) -> bool:
        """Whether a loop in this state lets the process count as ready."""
        return report.state in ("ok", "restarting", "stopped")

    def report(self) -> dict[str, LoopReport]:
        """Each watched loop's state now."""
        now = self._clock()
        return {name: self._report(loop, now) for name, loop in self._loops.items()}

    def _report(self, loop: _Loop, now: datetime) -> LoopReport:
        state: LoopState
        since = max((t for t in (loop.last_progress_at, loop.started_at) if t), default=None)
        if loop.started_at is None:
            state = "stopped"
        elif not loop.running:
            state = "dead" if loop.dead else "stopped"
        elif since is not None and now - since > loop.stall_after:
            state = "stalled"
        elif loop.last_crash_at is not None and (since is None or loop.last_crash_at > since):
            state = "restarting"
        else:
            state = "ok"
        return LoopReport(
            state=state,
            crashes=loop.crashes,
            last_error=loop.last_error,
            last_progress_at=loop.last_progress_at,
        )


async def supervise(
    name: str,
    run: Callable[[], Awaitable[None]],
    *,
    supervision: Supervision,
    stopping: asyncio.Event,
    first_delay: float = 0.5,
    max_delay: float = 30.0,
) -> None:
    """Run ``run`` until ``stopping`` is set, restarting it after any unexpected exception.

    A return while not stopping is a restart too (a loop must not end by itself). The
    wait between restarts doubles from ``first_delay`` up to ``max_delay``.
    """
    delay = first_delay
    try:
        while not stopping.is_set():
            supervision.started(name)
            try:
                await run()
            except Exception as exc:  # the supervisor's whole purpose: log, count, restart
                log.exception("background loop %s failed; restarting in %.1fs", name, delay)
                supervision.crashed(name, exc)
            else:
                if stopping.is_set():
                    break
                log.error("background loop %s returned by itself; restarting", name)
                supervision.crashed(name, RuntimeError("the loop returned"))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=delay)
            delay = min(delay * 2, max_delay)
    finally:
        # Ended without a stop being asked for (cancelled, or killed by a BaseException).
        supervision.stopped(name, dead=not stopping.is_set())
