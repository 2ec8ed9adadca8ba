"""The intake end to end in process: HTTP in, the real batching writer, groups in the store.

Runs on SQLite and PostgreSQL (the ``db`` fixture).
"""

from __future__ import annotations

import asyncio
import gzip
import json

from tests.integration.ingest_harness import SHOP_TOKEN, Harness, harness
from tests.unit.test_backtrace_format import BOUNDARY, REPORT, multipart
from tests.unit.test_sentry_format import CHAINED, envelope

__all__ = ["harness"]  # the fixture, imported for pytest

AUTH = {"Authorization": f"Bearer {SHOP_TOKEN}"}
URL = "/api/v1/projects/shop/reports"


async def test_a_batch_lands_in_groups_with_counts_and_bad_items_stay_out(harness: Harness) -> None:
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
    response = await harness.client.post(URL, json=batch, headers=AUTH)
    assert response.status_code == 202
    body = response.json()
    assert [(r["index"], r["new_group"]) for r in body["reports"]] == [
        (0, True),
        (1, True),  # new: the group did not exist before this request
        (3, True),
    ]
    assert [e["index"] for e in body["errors"]] == [2]
    group = await harness.container.groups.snapshot(body["reports"][0]["group_id"])
    assert group.count == 2
    assert group.classifier == "TimeoutError"
    assert (group.first_version, group.last_version) == ("1.0", "1.1")
    assert {v.value: v.count for v in group.attributes["host"]} == {"web-1": 1, "web-2": 1}
    page = await harness.container.groups.page(harness.shop_id)
    assert sorted(g.count for g in page.groups) == [1, 2]


async def test_concurrent_posters_lose_no_count(harness: Harness) -> None:
    lines = b"\n".join(
        json.dumps({"callstack": ["f"], "message": str(i)}).encode() for i in range(25)
    )

    async def post() -> int:
        response = await harness.client.post(
            URL,
            content=gzip.compress(lines),
            headers={**AUTH, "Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"},
        )
        assert response.status_code == 202
        return int(response.json()["reports"][0]["group_id"])

    ids = await asyncio.gather(*(post() for _ in range(8)))
    assert len(set(ids)) == 1
    assert (await harness.container.groups.snapshot(ids[0])).count == 8 * 25


async def test_sentry_and_backtrace_land_in_groups(harness: Harness) -> None:
    event = json.dumps(CHAINED).encode()
    sentry = await harness.client.post(
        "/api/shop/envelope/",
        content=envelope(({"type": "event", "length": len(event)}, event)),
        headers={"X-Sentry-Auth": f"Sentry sentry_key={SHOP_TOKEN},sentry_version=7"},
    )
    assert sentry.status_code == 200
    backtrace = await harness.client.post(
        f"/post?token={SHOP_TOKEN}&format=json",
        content=multipart(REPORT),
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert backtrace.json()["response"] == "ok"
    page = await harness.container.groups.page(harness.shop_id)
    by_class = {g.classifier: g for g in page.groups}
    sentry_group = await harness.container.groups.snapshot(by_class["CheckoutFailed"].id)
    assert sentry_group.top_value("environment") == "production"
    assert sentry_group.top_value("region") == "eu"
    assert sentry_group.last_version == "shop@2.0.1"
    backtrace_group = await harness.container.groups.snapshot(by_class["ZeroDivisionError"].id)
    assert backtrace_group.top_value("process.id") == "4242"
    assert backtrace_group.message == "division by zero"
