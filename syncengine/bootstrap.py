"""The one composition root: settings in, a wired :class:`Container` out.

The CLI, the web app's lifespan and the tests all build the engine here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from syncengine.settings import Settings, mask_secret
from syncengine.store.database import Database
from syncengine.store.migrate import current_revision, head_revision, upgrade_async
from syncengine.store.outbox import OutboxRepository
from syncengine.store.projects import ProjectRepository, generate_token
from syncengine.store.support import CREATE_KIND, SupportRepository
from syncengine.support.create import SupportCreateHandler
from syncengine.support.jira_adapter import ClientSupportJira
from syncengine.support.jira_port import SupportJira
from syncengine.support.pullback import SupportPuller
from syncengine.support.service import SupportService
from syncengine.support.targets import SupportTargets
from syncengine.sync.worker import OutboxWorker

__all__ = ["Container", "bootstrap", "prepare_projects", "utcnow"]


def utcnow() -> datetime:
    """The current time, aware, in UTC (the clock passed to the domain)."""
    return datetime.now(UTC)


@dataclass(kw_only=True)
class Container:
    """Everything a running engine needs, built once."""

    settings: Settings
    db: Database
    projects: ProjectRepository
    outbox: OutboxRepository
    worker: OutboxWorker
    support: SupportService
    support_puller: SupportPuller
    clock: Callable[[], datetime] = utcnow
    started_at: datetime = field(default_factory=utcnow)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _background: list[asyncio.Task[None]] = field(default_factory=list)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def wake_worker(self) -> None:
        """New outbox work was written (or a project turned Active): run it now."""
        self.worker.wake()

    def start_background(self) -> None:
        """Start the outbox worker and the support pull-back (``serve`` does this)."""
        if self._background:
            return
        self._stopping.clear()
        self._background = [
            asyncio.create_task(self.worker.run(), name="outbox-worker"),
            asyncio.create_task(
                self.support_puller.run(self._support_poll_interval, self._stopping),
                name="support-pullback",
            ),
        ]

    def _support_poll_interval(self) -> float:
        intervals = [
            p.sync.poll_interval_seconds
            for p in self.settings.projects.values()
            if p.support.enabled
        ]
        return float(min(intervals, default=60))

    async def stop_background(self) -> None:
        """Stop the background work, letting items in hand finish."""
        self.worker.stop()
        self._stopping.set()
        tasks, self._background = self._background, []
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=30)

    async def aclose(self) -> None:
        """Release every resource the container holds."""
        await self.stop_background()
        for close in self.closers:
            await close()
        await self.db.aclose()


async def bootstrap(
    settings: Settings,
    *,
    migrate: bool | None = None,
    clock: Callable[[], datetime] = utcnow,
    support_jira: Mapping[str, SupportJira] | None = None,
) -> Container:
    """Build the engine from ``settings``; upgrade the schema when asked or configured.

    ``support_jira`` gives each project's Jira for support requests (tests pass
    the simulator's); by default it is built from the projects' Jira settings.
    """
    url = settings.effective_database_url
    if migrate if migrate is not None else settings.auto_migrate:
        await upgrade_async(url)
    db = Database(url)
    projects = ProjectRepository(db)
    outbox = OutboxRepository(db)
    requests = SupportRepository(db)
    closers: list[Callable[[], Awaitable[None]]] = []
    if support_jira is None:
        support_jira = _support_clients(settings, closers)
    targets = SupportTargets(settings, support_jira)
    worker = OutboxWorker(
        outbox,
        {
            CREATE_KIND: SupportCreateHandler(
                requests=requests, projects=projects, targets=targets, clock=clock
            )
        },
        worker_id=f"{socket.gethostname()}:{os.getpid()}",
        clock=clock,
    )
    support = SupportService(
        settings=settings, projects=projects, requests=requests, clock=clock, wake=worker.wake
    )
    puller = SupportPuller(
        requests=requests,
        projects=projects,
        targets=targets,
        slugs=support.enabled_slugs,
        clock=clock,
    )
    return Container(
        settings=settings,
        db=db,
        projects=projects,
        outbox=outbox,
        worker=worker,
        support=support,
        support_puller=puller,
        clock=clock,
        closers=closers,
    )


def _support_clients(
    settings: Settings, closers: list[Callable[[], Awaitable[None]]]
) -> dict[str, SupportJira]:
    """A Jira client for each project that takes support requests and names a Jira site."""
    from syncengine.jira import JiraClient
    from syncengine.jira_wiring import jira_config

    clients: dict[str, SupportJira] = {}
    for slug, project in settings.projects.items():
        if not project.support.enabled or project.jira.simulated:
            continue
        client = JiraClient.open(jira_config(project.jira, key=f"projects.{slug}.jira"))
        closers.append(client.aclose)
        clients[slug] = ClientSupportJira(client)
    return clients


async def schema_is_current(container: Container) -> bool:
    """True when the database is at the newest migration the code knows."""
    import asyncio

    current = await asyncio.to_thread(current_revision, container.settings.effective_database_url)
    return current == head_revision()


async def prepare_projects(container: Container, echo: Callable[[str], None]) -> None:
    """Make the configured projects and their tokens exist in the store.

    A project with ``generate_token`` and no token configured gets one generated
    on its first start; it is printed once through ``echo`` and only its digest is
    kept. Configured tokens are printed masked.
    """
    now = container.clock()
    for slug, project in container.settings.projects.items():
        record = await container.projects.ensure(
            slug, name=project.name, integration_active=project.integration_active, now=now
        )
        tokens = [t.get_secret_value() for t in project.submission_tokens]
        await container.projects.set_tokens(record.id, tokens, source="config", now=now)
        for token in tokens:
            echo(f"project {slug}: submission token {mask_secret(token)}")
        if tokens or not project.generate_token:
            continue
        if await container.projects.token_count(record.id, source="generated"):
            env = project.submission_token_env or "a submission token"
            echo(f"project {slug}: using the token generated at first start (set {env} to choose)")
            continue
        token = generate_token()
        await container.projects.set_tokens(record.id, [token], source="generated", now=now)
        echo(f"project {slug}: generated submission token {token} (shown once: keep it)")
