"""The intake end to end in process: HTTP in, the real batching writer, groups in the store.

Runs on SQLite and PostgreSQL (the ``db`` fixture).
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from syncengine.bootstrap import Container
from syncengine.ingest.writer import BatchWriter
from syncengine.store.database import Database
from syncengine.store.groups import GroupRepository
from syncengine.store.projects import ProjectRepository
from syncengine.web import create_app
from tests.integration.ingest_harness import NOW, SHOP_TOKEN, settings
from tests.unit.test_backtrace_format import BOUNDARY, REPORT, multipart
from tests.unit.test_sentry_format import CHAINED, envelope

AUTH = {"Authorization": f"Bearer {SHOP_TOKEN}"}
URL = "/api/v1/projects/shop/reports"


@dataclass(kw_only=True)
class Served:
    client: httpx.AsyncClient
    groups: GroupRepository
    shop_id: int


@pytest.fixture
async def served(db: Database) -> AsyncIterator[Served]:
    projects = ProjectRepository(db)
    shop = await projects.ensure("shop", name="Shop", integration_active=True, now=NOW)
    await projects.set_tokens(shop.id, [SHOP_TOKEN], source="config", now=NOW)
    groups = GroupRepository(db)
    writer = BatchWriter(groups, clock=lambda: NOW, max_delay=0.005)
    container = Container(
        settings=settings(),
        db=db,
        projects=projects,
        groups=groups,
        ingest=writer,
        clock=lambda: NOW,
    )
    app = create_app(container.settings, container=container)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        yield Served(client=client, groups=groups, shop_id=shop.id)
    await writer.aclose()


async def test_a_batch_lands_in_groups_with_counts_and_bad_items_stay_out(served: Served) -> None:
    crash = {
        "classifier": "TimeoutError",
        "frames": [{"function": "charge", "file": "pay.py"}],
        "attributes": {"host": "web-1", "app.version": "1.0"},
    }
    batch = [
        crash,
        dict(crash, attributes={"host": "web-2", "app.version": "1.1"}),
        dict(crash, attributes={"host": {"bad": 1}}),
        {"message": "disk full"},
    ]
    response = await served.client.post(URL, json=batch, headers=AUTH)
    assert response.status_code == 202
    body = response.json()
    assert [(r["index"], r["new_group"]) for r in body["reports"]] == [
        (0, True),
        (1, True),  # new: the group did not exist before this request
        (3, True),
    ]
    assert [e["index"] for e in body["errors"]] == [2]
    group = await served.groups.snapshot(body["reports"][0]["group_id"])
    assert group.count == 2
    assert group.classifier == "TimeoutError"
    assert (group.first_version, group.last_version) == ("1.0", "1.1")
    assert {v.value: v.count for v in group.attributes["host"]} == {"web-1": 1, "web-2": 1}
    page = await served.groups.page(served.shop_id)
    assert sorted(g.count for g in page.groups) == [1, 2]


async def test_concurrent_posters_lose_no_count(served: Served) -> None:
    lines = b"\n".join(
        json.dumps({"callstack": ["f"], "message": str(i)}).encode() for i in range(25)
    )

    async def post() -> int:
        response = await served.client.post(
            URL,
            content=gzip.compress(lines),
            headers={**AUTH, "Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"},
        )
        assert response.status_code == 202
        return int(response.json()["reports"][0]["group_id"])

    ids = await asyncio.gather(*(post() for _ in range(8)))
    assert len(set(ids)) == 1
    assert (await served.groups.snapshot(ids[0])).count == 8 * 25


async def test_sentry_and_backtrace_land_in_groups(served: Served) -> None:
    event = json.dumps(CHAINED).encode()
    sentry = await served.client.post(
        "/api/shop/envelope/",
        content=envelope(({"type": "event", "length": len(event)}, event)),
        headers={"X-Sentry-Auth": f"Sentry sentry_key={SHOP_TOKEN},sentry_version=7"},
    )
    assert sentry.status_code == 200
    backtrace = await served.client.post(
        f"/post?token={SHOP_TOKEN}&format=json",
        content=multipart(REPORT),
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert backtrace.json()["response"] == "ok"
    page = await served.groups.page(served.shop_id)
    by_class = {g.classifier: g for g in page.groups}
    sentry_group = await served.groups.snapshot(by_class["CheckoutFailed"].id)
    assert sentry_group.top_value("environment") == "production"
    assert sentry_group.top_value("region") == "eu"
    assert sentry_group.last_version == "shop@2.0.1"
    backtrace_group = await served.groups.snapshot(by_class["ZeroDivisionError"].id)
    assert backtrace_group.top_value("process.id") == "4242"
    assert backtrace_group.message == "division by zero"
