"""A served app with two projects and an in-memory sink, for the intake's HTTP tests."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from syncengine.bootstrap import Container
from syncengine.domain.reports import CrashReport
from syncengine.errors import StoreError
from syncengine.ingest.sink import Accepted, InMemorySink
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


@dataclass(kw_only=True)
class Harness:
    client: httpx.AsyncClient
    sink: InMemorySink
    container: Container
    shop_id: int

    def groups(self) -> list[Any]:
        return sorted(self.sink.groups.values(), key=lambda g: g.id)


def settings(**ingest: Any) -> Settings:
    return Settings(
        data_dir=Path("/nonexistent"),
        ingest=ingest,
        projects={"shop": {"version_attribute": "app.version"}, "other": {}},
    )


async def make_harness(tmp_path: Path, template: Path, **ingest: Any) -> Harness:
    path = tmp_path / "store.db"
    shutil.copyfile(template, path)
    db = Database(f"sqlite+aiosqlite:///{path}")
    projects = ProjectRepository(db)
    shop = await projects.ensure("shop", name="Shop", integration_active=True, now=NOW)
    other = await projects.ensure("other", name="Other", integration_active=True, now=NOW)
    await projects.set_tokens(shop.id, [SHOP_TOKEN], source="config", now=NOW)
    await projects.set_tokens(other.id, [OTHER_TOKEN], source="config", now=NOW)
    sink = InMemorySink()
    container = Container(
        settings=settings(**ingest),
        db=db,
        projects=projects,
        groups=GroupRepository(db),
        clock=lambda: NOW,
        ingest=sink,
    )
    app = create_app(container.settings, container=container)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    return Harness(client=client, sink=sink, container=container, shop_id=shop.id)


@pytest.fixture
async def harness(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Harness]:
    h = await make_harness(tmp_path, sqlite_template)
    try:
        yield h
    finally:
        await h.client.aclose()
        await h.container.db.aclose()
