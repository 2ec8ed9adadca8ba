"""A running engine wired to a simulated Jira with REAL webhooks (delivered in-process).

The simulator queues webhook deliveries (manual mode); :meth:`SyncWorld.deliver`
posts them, signed, to the engine's receiver through an ASGI transport.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import select

from syncengine.bootstrap import Container, bootstrap, prepare_projects
from syncengine.bootstrap.sync_services import TwoWaySync
from syncengine.domain.groups import GroupState
from syncengine.jira.client import JiraClient
from syncengine.jira.config import JiraConfig
from syncengine.jira.simulator import (
    DEFAULT_TOKEN,
    Simulator,
    create_simulator,
    default_login,
)
from syncengine.jira.simulator.seed import ADMIN_TOKEN, SeedUsers
from syncengine.settings import Settings
from syncengine.store.links import Snapshot
from syncengine.store.tables import AuditLog, ErrorGroup
from syncengine.web import create_app

SECRET = "hook-secret-0123456789"
HOOK_URL = "http://engine.test/api/v1/jira/webhooks/shop"


class Clock:
    """A settable engine clock (aware UTC); starts at the real time."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class SyncWorld:
    """The engine, the simulator, a human's Jira client and handy actions."""

    container: Container
    sim: Simulator
    human: JiraClient
    clock: Clock
    project_id: int
    others: tuple[Container, ...] = ()
    """Further engines on the same database (as other processes would be), if asked for."""

    @property
    def sync(self) -> TwoWaySync:
        assert self.container.sync is not None
        return self.container.sync

    async def deliver(self) -> int:
        """Send every queued webhook delivery to the engine; returns how many."""
        return await self.sim.deliver_pending()

    async def drain(self) -> int:
        """Run the outbox until nothing is due."""
        return await self.container.worker.drain()

    async def settle(self) -> None:
        """Webhooks and outbox until quiet (our own echoes come back as webhooks)."""
        for _ in range(10):
            if not (await self.deliver()) + (await self.drain()):
                return

    async def linked_group(self, fingerprint: str, *, summary: str = "boom") -> tuple[int, str]:
        """A group and a linked Task in CRASH (created by the bot); returns (group id, key)."""
        now = self.clock()
        async with self.container.db.session() as session:
            row = ErrorGroup(
                project_id=self.project_id,
                fingerprint=fingerprint,
                count=1,
                first_seen=now,
                last_seen=now,
                updated_at=now,
            )
            session.add(row)
            await session.flush()
            group_id = row.id
        bot = self.container.jira.for_project("shop")
        created = await bot.create_issue(
            {"project": {"key": "CRASH"}, "issuetype": {"name": "Task"}, "summary": summary}
        )
        await self.container.links.link(
            project_id=self.project_id,
            group_id=group_id,
            issue_id=created.id,
            issue_key=created.key,
            snapshot=Snapshot(state="open", status="To Do"),
            now=now,
        )
        await self.settle()
        return group_id, created.key

    async def group(self, group_id: int) -> ErrorGroup:
        async with self.container.db.session() as session:
            row = await session.scalar(select(ErrorGroup).where(ErrorGroup.id == group_id))
            assert row is not None
            session.expunge(row)
            return row

    async def state(self, group_id: int) -> GroupState:
        return GroupState((await self.group(group_id)).state)

    async def audit(self, group_id: int, action: str) -> list[dict[str, Any]]:
        async with self.container.db.session() as session:
            rows = await session.scalars(
                select(AuditLog)
                .where(AuditLog.group_id == group_id, AuditLog.action == action)
                .order_by(AuditLog.id)
            )
            return [dict(r.detail) for r in rows]

    def status(self, key: str) -> str:
        issue = self.sim.issue(key)
        return self.sim.state.statuses[issue.status_id].name

    async def human_transition(self, key: str, name: str, resolution: str | None = None) -> None:
        offered = await self.human.transitions(key)
        chosen = next(t for t in offered if t.name == name)
        fields = {"resolution": {"name": resolution}} if resolution else None
        await self.human.transition_issue(key, chosen.id, fields=fields)


def settings_for(
    database_url: str,
    tmp_path: Path,
    *,
    secret: str | None = SECRET,
    flavour: str = "cloud",
    jira: dict[str, Any] | None = None,
    **sync: Any,
) -> Settings:
    """Project ``shop`` on the simulator's CRASH project, with a webhook secret.

    ``sync`` holds the project's ``[sync]`` keys, and ``impact``, its ``[impact]`` table;
    ``jira``: more ``[jira]`` keys.
    """
    impact = sync.pop("impact", {})
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        public_url="http://engine.test",
        projects={
            "shop": {
                "jira": {
                    "url": "http://jira.local",
                    "deployment": flavour,
                    "user": default_login(flavour),
                    "api_token": DEFAULT_TOKEN,
                    "webhook_secret": secret,
                    "project_key": "CRASH",
                    "issue_type": "Task",
                    "user_map": sync.pop("user_map", {}),
                    **(jira or {}),
                },
                "sync": sync,
                "impact": impact,
            }
        },
    )


@asynccontextmanager
async def sync_world(
    database_url: str,
    tmp_path: Path,
    *,
    flavour: str = "cloud",
    secret: str | None = SECRET,
    wrap: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
    jira: dict[str, Any] | None = None,
    engines: int = 1,
    **sync: Any,
) -> AsyncIterator[SyncWorld]:
    """The world for one test; everything is closed afterwards.

    ``wrap``: wraps the engine's transport into the simulator (to hold or count calls).
    ``engines``: how many engines share the database (each its own container: pool,
    worker, link locks), webhook deliveries going to each in turn.
    """
    sim = create_simulator(flavour, seed=True, webhook_mode="manual")  # type: ignore[arg-type]
    clock = Clock()
    settings = settings_for(
        database_url, tmp_path, secret=secret, flavour=flavour, jira=jira, **sync
    )
    containers: list[Container] = []
    for _ in range(engines):
        transport: httpx.AsyncBaseTransport = sim.transport()
        if wrap is not None:
            transport = wrap(transport)
        containers.append(
            await bootstrap(settings, migrate=False, clock=clock, jira_transport=transport)
        )
    container = containers[0]
    apps = [httpx.ASGITransport(app=create_app(c.web)) for c in containers]
    sim.webhooks.transport = apps[0] if engines == 1 else _RoundRobin(apps)
    if secret is not None:
        sim.register_webhook(HOOK_URL, secret=secret)
    await prepare_projects(container, lambda _line: None)
    record = await container.projects.get("shop")
    assert record is not None
    human = JiraClient.open(
        JiraConfig(
            site="http://jira.local",
            deployment=flavour,  # type: ignore[arg-type]
            user=default_login(flavour, SeedUsers.admin),
            token=SecretStr(ADMIN_TOKEN),
            backoff_base_seconds=0.01,
            # People in Jira click at their own pace: not at the engine's 10 requests a second.
            requests_per_second=100_000,
        ),
        transport=sim.transport(),
    )
    try:
        yield SyncWorld(
            container=container,
            sim=sim,
            human=human,
            clock=clock,
            project_id=record.id,
            others=tuple(containers[1:]),
        )
    finally:
        await human.aclose()
        for each in containers:
            await each.aclose()


class _RoundRobin(httpx.AsyncBaseTransport):
    """Each request to the next of several engines (a load balancer in front of them)."""

    def __init__(self, transports: list[httpx.ASGITransport]) -> None:
        self._transports = transports
        self._next = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self._transports[self._next % len(self._transports)]
        self._next += 1
        return await transport.handle_async_request(request)
