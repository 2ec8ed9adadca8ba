"""The one composition root: settings in, a wired, immutable :class:`Container` out.

:func:`bootstrap` builds everything once, in order — the store, Jira, the
services, the outbox worker, the fold hooks, the periodic jobs, the web's
services — converting each settings section into the values its service takes.
The CLI, the web app's lifespan and the tests all build the engine here.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
from pydantic import SecretStr

from syncengine.bootstrap import values
from syncengine.bootstrap.connections import connection_jobs, connections
from syncengine.bootstrap.container import Background, Container
from syncengine.bootstrap.jira_clients import (
    JiraClients,
    ProjectJira,
    SimulatedJira,
    issue_sites,
    jira_configs,
    oauth_setups,
)
from syncengine.bootstrap.sync_services import build_sync
from syncengine.bootstrap.webhook_plans import app_secrets
from syncengine.domain.merge import SyncMode
from syncengine.ingest.intake import Intake
from syncengine.ingest.sink import ReportSink
from syncengine.ingest.writer import Arrivals, BatchWriter, tune_gc_for_ingest
from syncengine.jira.config import JiraConfig
from syncengine.metrics import Metrics
from syncengine.settings import Settings
from syncengine.store.audit import AuditRepository
from syncengine.store.credentials import CredentialRepository
from syncengine.store.cursors import CursorRepository
from syncengine.store.database import Database
from syncengine.store.group_edits import GroupEdits
from syncengine.store.groups import GroupRepository
from syncengine.store.history import HistoryHook, HistoryRepository
from syncengine.store.impact import ImpactRepository
from syncengine.store.jira_budget import SharedBudgets
from syncengine.store.link_repair import LinkRepair
from syncengine.store.link_sync import LinkSyncStore
from syncengine.store.links import IssueLinkRepository
from syncengine.store.locks import LinkLocks
from syncengine.store.migrate import upgrade_async
from syncengine.store.outbox import OutboxRepository
from syncengine.store.projects import ProjectRepository
from syncengine.store.retention import RetentionRepository
from syncengine.store.secret_box import load_secret_box
from syncengine.store.support import COMMENT_KIND as SUPPORT_COMMENT
from syncengine.store.support import CREATE_KIND as SUPPORT_CREATE
from syncengine.store.support import SupportRepository
from syncengine.store.ticket_queue import TicketRequests
from syncengine.store.web_sessions import WebSessionRepository
from syncengine.support.create import SupportCreateHandler
from syncengine.support.jira_adapter import ClientSupportJira
from syncengine.support.jira_port import SupportJira
from syncengine.support.pullback import SupportPuller
from syncengine.support.replies import SupportReplyHandler
from syncengine.support.service import SupportService
from syncengine.support.targets import SupportTargets
from syncengine.support.webhooks import SupportWebhooks
from syncengine.sync.changes import GroupChanges
from syncengine.sync.doctor import Doctor, DoctorProject
from syncengine.sync.duplicates import DuplicateSweep
from syncengine.sync.group_admin import GroupAdmin
from syncengine.sync.housekeeping import Housekeeping
from syncengine.sync.integration_admin import IntegrationAdmin
from syncengine.sync.jira_auth import JiraCredentials
from syncengine.sync.jira_connect import JiraConnector
from syncengine.sync.manual_tickets import ManualTickets
from syncengine.sync.planner import TicketPlanner
from syncengine.sync.regressions import RegressionHook
from syncengine.sync.scheduler import OUTBOX_LOOP, PeriodicJob
from syncengine.sync.status import EngineStatus
from syncengine.sync.supervision import Supervision
from syncengine.sync.tickets import CREATE, TicketService
from syncengine.sync.webhook_inbox import EventHandler, WebhookInbox
from syncengine.sync.worker import Handler, OutboxWorker
from syncengine.web.services import WebServices
from syncengine.web.sessions import WebSessions

if TYPE_CHECKING:
    from pathlib import Path

    from syncengine.jira.simulator import Simulator

__all__ = ["SIMULATOR_DIR", "bootstrap", "bundled_simulator", "utcnow"]


def utcnow() -> datetime:
    """The current time, aware, in UTC (the clock passed to the domain)."""
    return datetime.now(UTC)


SIMULATOR_DIR = "jira-sim"
"""The bundled Jira simulator's site: a folder under the data folder."""


