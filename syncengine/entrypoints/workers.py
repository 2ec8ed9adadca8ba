"""``serve --workers N``: one listening socket, served by N processes on this host.

Python runs one thread of Python code at a time, so one process folds and parses
crash reports on about one core whatever the machine has. With ``workers`` above 1
the process the user started becomes a supervisor: it binds the port (already
done by the caller, with ``SO_REUSEPORT``), then forks the workers; each listens on
a socket of its own bound to the same address, and the kernel hands each new
connection to one of them. Worker 0 starts first, alone:
it upgrades the schema, prepares the projects and runs the outbox worker and the
periodic jobs when asked; the others start once it listens and serve the API only.
A 2xx still means stored: each worker folds what it accepted in its own
transactions, into the same database (on SQLite, one write transaction at a time;
the fold's lock wait and retries cover the others').

The supervisor holds no event loop and no thread. It waits for signals with them
blocked (``sigtimedwait``), so a fork always happens in a single-threaded process.
SIGTERM or SIGINT is passed on to every worker as SIGTERM, and the supervisor
returns once all have stopped (each gets its grace period; one still running well
after that is killed). A worker that ends while the server runs is started again;
one that ends before it was listening (a bad config, a database it cannot open)
stops them all, with its exit status. On Linux a worker whose supervisor is killed
outright gets SIGTERM (``PR_SET_PDEATHSIG``): none is left holding the port.
A worker that dies loses the connections still waiting in its own queue (their
clients see a reset and retry; none had an answer).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import struct
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["MAX_WORKERS", "Supervisor", "can_fork"]

MAX_WORKERS = 64
"""A bound on ``workers``."""

_SIGNALS = frozenset({signal.SIGCHLD, signal.SIGTERM, signal.SIGINT})
_TURN_SECONDS = 0.2  # how often the supervisor looks at the ready pipe between signals
_KILL_AFTER_SECONDS = 30.0  # beyond a worker's own grace period, before SIGKILL
_PR_SET_PDEATHSIG = 1
_PID = struct.Struct("=I")  # what a worker writes to the ready pipe: its pid

WorkerMain = Callable[[int, Callable[[], None]], int]
"""Runs worker ``index`` until it stops; calls the given ``ready`` once it listens;
returns its exit status."""


def can_fork() -> bool:
    """True where workers can run: Linux (fork, ``sigtimedwait``, and an ``SO_REUSEPORT``
    that spreads connections; macOS has no ``sigtimedwait`` and its ``SO_REUSEPORT``
    gives every connection to one socket)."""
    return sys.platform == "linux" and hasattr(os, "fork") and hasattr(signal, "sigtimedwait")


@dataclass
class _Worker:
    index: int
    pid: int
    started: float
    ready: bool = False


class Supervisor:
    """Forks ``count`` workers, each running ``main``, and keeps them running.

    ``echo`` says what happens (a line each: started, ended, restarted); ``on_ready``
    is called once every worker listens (say "listening" there); ``grace_seconds`` is
    how long a worker may take to stop after SIGTERM before the supervisor waits no
    more (another 30 s, then SIGKILL).
    """

    def __init__(
        self,
        count: int,
        main: WorkerMain,
        *,
        echo: Callable[[str], None],
        on_ready: Callable[[], None],
        grace_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= count <= MAX_WORKERS:
            raise ValueError(f"workers must be 1 to {MAX_WORKERS}, not {count}")
        self._count = count
        self._main = main
        self._echo = echo
        self._on_ready = on_ready
        self._grace = grace_seconds
        self._clock = clock
        self._workers: dict[int, _Worker] = {}  # by pid
        self._pid = os.getpid()
        self._mask: set[int | signal.Signals] = set()
        self._read_fd = self._write_fd = -1

    def run(self) -> int:
        """Run the workers until SIGTERM or SIGINT (or a worker fails to start); the
        exit status: 0 when every worker stopped cleanly."""
        self._mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        try:
            return self._supervise()
        finally:
            for pid in list(self._workers):  # only after a defect here: leave none behind
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
            os.close(self._read_fd)
            os.close(self._write_fd)
            signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)

    def _supervise(self) -> int:
        self._fork(0)
        rest_started = announced = False
        while True:
            self._read_ready()
            if not rest_started and any(w.ready for w in self._workers.values()):
                for index in range(1, self._count):  # worker 0 has migrated and prepared
                    self._fork(index)
                rest_started = True
            if not announced and rest_started and all(w.ready for w in self._workers.values()):
                announced = True
                self._on_ready()
            info = signal.sigtimedwait(_SIGNALS, _TURN_SECONDS)
            if info is not None and info.si_signo != signal.SIGCHLD:
                return self._stop()
            for worker, status in self._reap():
                if not worker.ready:
                    self._echo(
                        f"worker {worker.index} (pid {worker.pid}) {_ended(status)} before it "
                        "was listening; stopping the others"
                    )
                    self._stop()
                    code = os.waitstatus_to_exitcode(status)
                    return code if code > 0 else 1
                self._echo(
                    f"worker {worker.index} (pid {worker.pid}) {_ended(status)}; starting "
                    "another in its place"
                )
                self._fork(worker.index)

    def _fork(self, index: int) -> _Worker:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the worker: never returns into the supervisor's code
            os._exit(self._child(index))
        worker = _Worker(index, pid, self._clock())
        self._workers[pid] = worker
        return worker

    def _child(self, index: int) -> int:
        code = 1
        try:
            os.close(self._read_fd)
            _die_with(self._pid)
            signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)
            write_fd = self._write_fd

            def ready() -> None:  # one pipe write of at most PIPE_BUF bytes is atomic
                os.write(write_fd, _PID.pack(os.getpid()))

            code = self._main(index, ready)
        except KeyboardInterrupt:
            code = 0
        except BaseException:  # whatever it is: say it, and end this process only
            traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
        return code

    def _read_ready(self) -> None:
        try:
            data = os.read(self._read_fd, 4096 - 4096 % _PID.size)
        except BlockingIOError:
            return
        for (pid,) in _PID.iter_unpack(data):
            worker = self._workers.get(pid)
            if worker is not None:
                worker.ready = True

    def _reap(self) -> list[tuple[_Worker, int]]:
        ended = []
        while self._workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            worker = self._workers.pop(pid, None)
            if worker is not None:
                ended.append((worker, status))
        return ended

    def _stop(self) -> int:
        """SIGTERM to every worker; wait for them; 0 when each stopped cleanly."""
        for pid in self._workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = self._clock() + self._grace + _KILL_AFTER_SECONDS
        failed = False
        while self._workers:
            for worker, status in self._reap():
                if os.waitstatus_to_exitcode(status) != 0:
                    failed = True
                    self._echo(f"worker {worker.index} (pid {worker.pid}) {_ended(status)}")
            if not self._workers:
                break
            if self._clock() > deadline:
                for worker in self._workers.values():
                    self._echo(
                        f"worker {worker.index} (pid {worker.pid}) did not stop within "
                        f"{self._grace + _KILL_AFTER_SECONDS:.0f} s; killing it"
                    )
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(worker.pid, signal.SIGKILL)
                deadline = float("inf")
                failed = True
            signal.sigtimedwait(_SIGNALS, _TURN_SECONDS)  # a second Ctrl-C: the workers got it
        return 1 if failed else 0


def _ended(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        return f"was ended by signal {signal.Signals(-code).name}"
    return f"exited with status {code}"


def _die_with(supervisor: int) -> None:
    """Have the kernel send this process SIGTERM when the supervisor dies (Linux)."""
    if sys.platform != "linux":
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != supervisor:  # it died before the request was made
        os._exit(1)
