"""The support portal in headless Chromium against the real server and the Jira simulator.

One ``syncengine serve`` and one ``syncengine jira-sim`` process for the module;
each test gets fresh browser contexts (one per signed-in user). Screenshots go to
test-output/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.e2e.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    JiraSim,
    require_chromium,
    shot,
    sign_in,
    started,
    wait_until,
    web_config,
)
from tests.e2e.conftest import Server

pytestmark = pytest.mark.slow

USERS = {"alice": "alice-password-1", "bob": "bob-password-22", "root": "root-password-333"}


def _config(tmp: Path, sim_url: str) -> Path:
    web = web_config(
        {name: (pw, "admin" if name == "root" else "portal") for name, pw in USERS.items()}
    )
    config = tmp / "syncengine.toml"
    config.write_text(
        f'''data_dir = "{tmp}/data"
log_level = "info"

{web}
[projects.portal]
name = "API Portal"

[projects.portal.jira]
url = "{sim_url}"
deployment = "cloud"
api_version = 3
user = "bot@example.com"
api_token = "sim-api-token"
project_key = "SUP"

[projects.portal.sync]
poll_interval_seconds = 1

[projects.portal.support]
enabled = true
labels = ["Bug", "Question", "Feature request"]
categories = ["Bug report", "Question", "Billing"]
api_products = ["Crash API", "Symbols API", "Ingest API"]
category_field = "customfield_10070"
api_product_field = "customfield_10071"
endpoint_field = "customfield_10072"
max_attachment_bytes = 100000
'''
    )
    return config


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JiraSim]:
    require_chromium()
    simulator = JiraSim(tmp_path_factory.mktemp("sim"))
    yield simulator
    simulator.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sim: JiraSim) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("portal")
    yield from started(Server(_config(tmp, sim.url)))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    made: list[BrowserContext] = []
    yield made
    for context in made:
        context.close()


def signed_in(browser: Browser, contexts: list[BrowserContext], server: Server, name: str) -> Page:
    context = browser.new_context(base_url=server.url, viewport={"width": 1366, "height": 860})
    contexts.append(context)
    page = context.new_page()
    sign_in(page, name, USERS[name], start="/")
    return page


def file_request(page: Page, summary: str, attachment: Path | None = None, **fields: str) -> str:
    """Fill and send the New form; returns the detail page's URL."""
    page.goto("/support")
    page.get_by_role("link", name="New").click()
    page.get_by_label("Label").select_option(fields.get("label", "Question"))
    page.get_by_label("Summary").fill(summary)
    page.get_by_label("Description").fill(fields.get("description", "Step 1.\nStep 2."))
    page.get_by_label("Category").select_option(fields.get("category", "Billing"))
    page.get_by_label("API product").select_option(fields.get("api_product", "Symbols API"))
    page.get_by_label("Endpoint").fill(fields.get("endpoint", "/symbols/v1/upload"))
    if attachment is not None:
        page.get_by_label("Attachments").set_input_files(str(attachment))
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".flash-success")).to_contain_text("was filed")
    return page.url


def jira_issue(sim: JiraSim, label: str) -> dict[str, Any] | None:
    with sim.client() as jira:
        found = jira.post(
            "/rest/api/2/search/jql",
            json={"jql": f'project = SUP AND labels = "{label}"', "fields": ["*all"]},
        ).json()
    issues = found.get("issues", [])
    return issues[0] if issues else None


