"""Fixtures for the Jira simulator tests: seeded Cloud and Data Center sites, manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from syncengine.jira.simulator import (
    DEFAULT_LOGIN,
    DEFAULT_TOKEN,
    ManualClock,
    Simulator,
    create_simulator,
)

BUG = {
    "project": {"key": "CRASH"},
    "issuetype": {"name": "Bug"},
    "summary": "Crash in render loop",
    "customfield_10050": {"value": "Major"},
}


class Inbox:
    """A webhook receiver: records each request and answers from a script of statuses."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.script: list[int] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.script.pop(0) if self.script else 200
        return httpx.Response(status)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


def _sim(flavour: Any, clock: ManualClock, inbox: Inbox, **kwargs: Any) -> Simulator:
    return create_simulator(
        flavour, clock=clock, webhook_transport=inbox.transport(), webhook_mode="manual", **kwargs
    )


@pytest.fixture
def sim(clock: ManualClock, inbox: Inbox) -> Simulator:
    return _sim("cloud", clock, inbox)


@pytest.fixture
def dc_sim(clock: ManualClock, inbox: Inbox) -> Simulator:
    return _sim("datacenter", clock, inbox)


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with sim.client(login=DEFAULT_LOGIN, token=DEFAULT_TOKEN) as c:
        yield c


@pytest.fixture
async def dc_client(dc_sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with dc_sim.client(login="bot", token=DEFAULT_TOKEN) as c:
        yield c


async def create(client: httpx.AsyncClient, version: int = 2, **fields: Any) -> dict[str, Any]:
    """Create a CRASH bug (fields override the defaults, None drops one); asserts 201."""
    merged = {k: v for k, v in {**BUG, **fields}.items() if v is not None}
    answer = await client.post(f"/rest/api/{version}/issue", json={"fields": merged})
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def adf(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }
