"""The one composition root: settings in, a wired :class:`Container` out.

The CLI, the web app's lifespan and the tests all build the engine here.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from syncengine.domain.webhooks import JiraEvent
from syncengine.ingest.sink import InMemorySink, ReportSink
from syncengine.metrics import Metrics
from syncengine.scheduler import BackgroundRuntime, PeriodicJob
from syncengine.settings import Settings, mask_secret
from syncengine.store.audit import AuditRepository
from syncengine.store.cursors import CursorRepository
from syncengine.store.database import Database
from syncengine.store.links import IssueLinkRepository
from syncengine.store.migrate import current_revision, head_revision, upgrade_async
from syncengine.store.outbox import OutboxRepository
from syncengine.store.projects import ProjectRepository, generate_token
from syncengine.sync.worker import Handler, OutboxWorker

__all__ = ["Container", "EventHandler", "bootstrap", "prepare_projects", "utcnow"]

# Takes a verified, first-seen Jira event for a project (by slug).
EventHandler = Callable[[str, JiraEvent], Awaitable[None]]


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
    links: IssueLinkRepository
    cursors: CursorRepository
    audit: AuditRepository
    metrics: Metrics
    worker: OutboxWorker
    # Outbox handlers by item kind (shared with the worker) and periodic jobs: filled in
    # by the parts that own them.
    handlers: dict[str, Handler]
    clock: Callable[[], datetime] = utcnow
    started_at: datetime = field(default_factory=utcnow)
    ingest: ReportSink = field(default_factory=InMemorySink)
    jobs: list[PeriodicJob] = field(default_factory=list)
    event_handlers: list[EventHandler] = field(default_factory=list)
    runtime: BackgroundRuntime | None = None

    def start_background(self) -> None:
        """Run the outbox worker and the periodic jobs in this process."""
        self.runtime = BackgroundRuntime(self.db, self.worker, self.jobs)
        self.runtime.start()

    async def aclose(self) -> None:
        """Stop background work (releasing claims), then close the database."""
        if self.runtime is not None:
            await self.runtime.stop()
            self.runtime = None
        await self.db.aclose()


async def bootstrap(
    settings: Settings,
    *,
    migrate: bool | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Container:
    """Build the engine from ``settings``; upgrade the schema when asked or configured."""
    url = settings.effective_database_url
    if migrate if migrate is not None else settings.auto_migrate:
        await upgrade_async(url)
    db = Database(url)
    outbox = OutboxRepository(db)
    worker_id = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
    handlers: dict[str, Handler] = {}
    worker = OutboxWorker(outbox, handlers, worker_id=worker_id, clock=clock)
    return Container(
        settings=settings,
        db=db,
        projects=ProjectRepository(db),
        outbox=outbox,
        links=IssueLinkRepository(db),
        cursors=CursorRepository(db),
        audit=AuditRepository(db),
        metrics=Metrics(),
        worker=worker,
        handlers=handlers,
        clock=clock,
    )


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