def test_file_request_with_attachment_and_see_jira_comment(
    browser: Browser, contexts: list[BrowserContext], server: Server, sim: JiraSim,
    tmp_path: Path,
) -> None:  # fmt: skip
    page = signed_in(browser, contexts, server, "alice")
    log = tmp_path / "upload-413.txt"
    log.write_text("HTTP/1.1 413 Payload Too Large\n")
    shot(page, "01-list-empty")
    url = file_request(page, "Symbol upload answers 413", log)
    request_id = url.rsplit("/", 1)[1]

    # The key and status appear once Jira answered (the worker runs at once; the page
    # has no script, so reload to see it).
    def has_key() -> bool:
        page.reload()
        heading = page.locator("h1").inner_text()
        return bool(re.search(r"SUP-\d+", heading)) and "To Do" in page.locator("dl").inner_text()

    wait_until(has_key, what="the Jira key and status on the request page")
    key = re.search(r"SUP-\d+", page.locator("h1").inner_text()).group(0)  # type: ignore[union-attr]
    issue = jira_issue(sim, f"syncengine-sr-{request_id}")
    assert issue is not None
    assert issue["key"] == key
    fields = issue["fields"]
    assert fields["summary"] == "Symbol upload answers 413"
    assert fields["customfield_10070"]["value"] == "Billing"
    assert fields["customfield_10071"]["value"] == "Symbols API"
    assert fields["customfield_10072"] == "/symbols/v1/upload"
    assert "Question" in fields["labels"]
    assert [a["filename"] for a in fields["attachment"]] == ["upload-413.txt"]

    # A support engineer answers in Jira (v3: an ADF body), with markup in the text.
    with sim.client() as jira:
        answer = jira.post(
            f"/rest/api/3/issue/{key}/comment",
            json={"body": {"type": "doc", "version": 1, "content": [{"type": "paragraph",
                  "content": [{"type": "text", "text": "Raised the limit <b>now</b>."}]}]}},
        )  # fmt: skip
        assert answer.status_code == 201

    def has_comment() -> bool:
        page.reload()
        return page.locator(".comment").count() == 1

    wait_until(has_comment, what="the Jira comment on the request page")
    expect(page.locator(".comment .text")).to_have_text("Raised the limit <b>now</b>.")
    assert page.locator(".comment b").count() == 0
    with page.expect_download() as download:
        page.get_by_role("link", name="Download").click()
    assert Path(download.value.path()).read_text() == "HTTP/1.1 413 Payload Too Large\n"
    shot(page, "02-request-detail")

    # The requester answers from the page; Jira gets one comment saying who wrote it.
    page.get_by_label("Reply").fill("Thanks, it works <i>now</i>.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator(".flash-success")).to_contain_text("Your reply was added")
    expect(page.locator(".comment").nth(1)).to_contain_text("Thanks, it works <i>now</i>.")

    def in_jira() -> bool:
        with sim.client() as jira:
            found = jira.get(f"/rest/api/2/issue/{key}/comment").json()["comments"]
        return any("alice wrote in the support portal" in c["body"] for c in found)

    wait_until(in_jira, what="the reply as a Jira comment")
    page.reload()
    expect(page.locator(".comment").nth(1)).not_to_contain_text("not sent to Jira yet")
    assert page.locator(".comment").count() == 2
    shot(page, "02b-request-reply")

    page.get_by_role("link", name="← Back").click()
    row = page.locator("table.list tbody tr", has_text=key)
    for text in (key, "Symbol upload answers 413", "To Do", "Question", "Billing", "Symbols API",
                 "/symbols/v1/upload"):  # fmt: skip
        expect(row).to_contain_text(text)
    page.get_by_placeholder("Issue key or summary").fill(key)
    page.get_by_role("button", name="Search").click()
    expect(page.locator("table.list tbody tr")).to_have_count(1)
    shot(page, "03-list")


def test_admin_flips_passive_and_active(
    browser: Browser, contexts: list[BrowserContext], server: Server, sim: JiraSim
) -> None:
    admin = signed_in(browser, contexts, server, "root")
    admin.goto("/admin/integration")
    admin.get_by_role("button", name="Switch to passive").click()
    expect(admin.locator(".pill")).to_have_text("Passive")
    expect(admin.locator(".flash-success")).to_contain_text("nothing is sent to Jira")

    alice = signed_in(browser, contexts, server, "alice")
    url = file_request(alice, "Filed while passive")
    request_id = url.rsplit("/", 1)[1]
    expect(alice.locator(".notice")).to_contain_text("passive")
    expect(alice.locator("dl.facts")).to_contain_text("not sent")
    alice.goto("/support")
    expect(alice.locator("table.list tbody tr", has_text="Filed while passive")).to_contain_text(
        "not sent"
    )
    shot(alice, "04-list-passive")
    assert jira_issue(sim, f"syncengine-sr-{request_id}") is None

    admin.reload()
    shot(admin, "05-integration-passive")
    admin.get_by_role("button", name="Switch to active").click()
    expect(admin.locator(".pill")).to_have_text("Active")
    expect(admin.locator(".history")).to_contain_text("root: deactivated")
    wait_until(
        lambda: jira_issue(sim, f"syncengine-sr-{request_id}") is not None,
        what="the passive request to reach Jira",
    )
    alice.goto(url)

    def has_key() -> bool:
        alice.reload()
        return "SUP-" in alice.locator("h1").inner_text()

    wait_until(has_key, what="the key of the request sent after turning Active")


def test_portal_user_is_kept_to_their_own_requests(
    browser: Browser, contexts: list[BrowserContext], server: Server
) -> None:
    bob = signed_in(browser, contexts, server, "bob")
    bobs = file_request(bob, "Bob's private request")
    alice = signed_in(browser, contexts, server, "alice")
    response = alice.goto(bobs)
    assert response is not None
    assert response.status == 404
    alice.goto("/support")
    expect(alice.locator("body")).not_to_contain_text("Bob's private request")
    response = alice.goto("/admin/integration")
    assert response is not None
    assert response.status == 403
    expect(alice.locator("h1")).to_have_text("Not allowed")
    shot(alice, "06-forbidden")
    api = alice.request.get(f"/api/v1/projects/portal/support-requests/{bobs.rsplit('/', 1)[1]}")
    assert api.status == 404


def test_form_post_without_csrf_token_is_refused(
    browser: Browser, contexts: list[BrowserContext], server: Server
) -> None:
    alice = signed_in(browser, contexts, server, "alice")
    # The browser's own cookie, but no token: what a forged cross-site form would send.
    refused = alice.request.post(
        "/projects/portal/support",
        multipart={"label": "Bug", "summary": "forged", "description": "x"},
    )
    assert refused.status == 403
    assert "security token" in refused.text()
    alice.goto("/support")
    expect(alice.locator("body")).not_to_contain_text("forged")
    # Signing out is a POST as well, and it carries its token from the page.
    alice.get_by_role("button", name="Sign out").click()
    expect(alice).to_have_url(re.compile(r"/login"))


def test_html_in_a_summary_is_shown_as_text(
    browser: Browser, contexts: list[BrowserContext], server: Server
) -> None:
    alice = signed_in(browser, contexts, server, "alice")
    dialogs: list[str] = []
    alice.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    xss = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    file_request(alice, f"Broken {xss}", description=xss)
    expect(alice.locator("h1")).to_contain_text(xss)
    expect(alice.locator(".text").first).to_have_text(xss)
    assert alice.locator("main img").count() == 0
    alice.goto("/support")
    expect(alice.locator("table.list")).to_contain_text(f"Broken {xss}")
    assert alice.locator("main img, main script").count() == 0
    assert dialogs == []
    shot(alice, "07-escaped")
