"""A misbehaving Jira: huge or odd Retry-After, dripping and huge answers, HTML where JSON is.

Each answer is one that stopped or held the engine before: ``Retry-After: 1e12`` overflowed the
outbox's date arithmetic, a byte every few seconds held a call for ever (the read timeout never
fired), a 600 MB answer was read into memory, and an HTML 200 to a create failed the ticket for
good although Jira had made it.
"""

from __future__ import annotations

import asyncio
import gzip
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from syncengine.domain.backoff import BackoffPolicy, RetryAt, next_attempt
from syncengine.jira.errors import (
    JiraOutcomeUnknown,
    JiraRateLimited,
    JiraResponseTooLarge,
    JiraUnavailable,
    JiraUnexpectedResponse,
)
from syncengine.jira.retry import retry_after_seconds

from .conftest import SITE, ClientFactory, FakeTime

API3 = f"{SITE}/rest/api/3"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
MIB = 1024 * 1024
FIELDS = {"project": {"key": "CRASH"}, "summary": "s", "issuetype": {"name": "Bug"}}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1e12", 3600.0),
        ("inf", 3600.0),
        ("-inf", 0.0),
        ("Infinity", 3600.0),
        ("9" * 400, 3600.0),
        ("nan", None),
        ("-5", 0.0),
        ("120", 120.0),
        ("Fri, 02 Jan 2026 03:05:05 GMT", 60.0),
        ("Fri, 31 Dec 9999 23:59:59 GMT", 3600.0),
        ("Mon, 01 Jan 0001 00:00:00 GMT", 0.0),
        ("Fri, 99 Foo 2026 99:99:99 GMT", None),
        ("", None),
    ],
)
def test_retry_after_is_total_and_capped(value: str, expected: float | None) -> None:
    assert retry_after_seconds({"Retry-After": value}, NOW, cap=3600.0) == expected


def test_a_far_rate_limit_reset_is_capped() -> None:
    headers = {"X-RateLimit-Reset": "9999-12-31T23:59:59Z"}
    assert retry_after_seconds(headers, NOW, cap=600.0) == 600.0


