"""A hostile Jira: every owed ticket is created exactly once, and the worker never stops.

The faults sit at the transport, the client's one seam, in front of the simulator: each of
four creates meets one of them. ``Retry-After: 1e12`` (which overflowed the outbox's date
arithmetic and killed the worker), an answer dripping a byte at a time after Jira made the
issue (which held the batch for ever), a 600 MB answer after Jira made it (read whole into
memory; here generated lazily, so a client that held it would take seconds and 600 MB), and an
HTML page with 200 after Jira made it (which failed the ticket for good). Time is simulated
except the drip, which waits for the real call deadline (half a second).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from syncengine.bootstrap import bootstrap
from syncengine.bootstrap.jira_clients import SimulatedJira
from syncengine.jira.config import JiraConfig
from syncengine.jira.simulator import DEFAULT_LOGIN, DEFAULT_TOKEN
from syncengine.settings import Settings
from syncengine.store.outbox import State
from tests.integration.lifecycle_harness import Clock, crash, ingest, project_settings

MIB = 1024 * 1024
FAULTS = ["retry_after", "drip", "huge", "html"]


class HostileJira(httpx.AsyncBaseTransport):
    """The simulator, except that each create in turn meets the next fault."""

    def __init__(self, inner: httpx.AsyncBaseTransport, faults: list[str]) -> None:
        self.inner = inner
        self.faults = list(faults)
        self.produced = 0  # bytes of the huge answer actually generated

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        creating = request.method == "POST" and request.url.path.endswith("/issue")
        if not creating or not self.faults:
            return await self.inner.handle_async_request(request)
        fault = self.faults.pop(0)
        if fault == "retry_after":
            return httpx.Response(429, headers={"Retry-After": "1e12"})
        made = await self.inner.handle_async_request(request)  # Jira does the work...
        await made.aread()
        if fault == "drip":  # ...then answers a byte at a time
            return httpx.Response(201, content=self._drip())
        if fault == "huge":  # ...then answers 600 MB
            return httpx.Response(201, content=self._huge(600 * MIB))
        return httpx.Response(  # ...then a proxy's page stands in for the answer
            200,
            content=b"<html><title>Welcome</title></html>",
            headers={"content-type": "text/html"},
        )

    async def _drip(self) -> AsyncIterator[bytes]:
        yield b'{"id": "'
        while True:
            await asyncio.sleep(0.05)
            yield b"1"

    async def _huge(self, total: int) -> AsyncIterator[bytes]:
        chunk = b" " * MIB
        for _ in range(total // MIB):
            self.produced += len(chunk)
            yield chunk


async def test_every_owed_ticket_is_created_exactly_once_and_the_worker_never_stops(
    database_url: str, tmp_path: Path
) -> None:
    clock = Clock()
    sim = clock.simulator()
    hostile = HostileJira(sim.transport(), FAULTS)
    config = JiraConfig(
        site="http://jira.local",
        deployment="cloud",
        user=DEFAULT_LOGIN,
        token=SecretStr(DEFAULT_TOKEN),
        backoff_base_seconds=0.01,
        max_retry_delay_seconds=0.05,
        timeout_seconds=0.5,
        deadline_seconds=0.5,
        max_response_bytes=MIB,
        max_retry_after_seconds=60,
    )
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        ingest={"batch_max_delay_ms": 1},
        projects={"shop": project_settings()},
    )
    container = await bootstrap(
        settings,
        migrate=False,
        clock=clock,
        simulator=(sim, SimulatedJira(config=config, transport=hostile)),
    )
    try:
        await container.projects.ensure("shop", name="Shop", integration_active=True, now=clock())
        accepted: list[Any] = []
        for n in range(len(FAULTS)):  # one create each: each meets its own fault
            accepted += await ingest(container, [crash(f"fp-hostile-{n}")])
            await container.worker.drain()
        assert hostile.faults == []
        assert hostile.produced <= 3 * MIB  # streamed and cut, never held
        for _ in range(40):  # twenty simulated minutes of retries
            clock.advance(30)
            await container.worker.drain()
        issues = list(sim.issues("CRASH"))
        # Exactly once: as many issues as groups, each group linked to its own.
        assert len(issues) == len(FAULTS)
        linked = set()
        for entry in accepted:
            link = await container.links.for_group(entry.group_id)
            assert link is not None
            linked.add(link.issue_key)
        assert linked == {i.key for i in issues}
        unfinished = await container.outbox.list(states=(State.PENDING, State.RUNNING, State.DEAD))
        assert unfinished == []
        assert "syncengine_background_crashes_total{" not in container.metrics.render().decode()
    finally:
        await container.aclose()
