"""The webhook receiver: signatures, URL tokens, duplicates, failures Jira retries."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from syncengine.bootstrap import Container, bootstrap, prepare_projects
from syncengine.domain.webhooks import Handled, JiraEvent, applied, combine, sign
from syncengine.settings import load_settings
from syncengine.sync.webhook_inbox import EventHandler
from syncengine.web import create_app
from tests.asgi_calls import hang_up_mid_body
from tests.webhook_bodies import recorded

SECRET = "hook-secret-0123456789"
URL = "/api/v1/jira/webhooks/shop"


@pytest.fixture
def handlers() -> list[EventHandler]:
    """Event handlers a test adds; the engine is built with a relay to them."""
    return []


@pytest.fixture
async def app_container(tmp_path: Path, handlers: list[EventHandler]) -> AsyncIterator[Container]:
    async def relay(project: str, event: JiraEvent) -> Handled | None:
        answers = [await handler(project, event) for handler in handlers]
        return combine(answers) if any(answers) else None

    path = tmp_path / "c.toml"
    path.write_text(
        f'data_dir = "{tmp_path}/data"\n[projects.shop]\n[projects.shop.jira]\n'
        f'webhook_secret = "{SECRET}"\n[projects.quiet]\n',
        encoding="utf-8",
    )
    container = await bootstrap(load_settings(path), event_handlers=[relay])
    await prepare_projects(container, lambda _line: None)
    yield container
    await container.aclose()


def client(container: Container) -> httpx.AsyncClient:
    app = create_app(container.web)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


def body(name: str = "webhook-issue-updated-resolved.json") -> bytes:
    return recorded(name)


async def test_signed_delivery_is_handled_once(
    app_container: Container, handlers: list[EventHandler]
) -> None:
    seen: list[tuple[str, JiraEvent]] = []

    async def handler(project: str, event: JiraEvent) -> None:
        seen.append((project, event))

    handlers.append(handler)
    payload = body()
    headers = {
        "X-Hub-Signature": sign(SECRET.encode(), payload),
        "X-Atlassian-Webhook-Identifier": "delivery-1",
    }
    async with client(app_container) as http:
        first = await http.post(URL, content=payload, headers=headers)
        retry = await http.post(
            URL, content=payload, headers={**headers, "X-Atlassian-Webhook-Retry": "1"}
        )
    # no group is linked to TES-41, so the engine's sync ignores it, and says why
    assert first.json() == {
        "status": "ignored",
        "reason": "not linked: issue 10040 is not linked to an error group",
        "delivery": "atl:delivery-1",
    }
    assert retry.json()["status"] == "duplicate"
    assert [(p, e.issue_key) for p, e in seen] == [("shop", "TES-41")]
    project = await app_container.projects.get("shop")
    assert project is not None
    cursor = await app_container.cursors.get(project.id)
    assert cursor.last_webhook_at is not None


async def test_without_identifier_dedupes_on_issue_and_changelog(app_container: Container) -> None:
    payload = body()
    headers = {"X-Hub-Signature": sign(SECRET.encode(), payload)}
    async with client(app_container) as http:
        assert (await http.post(URL, content=payload, headers=headers)).json()[
            "status"
        ] == "ignored"
        again = await http.post(URL, content=payload, headers=headers)
    assert again.json() == {"status": "duplicate", "delivery": "10040:jira:issue_updated:10228"}


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({}, ""),
        ({"X-Hub-Signature": "sha256=" + "0" * 64}, ""),
        ({"X-Hub-Signature": sign(b"other-secret", body())}, ""),
        ({}, "?token=wrong"),
        ({"X-Hub-Signature": "sha256=caf\xe9".encode("latin-1")}, ""),
        ({}, "?token=caf%C3%A9"),
    ],
    ids=["unsigned", "bad-digest", "other-secret", "bad-url-token", "non-ascii", "non-ascii-url"],
)
async def test_unauthentic_deliveries_get_401_and_change_nothing(
    app_container: Container,
    handlers: list[EventHandler],
    headers: dict[str, str | bytes],
    query: str,
) -> None:
    called: list[JiraEvent] = []

    async def handler(project: str, event: JiraEvent) -> None:
        called.append(event)

    handlers.append(handler)
    async with client(app_container) as http:
        answer = await http.post(URL + query, content=body(), headers=headers)
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert SECRET not in answer.text
    assert called == []
    project = await app_container.projects.get("shop")
    assert project is not None
    assert await app_container.cursors.seen(project.id) == []


async def test_url_token_is_accepted_where_jira_cannot_sign(app_container: Container) -> None:
    async with client(app_container) as http:
        answer = await http.post(f"{URL}?token={SECRET}", content=body())
    assert answer.json()["status"] == "ignored"


async def test_unconfigured_and_unknown_projects_look_the_same(app_container: Container) -> None:
    async with client(app_container) as http:
        quiet = await http.post("/api/v1/jira/webhooks/quiet", content=body())
        unknown = await http.post("/api/v1/jira/webhooks/nope", content=body())
    assert quiet.status_code == unknown.status_code == 401
    assert quiet.json()["detail"] == unknown.json()["detail"]


async def test_failed_handling_is_forgotten_so_jira_retry_works(
    app_container: Container, handlers: list[EventHandler]
) -> None:
    attempts: list[int] = []

    async def flaky(project: str, event: JiraEvent) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("database hiccup")

    handlers.append(flaky)
    payload = body()
    headers = {
        "X-Hub-Signature": sign(SECRET.encode(), payload),
        "X-Atlassian-Webhook-Identifier": "d-2",
    }
    async with client(app_container) as http:
        failed = await http.post(URL, content=payload, headers=headers)
        retried = await http.post(URL, content=payload, headers=headers)
    assert failed.status_code == 500
    assert retried.json()["status"] == "ignored"
    assert len(attempts) == 2


async def test_bad_json_is_a_400(app_container: Container) -> None:
    payload = b"{not json"
    async with client(app_container) as http:
        answer = await http.post(
            URL, content=payload, headers={"X-Hub-Signature": sign(SECRET.encode(), payload)}
        )
    assert answer.status_code == 400
    assert "not a Jira issue event" in answer.json()["detail"]
    assert json.loads(answer.text)["status"] == 400


async def test_a_handler_that_applies_makes_the_answer_applied(
    app_container: Container, handlers: list[EventHandler]
) -> None:
    async def taker(project: str, event: JiraEvent) -> Handled:
        return applied()

    handlers.append(taker)
    payload = body()
    async with client(app_container) as http:
        answer = await http.post(
            URL, content=payload, headers={"X-Hub-Signature": sign(SECRET.encode(), payload)}
        )
    assert answer.json() == {"status": "applied", "delivery": "10040:jira:issue_updated:10228"}


async def test_data_center_comment_and_timestamp_less_deliveries_are_accepted(
    app_container: Container,
) -> None:
    comment = json.dumps(
        {
            "webhookEvent": "comment_created",  # no issue object, and no timestamp either
            "comment": {
                "self": "https://dc.example.com/rest/api/2/issue/10148/comment/7",
                "id": "7",
            },
        }
    ).encode()
    edited = comment.replace(b'"id": "7"', b'"id": "7", "body": "edited"')
    headers = {"X-Hub-Signature": sign(SECRET.encode(), comment)}
    async with client(app_container) as http:
        first = await http.post(URL, content=comment, headers=headers)
        again = await http.post(URL, content=comment, headers=headers)
        other = await http.post(
            URL, content=edited, headers={"X-Hub-Signature": sign(SECRET.encode(), edited)}
        )
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "ignored"
    assert first.json()["delivery"].startswith("10148:body:")
    assert again.json() == {"status": "duplicate", "delivery": first.json()["delivery"]}
    assert other.json()["status"] == "ignored"  # an edit of the same comment is a new delivery


async def test_a_sender_that_hangs_up_mid_body_is_no_error(
    app_container: Container, handlers: list[EventHandler], caplog: pytest.LogCaptureFixture
) -> None:
    # Jira (or a proxy) cut the connection after half the body: ASGI says http.disconnect.
    seen: list[JiraEvent] = []

    async def handler(project: str, event: JiraEvent) -> Handled | None:
        seen.append(event)
        return None

    handlers.append(handler)
    caplog.set_level(logging.INFO, logger="syncengine.web")
    app = create_app(app_container.web)
    whole = body()
    signature = (b"x-hub-signature", sign(SECRET.encode(), whole).encode())
    # No exception reaches the server (no traceback logged).
    await hang_up_mid_body(app, URL, whole, [signature])
    assert seen == []  # half a delivery is no delivery
    assert "hung up" in caplog.text
    async with client(app_container) as jira:  # the whole delivery, sent again, is handled
        answer = await jira.post(
            URL,
            content=whole,
            headers={
                "X-Hub-Signature": sign(SECRET.encode(), whole),
                "Content-Type": "application/json",
            },
        )
    assert answer.status_code == 200, answer.text
    assert len(seen) == 1
