"""Helpers for tests that run the real ``syncengine`` process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

# Bounds, not speed goals: a machine shared by several test runs (2 cores, load 10) takes
# 10-15 s to start a server that starts in 2 s alone; these stay well above that.
READY_SECONDS = 90.0
STOP_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _new_log(folder: Path) -> Path:
    """``server.log``, or ``server-2.log`` and on when an earlier server of the test has one:
    each process (a restart too) keeps its own output, which a test reads back whole."""
    log = folder / "server.log"
    number = 1
    while log.exists():
        number += 1
        log = folder / f"server-{number}.log"
    return log


class Server:
    """A ``syncengine serve`` subprocess on a free port (or on ``port``: a restart)."""

    def __init__(
        self, config: Path, env: dict[str, str] | None = None, *, port: int | None = None
    ) -> None:
        self._config, self._env = config, env
        # A free port may be taken (by another process's outgoing connection) before the
        # server binds it: then it is started again on another one, once ready is waited.
        self._chosen = port is None
        self.log = _new_log(config.parent)
        self._log_file = self.log.open("w")
        self._start(port or free_port())

    def _start(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "syncengine",
                "--config",
                str(self._config),
                "serve",
                "--port",
                str(self.port),
            ],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(self._env or {})},
        )

    def wait_ready(self, timeout: float = READY_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.log.read_text()
                if self._chosen and "address already in use" in log:
                    self._chosen = False  # once: a second loss is no race
                    self._log_file.seek(0)
                    self._log_file.truncate()  # the log is the started server's alone
                    self._start(free_port())
                    continue
                raise AssertionError(f"server exited early:\n{log}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"server not ready in {timeout}s:\n{self.log.read_text()}")

    def close(self) -> None:
        self._log_file.close()

    def kill(self) -> None:
        """SIGKILL it if it still runs, and close its log (a test's clean-up)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.close()

    def stop(self) -> int:
        self.proc.terminate()
        try:
            code = self.proc.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._log_file.close()
        return code


class SimProcess:
    """``syncengine jira-sim`` as its own process on a free port (it needs no configuration)."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self._folder, self._args = tmp_path, args
        self._retried = False  # the free port taken before it was bound: once, another
        self._start()

    def _start(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self._folder / f"jira-sim-{self.port}.log"
        self._out = self.log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "syncengine", "jira-sim", "--port", str(self.port), *self._args],
            stdout=self._out,
            stderr=subprocess.STDOUT,
            cwd=self._folder,  # no syncengine config there: the simulator must not need one
        )

    def wait_ready(self, timeout: float = READY_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.log.read_text()
                if not self._retried and "address already in use" in log:
                    self._retried = True
                    self.close()
                    self._start()
                    continue
                raise AssertionError(f"jira-sim exited early:\n{log}")
            try:
                httpx.get(f"{self.url}/rest/api/2/serverInfo", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"jira-sim not ready in {timeout}s:\n{self.log.read_text()}")

    def stop(self) -> int:
        self.proc.terminate()
        try:
            code = self.proc.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.close()
        return code

    def close(self) -> None:
        self._out.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[type[Server]]:
    started: list[Server] = []

    class Tracked(Server):
        def __init__(
            self, config: Path, env: dict[str, str] | None = None, *, port: int | None = None
        ) -> None:
            super().__init__(config, env, port=port)
            started.append(self)

    yield Tracked
    for server in started:
        if server.proc.poll() is None:
            server.stop()
        server.close()