async def test_retry_after_1e12_becomes_a_capped_wait_the_outbox_can_schedule(
    client_factory: ClientFactory, fake_time: FakeTime, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(f"{API3}/issue").mock(
        return_value=httpx.Response(429, headers={"Retry-After": "1e12"})
    )
    client = client_factory(max_retry_after_seconds=900.0)
    with pytest.raises(JiraRateLimited) as caught:
        await client.create_issue(FIELDS)
    assert caught.value.retry_after == 900.0
    assert fake_time.sleeps == []  # longer than a retry within the call: handed to the outbox
    # Before, this raised OverflowError in the worker's date arithmetic.
    decision = next_attempt(
        attempts=1,
        transient=True,
        retry_after=caught.value.retry_after,
        now=NOW,
        policy=BackoffPolicy(),
        rng=random.Random(1),
    )
    assert isinstance(decision, RetryAt)
    assert decision.when - NOW <= timedelta(seconds=900)


async def _drip(produced: list[int]) -> AsyncIterator[bytes]:
    yield b'{"accountId'
    while True:
        await asyncio.sleep(0.02)  # well inside the read timeout: only a deadline ends it
        produced.append(1)
        yield b" "


async def test_a_dripping_answer_fails_at_the_call_deadline(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    produced: list[int] = []
    respx_mock.get(f"{API3}/myself").mock(
        side_effect=lambda _request: httpx.Response(200, content=_drip(produced))
    )
    client = client_factory(timeout_seconds=0.3, deadline_seconds=0.3)
    with pytest.raises(JiraUnavailable, match=r"jira\.deadline_seconds"):
        await client.myself()
    assert produced, "the answer was being read when the deadline struck"


async def test_a_dripping_answer_to_a_create_is_an_unknown_outcome(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    produced: list[int] = []
    route = respx_mock.post(f"{API3}/issue").mock(
        side_effect=lambda _request: httpx.Response(201, content=_drip(produced))
    )
    client = client_factory(timeout_seconds=0.3, deadline_seconds=0.3)
    with pytest.raises(JiraOutcomeUnknown):
        await client.create_issue(FIELDS)
    assert route.call_count == 1  # never resent blindly


def _huge(produced: list[int], *, total: int = 600 * MIB) -> AsyncIterator[bytes]:
    async def chunks() -> AsyncIterator[bytes]:
        chunk = b"x" * MIB
        for _ in range(total // MIB):
            produced.append(1)
            yield chunk

    return chunks()


async def test_a_600_mb_answer_is_cut_at_the_cap_and_never_held(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    produced: list[int] = []
    respx_mock.get(f"{API3}/myself").mock(
        side_effect=lambda _request: httpx.Response(200, content=_huge(produced))
    )
    client = client_factory(max_response_bytes=2 * MIB)
    with pytest.raises(JiraResponseTooLarge, match="larger than 2097152 bytes") as caught:
        await client.myself()
    assert "jira.max_response_bytes" in caught.value.fix
    assert len(produced) <= 3  # streamed: reading stopped just past the cap


async def test_a_600_mb_answer_to_a_create_is_an_unknown_outcome(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    produced: list[int] = []
    respx_mock.post(f"{API3}/issue").mock(
        side_effect=lambda _request: httpx.Response(201, content=_huge(produced))
    )
    with pytest.raises(JiraOutcomeUnknown) as caught:
        await client_factory(max_response_bytes=MIB).create_issue(FIELDS)
    assert isinstance(caught.value.__cause__, JiraResponseTooLarge)
    assert len(produced) <= 2


async def test_a_huge_error_answer_is_read_only_to_the_cap(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    produced: list[int] = []
    respx_mock.get(f"{API3}/myself").mock(
        side_effect=lambda _request: httpx.Response(500, content=_huge(produced))
    )
    with pytest.raises(JiraUnavailable):
        await client_factory(max_response_bytes=MIB, max_retries=0).myself()
    assert len(produced) <= 2


async def test_an_html_200_to_a_create_is_an_unknown_outcome_not_a_failure(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{API3}/issue").mock(
        return_value=httpx.Response(
            200, text="<html><title>Signed in</title></html>", headers={"content-type": "text/html"}
        )
    )
    with pytest.raises(JiraOutcomeUnknown) as caught:
        await client_factory().create_issue(FIELDS)
    assert caught.value.transient
    assert isinstance(caught.value.__cause__, JiraUnexpectedResponse)
    assert route.call_count == 1


async def test_a_gzip_bomb_counts_at_its_decoded_size(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    bomb = gzip.compress(b"[" + b" " * (8 * MIB) + b"]")
    respx_mock.get(f"{API3}/myself").mock(
        return_value=httpx.Response(200, content=bomb, headers={"content-encoding": "gzip"})
    )
    with pytest.raises(JiraResponseTooLarge):
        await client_factory(max_response_bytes=MIB).myself()


async def test_a_compressed_answer_within_the_cap_is_read(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    body = b'{"accountId": "abc", "displayName": "Bot", "emailAddress": "bot@example.com"}'
    respx_mock.get(f"{API3}/myself").mock(
        return_value=httpx.Response(
            200,
            content=gzip.compress(body),
            headers={"content-encoding": "gzip", "content-type": "application/json"},
        )
    )
    me = await client_factory().myself()
    assert me.account_id == "abc"


@pytest.mark.parametrize("body", [{}, [], None, {"key": "CRASH-1"}])
async def test_a_2xx_create_answer_without_the_issue_is_an_unknown_outcome(
    client_factory: ClientFactory, respx_mock: respx.MockRouter, body: object
) -> None:
    respx_mock.post(f"{API3}/issue").mock(return_value=httpx.Response(201, json=body))
    with pytest.raises(JiraOutcomeUnknown):
        await client_factory().create_issue(FIELDS)
