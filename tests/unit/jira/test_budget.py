"""The site's request budget as the session spends it: priorities, 429 pauses, quota headers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import respx

from syncengine.jira import JiraClient, JiraRequestShed, Priority, request_priority
from syncengine.jira.budget import current_priority
from syncengine.jira.errors import JiraRateLimited
from syncengine.jira.limit_headers import read_limit_headers
from syncengine.jira.retry import SiteLimiters

from .conftest import SITE, FakeTime, make_config

MYSELF = f"{SITE}/rest/api/3/myself"
ME = {"accountId": "a", "displayName": "Bot"}


@pytest.fixture
async def two_clients(fake_time: FakeTime) -> AsyncIterator[Callable[[], JiraClient]]:
    """Clients of one site sharing its limits, as two processes share the site's budget."""
    limiters = SiteLimiters(clock=fake_time.clock, sleep=fake_time.sleep)
    made: list[JiraClient] = []

    def build() -> JiraClient:
        limiter = limiters.for_site(SITE, max_concurrency=4, requests_per_second=10)
        client = JiraClient.open(
            make_config(max_retries=1),
            limiter=limiter,
            sleep=fake_time.sleep,
            clock=fake_time.clock,
            now=fake_time.utcnow,
        )
        made.append(client)
        return client

    yield build
    for client in made:
        await client.aclose()


def test_the_priority_is_scoped_to_the_block() -> None:
    assert current_priority() is Priority.SYNC
    with request_priority(Priority.REFRESH):
        assert current_priority() is Priority.REFRESH
        with request_priority(Priority.CREATE):
            assert current_priority() is Priority.CREATE
        assert current_priority() is Priority.REFRESH
    assert current_priority() is Priority.SYNC


async def test_a_429_one_client_sees_pauses_the_others(
    two_clients: Callable[[], JiraClient], fake_time: FakeTime, respx_mock: respx.MockRouter
) -> None:
    first, second = two_clients(), two_clients()
    route = respx_mock.get(MYSELF).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "120"}),
            httpx.Response(200, json=ME),
        ]
    )
    with pytest.raises(JiraRateLimited):
        await first.myself()  # 120 s is past max_retry_delay: given back to the outbox
    started = fake_time.now
    with request_priority(Priority.REFRESH), pytest.raises(JiraRequestShed) as shed:
        await second.myself()
    assert route.call_count == 1, "a shed request is never sent"
    assert shed.value.transient
    # The site pauses at most a minute at a time; the refused work itself waits the 120 s.
    assert shed.value.retry_after == pytest.approx(60.0)
    with request_priority(Priority.CREATE):
        await second.myself()
    assert route.call_count == 2
    assert fake_time.now - started >= 60.0


async def test_a_per_issue_429_does_not_pause_the_site(
    two_clients: Callable[[], JiraClient], fake_time: FakeTime, respx_mock: respx.MockRouter
) -> None:
    first, second = two_clients(), two_clients()
    respx_mock.get(MYSELF).mock(
        side_effect=[
            httpx.Response(
                429,
                headers={"Retry-After": "120", "RateLimit-Reason": "jira-per-issue-on-write"},
            ),
            httpx.Response(200, json=ME),
        ]
    )
    with pytest.raises(JiraRateLimited):
        await first.myself()
    started = fake_time.now
    with request_priority(Priority.REFRESH):
        await second.myself()
    assert fake_time.now - started < 1.0


async def test_a_429_without_retry_after_pauses_the_site_at_least_5s(
    two_clients: Callable[[], JiraClient], fake_time: FakeTime, respx_mock: respx.MockRouter
) -> None:
    first, second = two_clients(), two_clients()
    respx_mock.get(MYSELF).mock(
        side_effect=[
            httpx.Response(429),
            httpx.Response(200, json=ME),
            httpx.Response(200, json=ME),
        ]
    )
    started = fake_time.now
    await first.myself()  # retried once after its own wait
    await second.myself()
    assert fake_time.now - started >= 5.0


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Beta-RateLimit-NearLimit": "true"},
        {
            "Beta-RateLimit-Policy": '"tenant-app-quota";q=65000;w=3600',
            "Beta-RateLimit": '"tenant-app-quota";r=6000;t=1800',
        },
    ],
)
async def test_near_the_quota_refreshes_are_shed_and_creates_go_on(
    two_clients: Callable[[], JiraClient],
    respx_mock: respx.MockRouter,
    headers: dict[str, str],
) -> None:
    first, second = two_clients(), two_clients()
    route = respx_mock.get(MYSELF).mock(return_value=httpx.Response(200, json=ME, headers=headers))
    await first.myself()
    with request_priority(Priority.REFRESH), pytest.raises(JiraRequestShed):
        await second.myself()
    with request_priority(Priority.CREATE):
        await second.myself()
    await second.myself()  # state sync too
    assert route.call_count == 3


def test_quota_headers_are_read_as_atlassian_sends_them() -> None:
    signal = read_limit_headers(
        {
            "Beta-RateLimit-Policy": '"global-app-quota";q=500000;w=3600, '
            '"tenant-app-quota";q=65000;w=3600',
            "Beta-RateLimit": '"global-app-quota";r=400000;t=900, "tenant-app-quota";r=9000;t=2107',
            "X-Beta-RateLimit-Reason": "jira-quota-tenant-based",
        }
    )
    assert signal.near_limit
    assert (signal.remaining, signal.quota) == (9000, 65000)
    assert signal.hold_seconds == 60.0  # renewed by each answer, never held for the hour
    assert signal.reason == "jira-quota-tenant-based"
    plenty = read_limit_headers(
        {
            "Beta-RateLimit-Policy": '"tenant-app-quota";q=65000;w=3600',
            "Beta-RateLimit": '"tenant-app-quota";r=60000;t=30',
        }
    )
    assert not plenty.near_limit
    assert read_limit_headers(
        {"X-Beta-RateLimit-NearLimit": "true", "Beta-RateLimit": '"x";t=5'}
    ) == (read_limit_headers({"x-beta-ratelimit-nearlimit": "TRUE", "beta-ratelimit": '"x";t=5'}))
    flagged = read_limit_headers(
        {"X-Beta-RateLimit-NearLimit": "true", "Beta-RateLimit": '"x";t=5'}
    )
    assert flagged.near_limit
    assert flagged.hold_seconds == 5.0


@pytest.mark.parametrize(
    "value",
    ["", ";;;", '"q";r=nan;t=inf', '"q";r=-1;t=-5', "garbage", '"q";r=1e400', '"q";r'],
)
def test_malformed_quota_headers_say_nothing(value: str) -> None:
    signal = read_limit_headers(
        {"Beta-RateLimit": value, "Beta-RateLimit-Policy": '"q";q=100;w=3600'}
    )
    assert not signal.near_limit
    assert signal.hold_seconds == 0.0
