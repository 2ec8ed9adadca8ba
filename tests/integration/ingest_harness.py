"""A served app with two projects and the real batching writer, for the intake's HTTP tests.

Runs on SQLite and PostgreSQL (the ``db`` fixture); groups are read back from the store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from syncengine.bootstrap import Container
from syncengine.domain.groups import GroupSnapshot
from syncengine.domain.reports import CrashReport
from syncengine.errors import StoreError
from syncengine.ingest.sink import Accepted
from syncengine.ingest.writer import BatchWriter
from syncengine.settings import Settings
from syncengine.store.database import Database
from syncengine.store.groups import GroupRepository
from syncengine.store.projects import ProjectRepository
from syncengine.web import create_app

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SHOP_TOKEN = "shop-submission-token-0001"
OTHER_TOKEN = "other-submission-token-0002"


class BrokenSink:
    """A sink whose store is down."""

    async def submit(self, project_id: int, reports: Sequence[CrashReport]) -> list[Accepted]:
        raise StoreError("database unreachable: OperationalError")

    async def aclose(self) -> None:
        """Nothing to close."""


@dataclass(kw_only=True)
class Harness:
    client: httpx.AsyncClient
    container: Container
    shop_id: int
    other_id: int

    async def groups(self) -> list[GroupSnapshot]:
        """Every group of both projects, with attributes, by id."""
        found = []
        for project_id in (self.shop_id, self.other_id):
            page = await self.container.groups.page(project_id, limit=100)
            found += [await self.container.groups.snapshot(g.id) for g in page.groups]
        return sorted(found, key=lambda g: g.id)


def settings(**ingest: Any) -> Settings:
    return Settings(
        data_dir=Path("/nonexistent"),
        ingest=ingest,
        projects={"shop": {"version_attribute": "app.version"}, "other": {}},
    )


@asynccontextmanager
async def serve_harness(db: Database, **ingest: Any) -> AsyncIterator[Harness]:
    """The app on ``db`` with ``ingest`` settings; the writer is drained on exit."""
    projects = ProjectRepository(db)
    shop = await projects.ensure("shop", name="Shop", integration_active=True, now=NOW)
    other = await projects.ensure("other", name="Other", integration_active=True, now=NOW)
    await projects.set_tokens(shop.id, [SHOP_TOKEN], source="config", now=NOW)
    await projects.set_tokens(other.id, [OTHER_TOKEN], source="config", now=NOW)
    configured = settings(**ingest)
    groups = GroupRepository(db)
    writer = BatchWriter(groups, clock=lambda: NOW, max_delay=0.002)
    container = Container(
        settings=configured,
        db=db,
        projects=projects,
        groups=groups,
        ingest=writer,
        clock=lambda: NOW,
    )
    app = create_app(configured, container=container)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Harness(client=client, container=container, shop_id=shop.id, other_id=other.id)
    finally:
        await writer.aclose()


@pytest.fixture
async def harness(db: Database) -> AsyncIterator[Harness]:
    async with serve_harness(db) as h:
        yield h
