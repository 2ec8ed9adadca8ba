"""What real sites need of the client: Jira's words in English, links on the site."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from syncengine.bootstrap.jira_clients import issue_sites
from syncengine.jira import JiraClient
from syncengine.jira.errors import JiraNotFound
from syncengine.settings import Settings

from .conftest import FakeTime, make_config


async def test_every_call_asks_for_english_whatever_the_users_language(
    fake_time: FakeTime,
) -> None:
    # Jira answers in the integration user's profile language unless forced; the engine
    # reads error messages and status, resolution and transition names.
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/myself"):
            return httpx.Response(200, json={"accountId": "a1", "displayName": "Bot"})
        return httpx.Response(404, json={"errorMessages": ["Issue does not exist"]})

    config = make_config(max_retries=0)
    async with JiraClient.open(
        config, transport=httpx.MockTransport(answer), sleep=fake_time.sleep
    ) as client:
        await client.myself()
        with pytest.raises(JiraNotFound):
            await client.add_comment("CRASH-1", "hello")
    assert len(seen) == 2
    for request in seen:
        assert request.headers["Accept-Language"] == "en"
        assert request.headers["X-Force-Accept-Language"] == "true"


def _settings(**jira: Any) -> Settings:
    return Settings.model_validate(
        {"projects": {"shop": {"jira": {"user": "bot", "api_token": "t0ken-abc"} | jira}}}
    )


@pytest.mark.parametrize(
    ("jira", "site"),
    [
        ({"url": "https://jira.corp.example/jira/rest/api/2/"}, "https://jira.corp.example/jira"),
        ({"url": "https://x.atlassian.net/rest/api/3"}, "https://x.atlassian.net"),
        (
            {
                "url": "https://api.atlassian.com/ex/jira/b184c2c2-48c5-59b0-b89a-141a8e010b22",
                "site_url": "https://x.atlassian.net",
            },
            "https://x.atlassian.net",
        ),
        ({"url": "https://x.atlassian.net/secure/Dashboard.jspa"}, None),
        # The bundled simulator: its issue pages are this engine's /jira/browse/KEY.
        ({}, "http://127.0.0.1:8080/jira"),
    ],
    ids=["dc-context-path-rest-root", "cloud-rest-root", "gateway", "unusable-url", "simulated"],
)
def test_browse_links_hang_from_the_site(jira: dict[str, str], site: str | None) -> None:
    assert issue_sites(_settings(**jira)).get("shop") == site
