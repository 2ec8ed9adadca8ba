"""``send_before``: a request goes out before its deadline or not at all.

Checked in front of the transport (respx here) and, on a real socket, right before the
request's first byte (httpcore's ``trace``): a server counts what reached it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from syncengine.jira import JiraClient, NewIssue
from syncengine.jira.errors import JiraBulkNotSent, JiraNotSent
from syncengine.jira.send_by import send_before

from .conftest import SITE, ClientFactory, make_config

API3 = f"{SITE}/rest/api/3"
T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class Steps:
    """A clock that reads ``T0`` for its first ``before`` reads, then an hour later."""

    def __init__(self, before: int) -> None:
        self.before = before
        self.reads = 0

    def __call__(self) -> datetime:
        self.reads += 1
        return T0 if self.reads <= self.before else T0 + timedelta(hours=1)


async def test_past_its_deadline_a_request_is_not_sent(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{API3}/issue").mock(
        return_value=httpx.Response(201, json={"id": "1", "key": "C-1"})
    )
    client = client_factory()
    with send_before(T0, lambda: T0 + timedelta(seconds=1)), pytest.raises(JiraNotSent) as caught:
        await client.create_issue({"project": {"key": "C"}, "summary": "late"})
    assert route.call_count == 0
    assert "not sent" in str(caught.value)
    with send_before(T0 + timedelta(seconds=2), lambda: T0 + timedelta(seconds=1)):
        created = await client.create_issue({"project": {"key": "C"}, "summary": "in time"})
    assert created.key == "C-1"
    assert route.call_count == 1
    await client.create_issue({"project": {"key": "C"}, "summary": "no deadline"})
    assert route.call_count == 2


async def test_a_bulk_create_whose_later_chunk_is_late_says_what_was_created(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        updates = json.loads(request.content)["issueUpdates"]
        issues = [{"id": str(n), "key": f"C-{n}"} for n in range(len(updates))]
        return httpx.Response(201, json={"issues": issues, "errors": []})

    route = respx_mock.post(f"{API3}/issue/bulk").mock(side_effect=answer)
    issues = [NewIssue(fields={"project": {"key": "C"}, "summary": str(n)}) for n in range(70)]
    with (
        send_before(T0 + timedelta(seconds=1), Steps(before=1)),
        pytest.raises(JiraBulkNotSent) as caught,
    ):
        await client_factory().bulk_create(issues)
    assert route.call_count == 1  # the first chunk went out in time, the second not at all
    assert sorted(caught.value.partial.created) == list(range(50))
    assert caught.value.unsent == range(50, 70)
    with (
        send_before(T0 + timedelta(seconds=1), Steps(before=0)),
        pytest.raises(JiraNotSent) as first,
    ):
        await client_factory().bulk_create(issues)
    assert not isinstance(first.value, JiraBulkNotSent)  # nothing of it was sent
    assert route.call_count == 1


class Counting:
    """A TCP server that answers every request with an issue and counts the bytes it got."""

    def __init__(self) -> None:
        self.received = 0
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                self.received += len(chunk)
                if b"\r\n\r\n" in chunk:
                    body = b'{"id": "1", "key": "C-1"}'
                    writer.write(
                        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                    )
                    await writer.drain()
        finally:
            writer.close()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])


@pytest.fixture
async def counting() -> AsyncIterator[Counting]:
    server = Counting()
    await server.start()
    yield server
    assert server.server is not None
    server.server.close()


@pytest.fixture
def site_of(counting: Counting) -> str:
    assert counting.server is not None
    return f"http://127.0.0.1:{counting.server.sockets[0].getsockname()[1]}"


async def test_on_a_socket_the_deadline_is_checked_again_before_the_first_byte(
    counting: Counting, site_of: str
) -> None:
    """In time when the call starts, past its deadline when the headers are due out."""
    client = JiraClient.open(make_config(site=site_of, deployment="datacenter", api_version=2))
    try:
        ctx = client.session.context("create an issue")
        clock = Steps(before=1)  # the check in front of the transport passes
        with send_before(T0 + timedelta(seconds=1), clock), pytest.raises(JiraNotSent):
            await client.session.request("POST", "/issue", context=ctx, json={"fields": {}})
        assert clock.reads == 2  # ...and the one at the socket refused
        await asyncio.sleep(0.05)
        assert counting.received == 0
        with send_before(T0 + timedelta(seconds=1), Steps(before=2)):
            answer = await client.session.request("POST", "/issue", context=ctx, json={})
        assert answer.status_code == 201
        assert counting.received > 0
    finally:
        await client.aclose()
