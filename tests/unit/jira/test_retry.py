"""The retry policy, Retry-After parsing, backoff bounds and the per-site limits."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from http import HTTPStatus

import httpx
import pytest
import respx

from syncengine.jira.errors import JiraError, JiraOutcomeUnknown, JiraRateLimited
from syncengine.jira.retry import (
    RetryPolicy,
    SiteLimiter,
    SiteLimiters,
    retry_after_seconds,
)

from .conftest import SITE, ClientFactory, FakeTime

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

# pycontribs/jira tests/test_resilientsession.py status_codes_retries_test_data (BSD-2-Clause):
# (status, with rate-limit headers, Retry-After value or None, pycontribs retries?, we retry a GET?)
# We differ on purpose where the issue says so: 503 is transient with or without
# Retry-After, and 502/504 are transient for requests that are safe to repeat.
RETRY_TABLE = [
    (HTTPStatus.TOO_MANY_REQUESTS, True, 1, True, True),
    (HTTPStatus.TOO_MANY_REQUESTS, True, 0, True, True),
    (HTTPStatus.TOO_MANY_REQUESTS, True, None, True, True),
    (HTTPStatus.TOO_MANY_REQUESTS, False, 1, True, True),
    (HTTPStatus.TOO_MANY_REQUESTS, False, 0, True, True),
    (HTTPStatus.TOO_MANY_REQUESTS, False, None, True, True),
    (HTTPStatus.SERVICE_UNAVAILABLE, True, 1, True, True),
    (HTTPStatus.SERVICE_UNAVAILABLE, True, None, False, True),
    (HTTPStatus.SERVICE_UNAVAILABLE, False, 1, True, True),
    (HTTPStatus.SERVICE_UNAVAILABLE, False, None, False, True),
    (HTTPStatus.UNAUTHORIZED, True, 1, False, False),
    (HTTPStatus.UNAUTHORIZED, False, None, False, False),
    (HTTPStatus.FORBIDDEN, True, 1, False, False),
    (HTTPStatus.FORBIDDEN, False, None, False, False),
    (HTTPStatus.NOT_FOUND, True, 1, False, False),
    (HTTPStatus.NOT_FOUND, False, None, False, False),
    (HTTPStatus.BAD_GATEWAY, True, 1, False, True),
    (HTTPStatus.BAD_GATEWAY, False, None, False, True),
    (HTTPStatus.GATEWAY_TIMEOUT, True, 1, False, True),
    (HTTPStatus.GATEWAY_TIMEOUT, False, None, False, True),
]


@pytest.mark.parametrize(("status", "rate_headers", "retry_after", "theirs", "ours"), RETRY_TABLE)
async def test_retry_policy_table(
    client_factory: ClientFactory,
    fake_time: FakeTime,
    respx_mock: respx.MockRouter,
    status: int,
    rate_headers: bool,
    retry_after: int | None,
    theirs: bool,
    ours: bool,
) -> None:
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if rate_headers:
        headers |= {
            "X-RateLimit-FillRate": "1",
            "X-RateLimit-Interval-Seconds": "1",
            "X-RateLimit-Limit": "1",
        }
    route = respx_mock.get(f"{SITE}/rest/api/3/myself").mock(
        return_value=httpx.Response(status, headers=headers)
    )
    client = client_factory(max_retries=2)
    with pytest.raises(JiraError):
        await client.myself()
    assert route.call_count == (3 if ours else 1)
    assert len(fake_time.sleeps) == (2 if ours else 0)
    for slept in fake_time.sleeps:
        assert slept >= (retry_after or 0)
    if theirs:
        assert ours, "we retry at least whatever pycontribs retries"


async def test_non_idempotent_create_is_retried_on_429_and_503_only(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{SITE}/rest/api/3/issue").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "2"}),
            httpx.Response(503),
            httpx.Response(201, json={"id": "10001", "key": "CRASH-1"}),
        ]
    )
    client = client_factory()
    created = await client.create_issue({"project": {"key": "CRASH"}, "summary": "s"})
    assert created.key == "CRASH-1"
    assert route.call_count == 3


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_gateway_errors_after_a_create_mean_the_outcome_is_unknown(
    client_factory: ClientFactory, respx_mock: respx.MockRouter, status: int
) -> None:
    route = respx_mock.post(f"{SITE}/rest/api/3/issue").mock(return_value=httpx.Response(status))
    client = client_factory()
    with pytest.raises(JiraOutcomeUnknown) as caught:
        await client.create_issue({"project": {"key": "CRASH"}, "summary": "s"})
    assert route.call_count == 1
    assert caught.value.transient
    assert "look the object up" in caught.value.user_message()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "30"}, 30.0),
        ({"retry-after": " 1.5 "}, 1.5),
        ({"Retry-After": "-3"}, 0.0),
        ({"Retry-After": "Fri, 02 Jan 2026 03:05:05 GMT"}, 60.0),
        ({"Retry-After": "Fri, 02 Jan 2026 03:00:00 GMT"}, 0.0),
        ({"X-RateLimit-Reset": "2026-01-02T03:04:25Z"}, 20.0),
        ({"X-RateLimit-Reset": "2026-01-02T03:04:15.000+00:00"}, 10.0),
        ({"Retry-After": "soon"}, None),
        ({"X-RateLimit-Reset": "later"}, None),
        ({}, None),
    ],
)
def test_retry_after_seconds(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers, NOW) == expected


def test_backoff_is_full_jitter_and_bounded() -> None:
    policy = RetryPolicy(max_retries=10, base_delay=0.5, max_delay=8.0)
    assert policy.backoff(1, lambda: 0.999) < 0.5
    assert policy.backoff(3, lambda: 0.999) == pytest.approx(2.0 * 0.999)
    assert policy.backoff(30, lambda: 1.0) == 8.0
    assert policy.backoff(5, lambda: 0.0) == 0.0


def test_a_long_retry_after_is_handed_to_the_caller_not_slept() -> None:
    policy = RetryPolicy(max_retries=5, max_delay=60.0)
    decision = policy.for_status(
        429, attempt=1, idempotent=True, retry_after=3600.0, random=lambda: 0.5
    )
    assert decision.action == "give_up"


async def test_rate_limited_error_carries_retry_after_when_retries_run_out(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(f"{SITE}/rest/api/3/myself").mock(
        return_value=httpx.Response(
            429, headers={"Retry-After": "120"}, text="<html><title>Oops</title></html>"
        )
    )
    client = client_factory()
    with pytest.raises(JiraRateLimited) as caught:
        await client.myself()
    assert caught.value.retry_after == 120.0


async def test_concurrency_is_limited_per_site(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    running = 0
    peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return httpx.Response(200, json={"accountId": "a", "displayName": "Bot"})

    respx_mock.get(f"{SITE}/rest/api/3/myself").mock(side_effect=slow)
    client = client_factory(max_concurrency=2)
    await asyncio.gather(*(client.myself() for _ in range(8)))
    assert peak == 2


def test_site_limiters_are_shared_per_site(fake_time: FakeTime) -> None:
    limiters = SiteLimiters(clock=fake_time.clock, sleep=fake_time.sleep)
    first = limiters.for_site(SITE, max_concurrency=2, requests_per_second=5)
    assert limiters.for_site(SITE, max_concurrency=9, requests_per_second=9) is first
    assert limiters.for_site("https://other", max_concurrency=2, requests_per_second=5) is not first
    assert isinstance(first, SiteLimiter)


@pytest.mark.parametrize("draw", [0.0, 0.5, 1.0])
def test_a_429_without_retry_after_waits_5s_growing_to_30s(draw: float) -> None:
    policy = RetryPolicy(max_retries=10, base_delay=0.5, max_delay=60.0)
    delays = [
        policy.for_status(
            429, attempt=n, idempotent=False, retry_after=None, random=lambda: draw
        ).delay
        for n in range(1, 8)
    ]
    assert all(5.0 <= d <= 39.0 for d in delays)
    assert delays == sorted(delays)
    assert delays[-1] == pytest.approx(30.0 * (0.7 + 0.6 * draw))
    assert delays[0] == pytest.approx(max(5.0, 5.0 * (0.7 + 0.6 * draw)))


def test_the_outbox_waits_5s_after_a_429_that_named_no_wait() -> None:
    from syncengine.jira.errors import RequestContext, error_from_response

    context = RequestContext(operation="create an issue")
    silent = error_from_response(429, {}, "", context=context, path="/issue")
    assert isinstance(silent, JiraRateLimited)
    assert silent.retry_after == 5.0
    told = error_from_response(429, {}, "", context=context, path="/issue", retry_after=12.0)
    assert told.retry_after == 12.0
