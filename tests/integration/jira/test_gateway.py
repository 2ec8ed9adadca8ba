"""Cloud through Atlassian's API gateway: scoped API tokens and service accounts.

A scoped token is good only at ``https://api.atlassian.com/ex/jira/{cloudId}``;
the site answers it 401. The client finds the cloudId from the site's
``/_edge/tenant_info`` (without sending the token there), then sends every call
to the gateway, whose answers link to the gateway host: the client follows none
of those links, and browse links stay on the site.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from syncengine.bootstrap.jira_clients import jira_config
from syncengine.errors import JiraError
from syncengine.jira import JiraClient, JiraConfig
from syncengine.jira.errors import JiraAuthError, JiraPermanentError, JiraUnavailable
from syncengine.jira.simulator import ManualClock, Simulator, create_simulator
from syncengine.settings import JiraSettings

SITE = "https://acme.atlassian.net"
SCOPED = "scoped-token-7f3a91c2"
BUG = {
    "project": {"key": "CRASH"},
    "issuetype": {"name": "Bug"},
    "summary": "Crash in checkout",
    "customfield_10050": {"value": "Major"},
}


class Recording(httpx.AsyncBaseTransport):
    """Passes requests to ``inner`` and keeps each one (URL and headers) to look at."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)


@pytest.fixture
def sim() -> Simulator:
    site = create_simulator("cloud", base_url=SITE, clock=ManualClock())
    site.add_scoped_token("bot@example.com", SCOPED)
    return site


def _client(config: JiraConfig, transport: httpx.AsyncBaseTransport) -> JiraClient:
    return JiraClient.open(config, transport=transport)


def _settings(**values: object) -> JiraSettings:
    return JiraSettings.model_validate(
        {"user": "bot@example.com", "api_token": SCOPED, "api_version": 3} | values
    )


async def _work(client: JiraClient) -> str:
    """What the engine does with an issue: create, read, search, comment, transition."""
    created = await client.create_issue(BUG, properties={"syncengine.group": {"id": "g-1"}})
    issue = await client.get_issue(created.key, properties=["syncengine.group"])
    assert issue.properties == {"syncengine.group": {"id": "g-1"}}
    assert [i.key async for i in client.search("project = CRASH")] == [created.key]
    await client.add_comment(created.key, "Regressed in 2.4.0")
    start = next(t for t in await client.transitions(created.key) if t.name == "Start Progress")
    await client.transition_issue(created.key, start.id)
    return created.key


async def test_a_scoped_token_is_refused_on_the_site(sim: Simulator) -> None:
    config = jira_config(_settings(url=SITE))
    async with _client(config, sim.transport()) as client:
        with pytest.raises(JiraAuthError):
            await client.myself()


async def test_the_cloud_id_is_found_from_the_site_and_every_call_goes_through_the_gateway(
    sim: Simulator,
) -> None:
    transport = Recording(sim.transport())
    config = jira_config(_settings(url=SITE, api_gateway=True))
    async with _client(config, transport) as client:
        key = await _work(client)
    assert sim.issue(key).status_id == "3"
    tenant, *calls = transport.requests
    assert str(tenant.url) == f"{SITE}/_edge/tenant_info"
    assert "authorization" not in tenant.headers  # the token never goes to the site
    gateway = f"https://api.atlassian.com/ex/jira/{sim.state.cloud_id}/rest/api/3/"
    assert calls
    assert all(str(r.url).startswith(gateway) for r in calls), [str(r.url) for r in calls]
    assert all("authorization" in r.headers for r in calls)


async def test_a_gateway_url_is_used_as_given_and_links_stay_on_the_site(sim: Simulator) -> None:
    transport = Recording(sim.transport())
    gateway = f"https://api.atlassian.com/ex/jira/{sim.state.cloud_id}"
    config = jira_config(_settings(url=f"{gateway}/rest/api/2/", site_url=SITE, api_version=2))
    async with _client(config, transport) as client:
        created = await client.create_issue(BUG)
        answer = await client.session.json(
            "GET", f"/issue/{created.key}", context=client.session.context("read")
        )
    # The gateway answers with self links on its own host...
    assert answer["self"].startswith(f"{gateway}/rest/api/2/")
    # ...which the client never follows: all it called is under the gateway, and it never
    # asked the site for the cloudId it was given.
    assert all(str(r.url).startswith(f"{gateway}/rest/api/2/") for r in transport.requests)
    assert config.site == SITE  # browse links and the group's link back hang from here


def _tenant(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.MockTransport:
    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    ("answer", "error", "words"),
    [
        (httpx.Response(404, text="Not Found"), JiraPermanentError, "without a cloudId"),
        (httpx.Response(200, json={"cloudId": "../../admin"}), JiraPermanentError, "cloudId"),
        (httpx.Response(200, content=b"x" * 70_000), JiraPermanentError, "no tenant_info"),
        (httpx.Response(503, text="busy"), JiraUnavailable, "503"),
    ],
    ids=["not-cloud", "not-a-cloud-id", "huge", "down"],
)
async def test_a_site_that_names_no_cloud_id_fails_with_the_fix(
    answer: httpx.Response, error: type[JiraError], words: str
) -> None:
    config = JiraConfig(
        site=SITE,
        find_gateway=True,
        deployment="cloud",
        user="bot@example.com",
        token=SecretStr(SCOPED),
        max_retries=0,
    )
    async with _client(config, _tenant(lambda _request: answer)) as client:
        with pytest.raises(error) as caught:
            await client.myself()
    assert words in str(caught.value)
    if error is JiraPermanentError:
        assert "api.atlassian.com/ex/jira/<cloudId>" in caught.value.fix
