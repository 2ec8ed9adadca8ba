"""A support portal wired on the ``db`` fixture with an in-memory Jira."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from syncengine.bootstrap.values import support_configs, support_fields
from syncengine.settings import Settings
from syncengine.store.database import Database
from syncengine.store.outbox import OutboxRepository
from syncengine.store.projects import ProjectRepository
from syncengine.store.support import SupportRepository
from syncengine.support.create import SupportCreateHandler
from syncengine.support.pullback import SupportPuller
from syncengine.support.replies import SupportReplyHandler
from syncengine.support.service import SupportService
from syncengine.support.targets import SupportTargets
from syncengine.sync.worker import OutboxWorker
from tests.fake_support_jira import FakeSupportJira

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def portal_settings(**support: object) -> Settings:
    return Settings(
        projects={
            "api": {
                "jira": {"project_key": "SUP"},
                "support": {
                    "enabled": True,
                    "issue_type": "Service Request",
                    "labels": ["Bug", "Feature Request", "Question"],
                    "categories": ["Payment", "Customer"],
                    "api_products": ["Payments API", "Accounts API"],
                    "category_field": "customfield_10070",
                    "api_product_field": "customfield_10071",
                    "endpoint_field": "customfield_10072",
                    "max_attachment_bytes": 1000,
                    **support,
                },
            }
        }
    )


@dataclass
class Portal:
    settings: Settings
    clock: Clock
    jira: FakeSupportJira
    service: SupportService
    requests: SupportRepository
    projects: ProjectRepository
    outbox: OutboxRepository
    worker: OutboxWorker
    puller: SupportPuller
    wakes: list[int]


async def make_portal(db: Database, settings: Settings, *, active: bool = True) -> Portal:
    clock = Clock()
    jira = FakeSupportJira()
    projects = ProjectRepository(db)
    await projects.ensure("api", name="API", integration_active=active, now=T0)
    requests = SupportRepository(db)
    outbox = OutboxRepository(db)
    targets = SupportTargets(support_fields(settings), {"api": jira})
    handler = SupportCreateHandler(
        requests=requests, projects=projects, targets=targets, clock=clock, outbox=outbox
    )
    replies = SupportReplyHandler(
        requests=requests, projects=projects, targets=targets, clock=clock, outbox=outbox
    )
    worker = OutboxWorker(
        outbox,
        {"support.create": handler, "support.comment": replies},
        worker_id="test",
        clock=clock,
    )
    wakes: list[int] = []
    service = SupportService(
        configs=support_configs(settings),
        projects=projects,
        requests=requests,
        clock=clock,
        wake=lambda: wakes.append(1),
    )
    puller = SupportPuller(
        requests=requests,
        projects=projects,
        targets=targets,
        slugs=service.enabled_slugs,
        clock=clock,
    )
    return Portal(settings, clock, jira, service, requests, projects, outbox, worker, puller, wakes)


@pytest.fixture
async def portal(db: Database) -> Portal:
    return await make_portal(db, portal_settings())
