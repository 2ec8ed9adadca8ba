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

from syncengine.bootstrap import Container, bootstrap
from syncengine.domain.groups import GroupSnapshot
from syncengine.domain.reports import CrashReport
from syncengine.errors import StoreError
from syncengine.ingest.sink import Accepted, ReportSink
from syncengine.settings import Settings
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
    app: Any  # the ASGI app the client calls, for requests httpx cannot make
    shop_id: int
    other_id: int

    async def groups(self) -> list[GroupSnapshot]:
        """Every group of both projects, with attributes, by id."""
        found = []
        for project_id in (self.shop_id, self.other_id):
            page = await self.container.groups.page(project_id, limit=100)
            found += [await self.container.groups.snapshot(g.id) for g in page.groups]
        return sorted(found, key=lambda g: g.id)


def settings(database_url: str = "", **ingest: Any) -> Settings:
    return Settings(
        data_dir=Path("/nonexistent"),
        database_url=database_url,
        ingest={"batch_max_delay_ms": 2, **ingest},
        projects={
            "shop": {"version_attribute": "app.version", "jira": {"url": "https://jira.invalid"}},
            "other": {"jira": {"url": "https://jira.invalid"}},
        },
    )


@asynccontextmanager
async def serve_harness(
    database_url: str, *, sink: ReportSink | None = None, **ingest: Any
) -> AsyncIterator[Harness]:
    """The app on ``database_url`` with ``ingest`` settings; the writer is drained on exit.

    ``sink`` replaces the batching writer (a broken store, for instance).
    """
    container = await bootstrap(
        settings(database_url, **ingest), migrate=False, clock=lambda: NOW, ingest=sink
    )
    projects = container.projects
    shop = await projects.ensure("shop", name="Shop", integration_active=True, now=NOW)
    other = await projects.ensure("other", name="Other", integration_active=True, now=NOW)
    await projects.set_tokens(shop.id, [SHOP_TOKEN], source="config", now=NOW)
    await projects.set_tokens(other.id, [OTHER_TOKEN], source="config", now=NOW)
    app = create_app(container.web)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Harness(
                client=client, container=container, app=app, shop_id=shop.id, other_id=other.id
            )
    finally:
        await container.aclose()
        assert container.db.checked_out() == 0


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    async with serve_harness(database_url) as h:
        yield h
