"""The poison test: one client posting hostile reports does not cost four others a single report.

On SQLite and PostgreSQL, through the real batching writer: while one client of
project ``shop`` posts a hostile report every 100 ms (every trick of issue 12),
four clients of project ``other`` post good ones; every good one is accepted and
counted, and no hostile one gets a 5xx.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from itertools import cycle

from tests.integration.ingest_harness import OTHER_TOKEN, SHOP_TOKEN, Harness, harness
from tests.unit.test_backtrace_format import REPORT
from tests.unit.test_sentry_format import envelope

__all__ = ["harness"]  # the fixture, imported for pytest

GOOD_CLIENTS = 4
POSTS_PER_CLIENT = 12
REPORTS_PER_POST = 5
NATIVE = "/api/v1/projects/{}/reports"
JSON = {"Content-Type": "application/json"}


def deep(depth: int) -> str:
    return '{"x":' * depth + "1" + "}" * depth


def hostile_requests() -> list[tuple[str, bytes, dict[str, str]]]:
    """(URL, body, headers) of each hostile request: bad text, numbers, nesting, encodings."""
    native = NATIVE.format("shop")
    auth = {"Authorization": f"Bearer {SHOP_TOKEN}", **JSON}
    backtrace = f"/post?format=json&token={SHOP_TOKEN}"
    sentry = {"X-Sentry-Auth": f"Sentry sentry_key={SHOP_TOKEN}"}
    report = json.dumps(dict(REPORT, annotations={"deep": 1}))
    lone, nul = "\\ud83d", "\\u0000"
    return [
        (native, f'{{"attributes": {{"hostname": "{lone}"}}}}'.encode(), auth),
        (native, f'[{{"message": "{lone}{nul}"}}, {{"classifier": "{lone}"}}]'.encode(), auth),
        (native, f'{{"frames": [{{"function": "{lone}"}}], "version": "{nul}"}}'.encode(), auth),
        (native, f'{{"fingerprint": "{lone}", "attributes": {{"{nul}": NaN}}}}'.encode(), auth),
        (native, b'{"timestamp": NaN, "frames": [{"line": Infinity}]}', auth),
        (
            native,
            gzip.compress(b'{"message": "a"}') + b"garbage",
            {**auth, "Content-Encoding": "gzip"},
        ),
        (backtrace, report.replace('{"deep": 1}', deep(1000)).encode(), JSON),
        (backtrace, report.replace('{"deep": 1}', deep(300)).encode(), JSON),
        (backtrace, report.replace('"ZeroDivisionError"', f'"{lone}"').encode(), JSON),
        ("/api/shop/store/", f'{{"message": "{lone}", "extra": {{"n": NaN}}}}'.encode(), sentry),
        (
            "/api/shop/envelope/",
            envelope(({"type": "event"}, ('{"extra": ' + deep(500) + "}").encode())),
            sentry,
        ),
    ]


async def test_a_hostile_client_costs_the_others_nothing(harness: Harness) -> None:
    client = harness.client
    good_done = asyncio.Event()
    hostile_statuses: list[int] = []

    async def hostile() -> None:
        for url, body, headers in cycle(hostile_requests()):
            if good_done.is_set():
                return
            response = await client.post(url, content=body, headers=headers)
            hostile_statuses.append(response.status_code)
            await asyncio.sleep(0.1)

    async def good(number: int) -> list[int]:
        statuses = []
        for post in range(POSTS_PER_CLIENT):
            batch = [
                {"classifier": "Good", "callstack": ["f"], "attributes": {"client": str(number)}}
                for _ in range(REPORTS_PER_POST)
            ]
            response = await client.post(
                NATIVE.format("other"),
                json=batch,
                headers={"Authorization": f"Bearer {OTHER_TOKEN}"},
            )
            statuses.append(response.status_code)
            if response.status_code == 202:
                assert response.json()["accepted"] == REPORTS_PER_POST
            if post % 3 == 0:
                await asyncio.sleep(0.05)  # interleave with the hostile posts
        return statuses

    poisoner = asyncio.create_task(hostile())
    await asyncio.sleep(0.05)  # the first hostile report is in flight
    results = await asyncio.wait_for(
        asyncio.gather(*(good(n) for n in range(GOOD_CLIENTS))), timeout=60
    )
    good_done.set()
    await asyncio.wait_for(poisoner, timeout=30)

    assert [set(statuses) for statuses in results] == [{202}] * GOOD_CLIENTS
    assert len(hostile_statuses) >= 3
    assert all(status < 500 for status in hostile_statuses), hostile_statuses
    page = await harness.container.groups.page(harness.other_id, limit=10)
    assert [g.count for g in page.groups] == [GOOD_CLIENTS * POSTS_PER_CLIENT * REPORTS_PER_POST]
