"""A headless Debian Chromium driven by Playwright, and the servers the browser tests use."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Server, free_port

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    """Fail in CI, skip elsewhere, when Debian's chromium package is not installed."""
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} missing: apt-get install -y chromium (.ci/run does it)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


class JiraSim:
    """``syncengine jira-sim`` as its own process on a free port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = workdir / "sim.toml"
        config.write_text(f'data_dir = "{workdir}/sim-data"\n')
        self.log = workdir / "sim.log"
        self._log_file = self.log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "syncengine", "--config", str(config), "jira-sim",
             "--port", str(self.port)],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"simulator exited:\n{self.log.read_text()}")
            try:
                httpx.get(f"{self.url}/rest/api/2/serverInfo", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"simulator not ready:\n{self.log.read_text()}")

    def client(self) -> httpx.Client:
        """A REST client as the seeded bot user (what a support engineer's tools would use)."""
        return httpx.Client(base_url=self.url, auth=("bot@example.com", "sim-api-token"))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log_file.close()


def wait_until(check: object, *, timeout: float = 20.0, what: str = "condition") -> None:
    """Poll ``check()`` until it is truthy."""
    assert callable(check)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def started(server: Server) -> Iterator[Server]:
    server.wait_ready()
    yield server
    if server.proc.poll() is None:
        server.stop()
    server.close()
