"""The one composition root: settings in, a wired :class:`Container` out.

The CLI, the web app's lifespan and the tests all build the engine here.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
from pydantic import SecretStr

from syncengine.domain.webhooks import JiraEvent
from syncengine.ingest.sink import ReportSink
from syncengine.ingest.writer import BatchWriter, tune_gc_for_ingest
from syncengine.jira.config import JiraConfig
from syncengine.jira_wiring import JiraClients, SimulatedJira
from syncengine.metrics import Metrics
from syncengine.scheduler import BackgroundRuntime, PeriodicJob
from syncengine.settings import Settings, mask_secret
from syncengine.store.audit import AuditRepository
from syncengine.store.cursors import CursorRepository
from syncengine.store.database import Database
from syncengine.store.groups import GroupRepository
from syncengine.store.history import HistoryHook
from syncengine.store.links import IssueLinkRepository
from syncengine.store.migrate import current_revision, head_revision, upgrade_async
from syncengine.store.outbox import OutboxRepository
from syncengine.store.projects import ProjectRepository, generate_token
from syncengine.store.support import CREATE_KIND as SUPPORT_CREATE
from syncengine.store.support import SupportRepository
from syncengine.support.create import SupportCreateHandler
from syncengine.support.jira_adapter import ClientSupportJira
from syncengine.support.jira_port import SupportJira
from syncengine.support.pullback import SupportPuller
from syncengine.support.service import SupportService
from syncengine.support.targets import SupportTargets
from syncengine.sync.changes import GroupChanges
from syncengine.sync.housekeeping import Housekeeping
from syncengine.sync.manual_tickets import ManualTickets
from syncengine.sync.planner import TicketPlanner
from syncengine.sync.tickets import CREATE, TicketService
from syncengine.sync.worker import Handler, OutboxWorker
from syncengine.sync_wiring import TwoWaySync, wire_sync
from syncengine.wiring import description_renderer, ticket_rules, ticket_template

if TYPE_CHECKING:
    from syncengine.jira.simulator import Simulator

__all__ = [
    "Container",
    "EventHandler",
    "bootstrap",
    "prepare_projects",
    "schema_is_current",
    "utcnow",
]

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
    groups: GroupRepository
    ingest: ReportSink
    outbox: OutboxRepository
    links: IssueLinkRepository
    cursors: CursorRepository
    audit: AuditRepository
    metrics: Metrics
    jira: JiraClients
    tickets: TicketService
    manual: ManualTickets
    changes: GroupChanges
    support: SupportService
    support_puller: SupportPuller
    worker: OutboxWorker
    # Outbox handlers by item kind (shared with the worker) and periodic jobs: filled in
    # by the parts that own them.
    handlers: dict[str, Handler]
    clock: Callable[[], datetime] = utcnow
    started_at: datetime = field(default_factory=utcnow)
    jobs: list[PeriodicJob] = field(default_factory=list)
    event_handlers: list[EventHandler] = field(default_factory=list)
    runtime: BackgroundRuntime | None = None
    simulator: Simulator | None = None
    sync: TwoWaySync | None = None

    def wake_worker(self) -> None:
        """New outbox work was written (or a project turned Active): run it now."""
        self.worker.wake()

    def start_background(self) -> None:
        """Run the outbox worker and the periodic jobs in this process."""
        self.runtime = BackgroundRuntime(self.db, self.worker, self.jobs)
        self.runtime.start()

    async def aclose(self) -> None:
        """Stop background work (releasing claims), write accepted reports, close pools."""
        try:
            if self.runtime is not None:
                await self.runtime.stop()
                self.runtime = None
            await self.ingest.aclose()
            await self.jira.aclose()
        finally:
            await self.db.aclose()


def bundled_simulator() -> tuple[Simulator, SimulatedJira]:
    """The seeded, in-process Jira that stands in when a project has no Jira URL."""
    from syncengine.jira.simulator import DEFAULT_LOGIN, DEFAULT_TOKEN, create_simulator

    simulator = create_simulator("cloud", seed=True)
    config = JiraConfig(
        site="http://jira.local",
        deployment="cloud",
        user=DEFAULT_LOGIN,
        token=SecretStr(DEFAULT_TOKEN),
        backoff_base_seconds=0.05,
    )
    return simulator, SimulatedJira(config=config, transport=simulator.transport())


async def bootstrap(
    settings: Settings,
    *,
    migrate: bool | None = None,
    clock: Callable[[], datetime] = utcnow,
    jira_transport: httpx.AsyncBaseTransport | None = None,
    simulator: tuple[Simulator, SimulatedJira] | None = None,
    ingest: ReportSink | None = None,
    support_jira: Mapping[str, SupportJira] | None = None,
) -> Container:
    """Build the engine from ``settings``; upgrade the schema when asked or configured.

    ``jira_transport`` routes every Jira call (tests); ``simulator`` is the Jira that
    serves projects without a Jira URL (default: a bundled in-process one, built
    only when such a project exists); ``ingest`` replaces the batching writer
    (tests use the in-memory sink); ``support_jira`` gives each project's Jira for
    support requests (default: the projects' Jira clients).
    """
    url = settings.effective_database_url
    if migrate if migrate is not None else settings.auto_migrate:
        await upgrade_async(url)
    if simulator is None and any(p.jira.simulated for p in settings.projects.values()):
        simulator = bundled_simulator()
    db = Database(url)
    groups = GroupRepository(
        db,
        samples_first=settings.ingest.samples_first,
        samples_newest=settings.ingest.samples_newest,
    )
    projects = ProjectRepository(db)
    links = IssueLinkRepository(db)
    outbox = OutboxRepository(db)
    metrics = Metrics()
    jira = JiraClients(
        settings,
        transport=jira_transport,
        simulator=simulator[1] if simulator is not None else None,
        observer=lambda slug: metrics.jira_observer(slug, clock),
    )
    tickets = TicketService(
        templates={slug: ticket_template(p.jira) for slug, p in settings.projects.items()},
        projects=projects,
        groups=groups,
        links=links,
        clients=jira.for_project,
        renderer=description_renderer(settings),
        clock=clock,
    )
    handlers: dict[str, Handler] = {CREATE: tickets.create}
    worker_id = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
    worker = OutboxWorker(
        outbox,
        handlers,
        worker_id=worker_id,
        clock=clock,
        batch_handlers={CREATE: tickets.create_many},
        lease=timedelta(seconds=settings.outbox_lease_seconds),
    )
    changes = GroupChanges(db, settings, clock=clock, wake=worker.wake)
    requests = SupportRepository(db)
    if support_jira is None:
        support_jira = {
            slug: ClientSupportJira(jira.for_project(slug))
            for slug, project in settings.projects.items()
            if project.support.enabled
        }
    targets = SupportTargets(settings, support_jira)
    handlers[SUPPORT_CREATE] = SupportCreateHandler(
        requests=requests, projects=projects, targets=targets, clock=clock
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
    jobs: list[PeriodicJob] = []
    support_intervals = [
        p.sync.poll_interval_seconds for p in settings.projects.values() if p.support.enabled
    ]
    if support_intervals:
        jobs.append(
            PeriodicJob(
                name="support.pull", seconds=min(support_intervals), func=_discard(puller.poll)
            )
        )
    worker.on_outcome = changes.record_outcome
    planner = TicketPlanner(
        {slug: ticket_rules(p) for slug, p in settings.projects.items()}, wake=worker.wake
    )
    groups.hooks.append(HistoryHook())
    groups.hooks.append(planner)
    groups.after_commit.append(planner.after_commit)
    container = Container(
        settings=settings,
        db=db,
        projects=projects,
        groups=groups,
        ingest=ingest or _writer(groups, settings, clock),
        outbox=outbox,
        links=links,
        cursors=CursorRepository(db),
        audit=AuditRepository(db),
        metrics=metrics,
        jira=jira,
        tickets=tickets,
        manual=ManualTickets(
            db=db,
            groups=groups,
            links=links,
            clients=jira.for_project,
            clock=clock,
            wake=worker.wake,
        ),
        changes=changes,
        support=support,
        support_puller=puller,
        jobs=jobs,
        worker=worker,
        handlers=handlers,
        clock=clock,
        simulator=simulator[0] if simulator is not None else None,
    )
    container.sync = wire_sync(container)
    housekeeping = Housekeeping(
        db=db,
        cursors=container.cursors,
        tickets=tickets,
        clock=clock,
        retention_days=settings.retention_days,
        longest_window_minutes=max(
            (p.rules.window_minutes or 0 for p in settings.projects.values()), default=0
        ),
        projects=[slug for slug, p in settings.projects.items() if p.rules.enabled],
        is_active=_active(projects),
    )
    container.jobs += [
        PeriodicJob(name="retention", seconds=3600, func=_discard(housekeeping.retention)),
        PeriodicJob(
            name="createmeta.revalidate",
            seconds=settings.createmeta_refresh_seconds,
            func=housekeeping.revalidate,
        ),
    ]
    return container


def _writer(
    groups: GroupRepository, settings: Settings, clock: Callable[[], datetime]
) -> ReportSink:
    writer = BatchWriter.from_settings(groups, settings.ingest, clock=clock)
    tune_gc_for_ingest()
    writer.start()
    return writer


def _active(projects: ProjectRepository) -> Callable[[str], Awaitable[bool]]:
    async def active(slug: str) -> bool:
        record = await projects.get(slug)
        return record is not None and record.integration_active

    return active


def _discard(func: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await func()

    return run


async def schema_is_current(container: Container) -> bool:
    """True when the database is at the newest migration the code knows."""
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
