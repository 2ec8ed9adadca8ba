"""A headless Debian Chromium driven by Playwright, and the servers the browser tests use."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server, SimProcess
from tests.passwords import cheap_hash

SESSION_SECRET = "e2e-session-secret-" * 3


def web_config(users: Mapping[str, tuple[str, str]]) -> str:
    """The ``[web]`` block of a browser test's server: a fixed session key and ``users``
    (name -> (password, role)), each with a cheap argon2 hash of their password."""
    blocks = "".join(
        f'\n[web.users.{name}]\npassword_hash = "{cheap_hash(password)}"\nrole = "{role}"\n'
        for name, (password, role) in users.items()
    )
    return f'[web]\nsession_secret = "{SESSION_SECRET}"\n{blocks}\n'


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


class JiraSim(SimProcess):
    """A seeded ``syncengine jira-sim`` process, ready once built."""

    def __init__(self, workdir: Path, *args: str) -> None:
        super().__init__(workdir, *args)
        self.wait_ready()

    def client(self) -> httpx.Client:
        """A REST client as the seeded bot user (what a support engineer's tools would use)."""
        return httpx.Client(base_url=self.url, auth=("bot@example.com", "sim-api-token"))


def shot(page: Page, name: str) -> None:
    """Save a full-page screenshot under test-output/screenshots/ (look at them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, name: str, password: str, *, start: str) -> None:
    """Open ``start``, be sent to the sign-in page, sign in as ``name``, and see it worked."""
    page.goto(start)
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".who .user")).to_contain_text(name)


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
