"""The OAuth 2.0 connect flow in headless Chromium: from the integration page to the Jira
simulator's consent page and back, then a ticket created with the OAuth credentials.

Both are real processes (``syncengine serve`` and ``syncengine jira-sim --flavour
datacenter``); the simulator plays Jira Data Center 8.22+ with an incoming OAuth 2.0
link whose redirect URL is the engine's callback.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Browser, expect, sync_playwright

from tests.e2e.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    JiraSim,
    require_chromium,
    shot,
    sign_in,
    wait_until,
    web_config,
)
from tests.e2e.conftest import Server, free_port

pytestmark = pytest.mark.slow

PASSWORD = "root-password-oauth-1"
TOKEN = "e2e-oauth-token-0123456789abcdef"
CLIENT_ID, CLIENT_SECRET = "syncengine-e2e", "e2e-client-secret-5c1d9a"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[JiraSim]:
    require_chromium()
    simulator = JiraSim(tmp_path, "--flavour", "datacenter")
    yield simulator
    simulator.stop()


def _config(tmp: Path, port: int, sim_url: str) -> Path:
    config = tmp / "syncengine.toml"
    config.write_text(
        f'''data_dir = "{tmp}/data"
public_url = "http://127.0.0.1:{port}"

{web_config({"root": (PASSWORD, "admin")})}
[projects.shop]
name = "Web shop"
submission_tokens = ["{TOKEN}"]

[projects.shop.jira]
url = "{sim_url}"
deployment = "datacenter"
auth = "oauth2"
oauth_client_id = "{CLIENT_ID}"
oauth_client_secret = "{CLIENT_SECRET}"
project_key = "CRASH"
issue_type = "Task"
'''
    )
    return config


def test_connect_with_oauth_from_the_integration_page_then_file_a_ticket(
    sim: JiraSim, tmp_path: Path
) -> None:
    port = free_port()
    callback = f"http://127.0.0.1:{port}/integration/shop/oauth/callback"
    # The Jira administrator's part: an incoming link whose redirect URL is the callback.
    answer = httpx.post(
        f"{sim.url}/_sim/oauth/clients",
        json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uri": callback},
    )
    assert answer.status_code == 204, answer.text
    env = {"SYNCENGINE_SECRET_KEY": Fernet.generate_key().decode()}
    server = Server(_config(tmp_path, port, sim.url), env, port=port)
    try:
        server.wait_ready()
        with sync_playwright() as playwright:
            browser: Browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            context = browser.new_context(base_url=server.url)
            page = context.new_page()
            sign_in(page, "root", PASSWORD, start="/admin/integration")
            section = page.locator("#project-shop")
            expect(section.locator(".oauth-state")).to_contain_text("Not connected")
            shot(page, "oauth-01-not-connected")
            section.get_by_role("button", name="Connect to Jira").click()
            # Jira's consent page, on the simulator.
            expect(page.locator("h1")).to_have_text("Allow access", timeout=30_000)
            assert page.url.startswith(f"{sim.url}/rest/oauth2/latest/authorize?")
            shot(page, "oauth-02-consent")
            page.get_by_role("button", name="Allow").click()
            # Back on the integration page, connected.
            expect(page.locator(".flash-success, .flash")).to_contain_text("connected to Jira")
            expect(section.locator(".oauth-state")).to_contain_text("Connected; renew by")
            shot(page, "oauth-03-connected")
            assert CLIENT_SECRET not in page.content()
            context.close()
            browser.close()

        report = httpx.post(
            f"{server.url}/api/v1/projects/shop/reports",
            json={
                "classifier": "PaymentDeclined",
                "message": "card declined",
                "frames": [{"function": "checkout", "file": "shop/cart.py", "line": 88}],
                "attributes": {"app.version": "2.4.1"},
            },
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert report.status_code == 202, report.text

        def created() -> bool:
            counters = httpx.get(f"{sim.url}/_sim/counters").json()["operations"]
            return any(
                op.startswith("POST /issue") and counts.get("201")
                for op, counts in counters.items()
            )

        wait_until(created, what="the ticket to be created in the simulator with OAuth")
        assert CLIENT_SECRET not in server.log.read_text()
    finally:
        if server.proc.poll() is None:
            server.stop()
        server.close()