def bundled_simulator(
    settings: Settings, *, lock_wait_seconds: float = 0.0
) -> tuple[Simulator, SimulatedJira]:
    """The seeded Jira that stands in when a project has no Jira URL, kept in the data
    folder (restarts keep its issues) and browsed at ``<public_url>/jira``.

    The process that gets the file's lock within ``lock_wait_seconds`` writes it;
    another only reads it (``simulator.state_file.writable``).
    """
    from syncengine.jira.simulator import DEFAULT_LOGIN, DEFAULT_TOKEN, create_simulator

    site = f"{settings.effective_public_url}/jira"
    simulator = create_simulator(
        "cloud",
        seed=True,
        base_url=site,
        state_path=settings.data_dir / SIMULATOR_DIR,
        lock_wait_seconds=lock_wait_seconds,
    )
    config = JiraConfig(
        site=site,
        deployment="cloud",
        user=DEFAULT_LOGIN,
        token=SecretStr(DEFAULT_TOKEN),
        backoff_base_seconds=0.05,
    )
    return simulator, SimulatedJira(config=config, transport=simulator.transport())


async def bootstrap(  # noqa: PLR0915 - the one composition root wires every part, in order
    settings: Settings,
    *,
    migrate: bool | None = None,
    clock: Callable[[], datetime] = utcnow,
    jira_transport: httpx.AsyncBaseTransport | None = None,
    simulator: tuple[Simulator, SimulatedJira] | None = None,
    ingest: ReportSink | None = None,
    support_jira: Mapping[str, SupportJira] | None = None,
    event_handlers: Iterable[EventHandler] = (),
    jobs: Iterable[PeriodicJob] = (),
    simulator_lock_wait: float = 0.0,
    metrics_shared: Path | None = None,
) -> Container:
    """Build the engine from ``settings``; upgrade the schema when asked or configured.

    ``jira_transport`` routes every Jira call (tests); ``simulator`` is the Jira that
    serves projects without a Jira URL (default: a bundled in-process one, built
    only when such a project exists); ``ingest`` replaces the batching writer
    (tests use the in-memory sink); ``support_jira`` gives each project's Jira for
    support requests (default: the projects' Jira clients); ``event_handlers`` and
    ``jobs`` are added to the webhook handlers and periodic jobs the engine has;
    ``simulator_lock_wait`` is how long to wait for the bundled simulator's file
    (see :func:`bundled_simulator`); ``metrics_shared``: the folder this process counts
    its metrics into with the other workers of ``serve --workers``.

    Raises ConfigError when a setting cannot be used (bad templates or ticket rules).
    """
    url = settings.effective_database_url
    if migrate if migrate is not None else settings.auto_migrate:
        await upgrade_async(url)
    if simulator is None and any(p.jira.simulated for p in settings.projects.values()):
        simulator = bundled_simulator(settings, lock_wait_seconds=simulator_lock_wait)

    # The store.
    db = Database(url, bulk_cache_mib=settings.ingest.sqlite_cache_mib)
    projects = ProjectRepository(db)
    links = IssueLinkRepository(db)
    outbox = OutboxRepository(db)
    cursors = CursorRepository(db)
    audit = AuditRepository(db)
    requests = SupportRepository(db)
    link_store = LinkSyncStore(db)

    # Jira (OAuth projects sign with their stored credential), and the signal any writer of
    # outbox work sets to wake the worker.
    metrics = Metrics(shared=metrics_shared)
    supervision = Supervision(clock=clock, on_crash=metrics.count_crash)
    configs = jira_configs(settings)
    connector = _oauth(settings, db, configs, jira_transport, clock)
    jira = JiraClients(
        configs,
        transport=jira_transport,
        simulator=simulator[1] if simulator is not None else None,
        observer=lambda slug: metrics.jira_observer(slug, clock),
        auth=connector.credentials.auth_for if connector is not None else None,
        # Several processes on PostgreSQL share each site's budget; on SQLite one process runs.
        budgets=SharedBudgets(db) if db.is_postgres else None,
    )
    work_written = asyncio.Event()
    wake = work_written.set
    renderer = values.description_renderer(settings)

    # Ingest: the fold hooks run in each batch's transaction, regressions first (a
    # reopened group may be due a ticket), then history, then the ticket rules.
    planner = TicketPlanner(
        {slug: values.ticket_rules(p) for slug, p in settings.projects.items()}, wake=wake
    )
    groups = GroupRepository(
        db,
        samples_first=settings.ingest.samples_first,
        samples_newest=settings.ingest.samples_newest,
        hooks=(RegressionHook(values.regression_checks(settings)), HistoryHook(), planner),
        after_commit=(planner.after_commit,),
    )
    # The intake counts the requests it is reading; the writer commits at once when none is.
    arrivals = Arrivals()
    sink = ingest or _writer(groups, settings, clock, arrivals)

    # The engine's services. A create whose outcome is unknown is looked up once Jira's
    # search can show it: the client's timeout plus the site's search lag.
    settle_seconds = {
        slug: p.jira.timeout_seconds + p.jira.search_lag_seconds
        for slug, p in settings.projects.items()
    }
    tickets = TicketService(
        templates={slug: values.ticket_template(p.jira) for slug, p in settings.projects.items()},
        projects=projects,
        groups=groups,
        links=links,
        clients=jira.for_project,
        renderer=renderer,
        clock=clock,
        outbox=outbox,
        settle_seconds=settle_seconds,
        public_url=settings.effective_public_url,
    )
    changes = GroupChanges(
        GroupEdits(db), syncing=values.syncing_projects(settings), clock=clock, wake=wake
    )
    manual = ManualTickets(
        requests=TicketRequests(db),
        audit=audit,
        groups=groups,
        links=links,
        clients=jira.for_project,
        clock=clock,
        wake=wake,
    )
    sync = build_sync(
        store=link_store,
        repair=LinkRepair(db),
        locks=LinkLocks(db),
        configs=values.sync_configs(settings),
        user_maps={slug: dict(p.jira.user_map) for slug, p in settings.projects.items()},
        poll_intervals={
            slug: p.sync.poll_interval_seconds
            for slug, p in settings.projects.items()
            if p.sync.mode is not SyncMode.OFF
        },
        watches=values.poll_watches(settings),
        public_url=settings.effective_public_url,
        projects=projects,
        links=links,
        cursors=cursors,
        groups=groups,
        tickets=tickets,
        changes=changes,
        clients=jira.for_project,
        clock=clock,
        wake=wake,
        impact_store=ImpactRepository(db),
        impact_configs=values.impact_configs(settings),
    )

    # Support requests.
    support_configs = values.support_configs(settings)
    if support_jira is None:
        support_jira = {slug: ClientSupportJira(jira.for_project(slug)) for slug in support_configs}
    support_fields = values.support_fields(settings)
    targets = SupportTargets(support_fields, support_jira)
    support = SupportService(
        configs=support_configs,
        projects=projects,
        requests=requests,
        clock=clock,
        wake=wake,
        fields=support_fields,
    )
    puller = SupportPuller(
        requests=requests,
        projects=projects,
        targets=targets,
        slugs=support.enabled_slugs,
        clock=clock,
    )

    # The outbox worker runs every kind of work the parts above queue.
    handlers: dict[str, Handler] = {
        CREATE: tickets.create,
        **sync.handlers,
        SUPPORT_CREATE: SupportCreateHandler(
            requests=requests,
            projects=projects,
            targets=targets,
            clock=clock,
            outbox=outbox,
            settle_seconds=settle_seconds,
        ),
        SUPPORT_COMMENT: SupportReplyHandler(
            requests=requests, projects=projects, targets=targets, clock=clock, outbox=outbox
        ),
    }
    worker = OutboxWorker(
        outbox,
        handlers,
        worker_id=f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}",
        clock=clock,
        batch_handlers={CREATE: tickets.create_many},
        lease=timedelta(seconds=settings.outbox_lease_seconds),
        concurrency=settings.outbox_concurrency,
        project_concurrency=settings.outbox_project_concurrency,
        item_deadline=settings.outbox_item_deadline_seconds,
        on_outcome=changes.record_outcome,
        wakeup=work_written,
        progress=lambda: supervision.progress(OUTBOX_LOOP),
        on_crash=lambda error: supervision.crashed(OUTBOX_LOOP, error),
        any_active=projects.any_active,
    )

    # Periodic jobs.
    housekeeping = Housekeeping(
        retention=RetentionRepository(db),
        cursors=cursors,
        tickets=tickets,
        clock=clock,
        retention_days=settings.retention_days,
        longest_window_minutes=max(
            (p.rules.window_minutes or 0 for p in settings.projects.values()), default=0
        ),
        projects=[slug for slug, p in settings.projects.items() if p.rules.enabled],
        is_active=_active(projects),
    )
    all_jobs: list[PeriodicJob] = []
    support_intervals = [
        p.sync.poll_interval_seconds for p in settings.projects.values() if p.support.enabled
    ]
    if support_intervals:
        all_jobs.append(
            PeriodicJob(
                name="support.pull", seconds=min(support_intervals), func=_discard(puller.poll)
            )
        )
    duplicates = DuplicateSweep(
        projects=projects,
        links=links,
        audit=audit,
        clients=jira.for_project,
        project_keys={slug: p.jira.project_key for slug, p in settings.projects.items()},
        clock=clock,
    )
    credential_checks, connection_checks, registrar = connections(
        settings, connector, configs, db, jira, clock
    )
    all_jobs += [
        *connection_jobs(settings, registrar, connection_checks),
        *sync.jobs,
        PeriodicJob(name="retention", seconds=3600, func=_discard(housekeeping.retention)),
        PeriodicJob(name="tickets.duplicates", seconds=3600, func=_discard(duplicates.sweep)),
        PeriodicJob(
            name="createmeta.revalidate",
            seconds=settings.createmeta_refresh_seconds,
            func=housekeeping.revalidate,
        ),
        *jobs,
    ]

    # What people use: doctor, the dashboard's and the API's services.
    doctor = Doctor(
        projects={
            slug: DoctorProject(
                jira=config,
                template=values.ticket_template(p.jira),
                screens=values.doctor_screens(p),
                impact=values.impact_configs(settings)[slug].policy,
            )
            for (slug, p), config in zip(settings.projects.items(), configs.values(), strict=True)
        },
        clients=jira.for_doctor().for_project,
        stored=projects,
        groups=groups,
        renderer=renderer,
        credentials=credential_checks,
    )
    support_webhooks = SupportWebhooks(projects=projects, requests=requests, puller=puller)
    all_handlers: tuple[EventHandler, ...] = (sync.webhooks, support_webhooks, *event_handlers)
    web = WebServices(
        config=values.web_config(settings),
        intake=Intake(
            projects=projects,
            sink=sink,
            contexts=values.report_contexts(settings),
            clock=clock,
            token_cache_seconds=settings.ingest.token_cache_seconds,
            arrivals=arrivals,
        ),
        webhooks=WebhookInbox(
            secrets={
                slug: p.jira.webhook_secret
                for slug, p in settings.projects.items()
                if p.jira.webhook_secret is not None
            },
            projects=projects,
            cursors=cursors,
            handlers=all_handlers,
            clock=clock,
            max_age=timedelta(seconds=settings.http.webhook_max_age_seconds),
            app_secrets=app_secrets(settings, configs),
        ),
        groups=GroupAdmin(
            projects=projects,
            groups=groups,
            links=links,
            audit=audit,
            history=HistoryRepository(db),
            sync_store=link_store,
            changes=changes,
            tickets=manual,
            resolution=sync.manual,
            jira_urls=issue_sites(settings),
            clock=clock,
        ),
        integration=IntegrationAdmin(
            projects=projects,
            outbox=outbox,
            cursors=cursors,
            audit=audit,
            doctor=doctor,
            watches=values.webhook_watches(settings),
            support_slugs=support_configs,
            clock=clock,
            wake=worker.resume,  # a project turned Active: an idle worker goes on
        ),
        support=support,
        sessions=WebSessions(
            repository=WebSessionRepository(db),
            password_hashes={n: u.password_hash for n, u in settings.web.users.items()},
            max_age=timedelta(seconds=settings.web.session_max_age_seconds),
            clock=clock,
        ),
        status=EngineStatus(
            db=db,
            projects=projects,
            outbox=outbox,
            cursors=cursors,
            metrics=metrics,
            clock=clock,
            supervision=supervision,
            checks=connection_checks,
        ),
        metrics=metrics,
        clock=clock,
        issue_pages=simulator[0].issue_page if simulator is not None else None,
        connector=connector,
        webhook_registrar=registrar,
        connection_checks=connection_checks,
    )
    frozen_jobs = tuple(all_jobs)
    return Container(
        settings=settings,
        db=db,
        projects=projects,
        groups=groups,
        ingest=sink,
        intake=web.intake,
        outbox=outbox,
        links=links,
        cursors=cursors,
        audit=audit,
        metrics=metrics,
        jira=jira,
        tickets=tickets,
        manual=manual,
        changes=changes,
        support=support,
        support_puller=puller,
        worker=worker,
        handlers=handlers,
        jobs=frozen_jobs,
        event_handlers=all_handlers,
        sync=sync,
        doctor=doctor,
        web=web,
        background=Background(
            db,
            worker,
            frozen_jobs,
            supervision=supervision,
            grace_seconds=settings.stop_grace_seconds,
        ),
        clock=clock,
        started_at=utcnow(),
        simulator=simulator[0] if simulator is not None else None,
        connector=connector,
        webhook_registrar=registrar,
        connection_checks=connection_checks,
    )


def _oauth(
    settings: Settings,
    db: Database,
    configs: Mapping[str, ProjectJira],
    transport: httpx.AsyncBaseTransport | None,
    clock: Callable[[], datetime],
) -> JiraConnector | None:
    """The OAuth credential service and connect flows, when any project uses OAuth (the
    secret key is loaded, or the demo's made, only then)."""
    setups = oauth_setups(settings, configs)
    if not setups:
        return None
    box = load_secret_box(
        key_env=settings.secret_key_env,
        key_file=settings.secret_key_file,
        data_dir=settings.data_dir,
    )

    def http() -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=transport,
            timeout=30.0,
            follow_redirects=False,
            headers={"User-Agent": "syncengine"},
        )

    credentials = JiraCredentials(CredentialRepository(db, box), setups, http=http, now=clock)
    return JiraConnector(credentials, http=http, now=clock)


def _writer(
    groups: GroupRepository,
    settings: Settings,
    clock: Callable[[], datetime],
    arrivals: Arrivals,
) -> ReportSink:
    writer = BatchWriter(
        groups,
        clock=clock,
        max_reports=settings.ingest.batch_max_reports,
        max_delay=settings.ingest.batch_max_delay_ms / 1000,
        arrivals=arrivals,
    )
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
