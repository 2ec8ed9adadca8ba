"""The services that watch each project's Jira connection: doctor's credential checks, the
periodic cheap checks built on them, the webhooks registered by API, and their jobs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from syncengine.bootstrap.jira_clients import JiraClients, ProjectJira
from syncengine.bootstrap.webhook_plans import webhook_plans
from syncengine.jira.config import JiraConfig
from syncengine.settings import Settings
from syncengine.store.database import Database
from syncengine.store.jira_webhooks import HealthCheckRepository, WebhookRepository
from syncengine.store.projects import ProjectRepository
from syncengine.sync.connection_checks import ConnectionChecks
from syncengine.sync.credential_checks import CredentialChecks, TokenExpiry
from syncengine.sync.jira_connect import JiraConnector
from syncengine.sync.scheduler import PeriodicJob
from syncengine.sync.webhook_registration import WebhookRegistrar

__all__ = ["WEBHOOK_REFRESH_SECONDS", "connection_jobs", "connections"]

# Cloud lets a dynamic webhook lapse 30 days after its last extension; each is extended once
# due within 7 days, so a look every 6 hours leaves a week of tries.
WEBHOOK_REFRESH_SECONDS = 6 * 3600


def _active(projects: ProjectRepository) -> Callable[[str], Awaitable[bool]]:
    async def active(slug: str) -> bool:
        record = await projects.get(slug)
        return record is not None and record.integration_active

    return active


def _discard(func: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await func()

    return run


def connections(  # noqa: PLR0917 - the pieces they are built of
    settings: Settings,
    connector: JiraConnector | None,
    configs: Mapping[str, ProjectJira],
    db: Database,
    jira: JiraClients,
    clock: Callable[[], datetime],
) -> tuple[CredentialChecks, ConnectionChecks, WebhookRegistrar]:
    """Doctor's credential checks, the periodic cheap checks built on them, and the
    webhooks registered by API."""
    credentials = CredentialChecks(
        connector=connector,
        expiries={
            slug: TokenExpiry(
                expires=p.jira.api_token_expires, warning_days=p.jira.expiry_warning_days
            )
            for slug, p in settings.projects.items()
        },
        now=clock,
    )
    checks = ConnectionChecks(
        projects=[slug for slug, c in configs.items() if isinstance(c, JiraConfig)],
        credentials=credentials,
        clients=jira.for_project,
        repository=HealthCheckRepository(db),
        clock=clock,
        is_active=_active(ProjectRepository(db)),
    )
    registrar = WebhookRegistrar(
        plans=webhook_plans(settings, configs),
        repository=WebhookRepository(db),
        clients=jira.for_project,
        clock=clock,
    )
    return credentials, checks, registrar


def connection_jobs(
    settings: Settings, registrar: WebhookRegistrar, checks: ConnectionChecks
) -> list[PeriodicJob]:
    """The jobs that watch Jira connections: the cheap checks, extending dynamic webhooks."""
    jobs: list[PeriodicJob] = []
    if checks.projects:
        jobs.append(
            PeriodicJob(
                name="jira.checks",
                seconds=settings.health_check_seconds,
                func=_discard(checks.run),
                deadline_seconds=120.0,
            )
        )
    if any(p.api == "dynamic" for p in registrar.plans.values()):
        jobs.append(
            PeriodicJob(
                name="webhooks.refresh",
                seconds=WEBHOOK_REFRESH_SECONDS,
                func=_discard(registrar.refresh_due),
                deadline_seconds=300.0,
            )
        )
    return jobs
