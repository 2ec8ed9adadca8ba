"""A new user's first hour, in a real browser: the README's Quickstart on the default config.

Fresh data folder → ``serve`` → the Quickstart report → sign in with the printed
credentials → the group page links to the ticket's page in the bundled simulator →
restart ``serve`` → a second report makes a second ticket, the first link still
opens, and nothing retries.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium, shot, sign_in
from tests.e2e.conftest import Server

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def _quickstart_body() -> str:
    """The JSON the README's Quickstart posts (so the README stays true)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"-d '(\{.*?\})'", quickstart)
    assert found, "the Quickstart has a curl -d '…' line"
    return found.group(1)


def _printed(log: str, pattern: str) -> str:
    found = re.search(pattern, log)
    assert found, f"{pattern!r} not printed:\n{log}"
    return found.group(1)


def _post(server: Server, token: str, body: str) -> None:
    answer = httpx.post(
        f"{server.url}/api/v1/projects/demo/reports",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 202, answer.text


@pytest.fixture
def browser() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


def _many_attributes(body: str) -> str:
    """The report with six more attributes, some with long values that do not break."""
    report = json.loads(body)
    report["attributes"].update(
        {
            "build_id": "b" * 70,
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0",
            "customer_account_identifier": "acct-0123456789",
            "environment": "production",
            "region": "eu-west-1",
            "hostname": "web-1.eu-west-1.compute.internal.example.com",
        }
    )
    return json.dumps(report)


def _attribute_tables_fit(page: Page) -> None:
    """No attribute table overlaps another, reaches past its card or hides a part."""
    boxes = page.evaluate(
        """() => {
        const card = document.querySelector('.attributes').closest('.card').getBoundingClientRect();
        return [...document.querySelectorAll('.attributes > .attribute')].map(el => {
            const r = el.getBoundingClientRect();
            return {l: r.left, r: r.right, t: r.top, b: r.bottom, cl: card.left, cr: card.right,
                    clipped: el.scrollWidth > el.clientWidth};
        });
    }"""
    )
    assert len(boxes) >= 7, boxes
    for i, a in enumerate(boxes):
        assert a["cl"] <= a["l"], a
        assert a["r"] <= a["cr"], a
        assert not a["clipped"], a
        for b in boxes[i + 1 :]:
            apart = a["r"] <= b["l"] or b["r"] <= a["l"] or a["b"] <= b["t"] or b["b"] <= a["t"]
            assert apart, (a, b)


def _ticket_link(page: Page, server: Server, group_id: int, key: str) -> str:
    """Open the group's page until its ticket is linked; the link's address."""
    link = page.locator("#jira a", has_text=key)
    for _ in range(50):
        page.goto(f"{server.url}/admin/groups/{group_id}")
        if link.count():
            break
        page.wait_for_timeout(200)
    expect(link).to_be_visible()
    href = link.get_attribute("href")
    assert href == f"{server.url}/jira/browse/{key}"
    return href


def test_quickstart_ticket_is_visible_and_survives_a_restart(
    tmp_path: Path, serve: type[Server], browser: Browser
) -> None:
    config = tmp_path / "syncengine.toml"
    shutil.copy(REPO / "config" / "syncengine.toml", config)
    config.write_text(
        config.read_text().replace('data_dir = "data"', f'data_dir = "{tmp_path}/data"')
    )
    first = serve(config)
    first.wait_ready()
    log = first.log.read_text()
    token = _printed(log, r"generated submission token (\S+) \(shown once")
    password = _printed(log, r"as admin, password (\S+) \(shown once")
    assert "Register the webhook" not in log

    _post(first, token, _quickstart_body())
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    sign_in(page, "admin", password, start=f"{first.url}/admin/groups")
    expect(page.locator("main")).not_to_contain_text("Register the webhook")
    href = _ticket_link(page, first, 1, "CRASH-1")
    shot(page, "first-hour-group")
    page.goto(href)
    expect(page.locator("h1")).to_have_text("KeyError: cart is empty")
    expect(page.locator(".status")).to_have_text("To Do")
    expect(page.locator(".description table").first).to_contain_text("Occurrences")
    shot(page, "first-hour-issue")
    assert first.stop() == 0

    second = serve(config, port=first.port)
    second.wait_ready()
    log = second.log.read_text()
    assert "generated submission token" not in log
    assert "with the password printed at first start" in log
    _post(second, token, _many_attributes(_quickstart_body().replace("KeyError", "ValueError")))
    # The sign-in survived the restart: the session key is kept in the data folder.
    page.goto(f"{second.url}/admin/groups")
    expect(page.locator(".who .user")).to_contain_text("admin")
    _ticket_link(page, second, 2, "CRASH-2")
    _attribute_tables_fit(page)
    shot(page, "first-hour-group-attributes")
    page.goto(href)
    expect(page.locator("h1")).to_have_text("KeyError: cart is empty")
    assert second.stop() == 0

    with sqlite3.connect(tmp_path / "data" / "syncengine.db") as db:
        work = db.execute("SELECT kind, state, attempts, last_error FROM outbox").fetchall()
        links = db.execute("SELECT group_id, jira_issue_key FROM issue_links").fetchall()
    assert sorted(links) == [(1, "CRASH-1"), (2, "CRASH-2")]
    assert all(state == "done" and attempts == 1 for _kind, state, attempts, _err in work), work
    assert "IntegrityError" not in second.log.read_text()
    for server in (first, second):
        _quiet(server.log.read_text(), password)


def _quiet(log: str, password: str) -> None:
    """One line per event that matters: no library chatter, no retry, no secret."""
    for chatter in ("alembic", "apscheduler", "uvicorn", "httpx", "retrying", "WARNING"):
        assert chatter not in log, log
    assert "listening on" in log
    assert "syncengine stopped" in log
    assert log.count(password) <= 1  # printed once, at the first start
    assert len(log.splitlines()) < 15, log
