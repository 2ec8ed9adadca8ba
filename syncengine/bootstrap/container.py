"""The built engine: every service, once, in an immutable :class:`Container`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from syncengine.bootstrap.jira_clients import JiraClients
from syncengine.bootstrap.sync_services import TwoWaySync
from syncengine.ingest.intake import Intake
from syncengine.ingest.sink import ReportSink
from syncengine.metrics import Metrics
from syncengine.settings import Settings
from syncengine.store.audit import AuditRepository
from syncengine.store.cursors import CursorRepository
from syncengine.store.database import Database
from syncengine.store.groups import GroupRepository
from syncengine.store.links import IssueLinkRepository
from syncengine.store.outbox import OutboxRepository
from syncengine.store.projects import ProjectRepository
from syncengine.support.pullback import SupportPuller
from syncengine.support.service import SupportService
from syncengine.sync.changes import GroupChanges
from syncengine.sync.connection_checks import ConnectionChecks
from syncengine.sync.doctor import Doctor
from syncengine.sync.jira_connect import JiraConnector
from syncengine.sync.manual_tickets import ManualTickets
from syncengine.sync.scheduler import BackgroundRuntime, PeriodicJob
from syncengine.sync.supervision import Supervision
from syncengine.sync.tickets import TicketService
from syncengine.sync.webhook_inbox import EventHandler
from syncengine.sync.webhook_registration import WebhookRegistrar
from syncengine.sync.worker import Handler, OutboxWorker
from syncengine.web.services import WebServices

if TYPE_CHECKING:
    from syncengine.jira.simulator import Simulator

__all__ = ["Background", "Container"]


class Background:
    """Runs the outbox worker and the periodic jobs in this process, when asked."""

    def __init__(
        self,
        db: Database,
        worker: OutboxWorker,
        jobs: tuple[PeriodicJob, ...],
        *,
        supervision: Supervision | None = None,
        grace_seconds: float = 30.0,
    ) -> None:
        self._db = db
        self._worker = worker
        self.jobs = jobs
        self.supervision = supervision
        self.grace_seconds = grace_seconds
        self.runtime: BackgroundRuntime | None = None

    def start(self) -> None:
        """Start the worker and the schedule (inside a running event loop)."""
        self.runtime = BackgroundRuntime(
            self._db,
            self._worker,
            self.jobs,
            supervision=self.supervision,
            grace_seconds=self.grace_seconds,
        )
        self.runtime.start()

    async def stop(self) -> None:
        """Stop taking work and give back claims; a no-op when not running."""
        if self.runtime is not None:
            await self.runtime.stop()
            self.runtime = None


@dataclass(frozen=True, kw_only=True)
class Container:
    """Everything a running engine needs, built once by :func:`~syncengine.bootstrap.bootstrap`.

    Nothing is added or replaced after the build; the CLI, the web app and the
    tests reach the services here.
    """

    settings: Settings
    db: Database
    projects: ProjectRepository
    groups: GroupRepository
    ingest: ReportSink
    intake: Intake
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
    handlers: Mapping[str, Handler]
    jobs: tuple[PeriodicJob, ...]
    event_handlers: tuple[EventHandler, ...]
    sync: TwoWaySync
    doctor: Doctor
    web: WebServices
    background: Background
    clock: Callable[[], datetime]
    started_at: datetime
    simulator: Simulator | None = None
    connector: JiraConnector | None = None
    """OAuth connect flows and credentials (None when no project uses OAuth)."""
    webhook_registrar: WebhookRegistrar | None = None
    """Webhooks registered in Jira by API (where the project's auth allows it)."""
    connection_checks: ConnectionChecks | None = None
    """The cheap periodic checks of each project's Jira connection."""

    @property
    def runtime(self) -> BackgroundRuntime | None:
        """The background work running in this process, if it was started."""
        return self.background.runtime

    def wake_worker(self) -> None:
        """New outbox work was written (or a project turned Active): run it now."""
        self.worker.wake()

    def start_background(self) -> None:
        """Run the outbox worker and the periodic jobs in this process."""
        self.background.start()

    async def aclose(self) -> None:
        """Stop background work (releasing claims), write accepted reports, close pools."""
        try:
            await self.background.stop()
            await self.ingest.aclose()
            await self.jira.aclose()
        finally:
            try:
                await self.db.aclose()
            finally:
                if self.simulator is not None:
                    self.simulator.close()
