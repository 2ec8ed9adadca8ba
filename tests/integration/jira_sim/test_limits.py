"""Jira Cloud's published limits: burst per endpoint and method, per-issue writes, 429 shape."""

from __future__ import annotations

import httpx

from syncengine.jira.simulator import LimitsConfig, ManualClock, Simulator, create_simulator
from tests.integration.jira_sim.conftest import create


async def test_get_burst_is_100_per_second(
    sim: Simulator, clock: ManualClock, client: httpx.AsyncClient
) -> None:
    for _ in range(100):
        assert (await client.get("/rest/api/2/myself")).status_code == 200
    refused = await client.get("/rest/api/2/myself")
    assert refused.status_code == 429
    assert refused.headers["RateLimit-Reason"] == "jira-burst-based"
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["X-RateLimit-Limit"] == "100"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert "X-RateLimit-Reset" in refused.headers
    assert (await client.get("/rest/api/2/serverInfo")).status_code == 200  # another endpoint
    clock.advance(1.0)
    assert (await client.get("/rest/api/2/myself")).status_code == 200


async def test_put_burst_is_50_per_second(sim: Simulator, client: httpx.AsyncClient) -> None:
    keys = [(await create(client))["key"] for _ in range(3)]
    answers = [
        (
            await client.put(
                f"/rest/api/2/issue/{keys[n % 3]}", json={"fields": {"summary": f"s{n}"}}
            )
        ).status_code
        for n in range(51)
    ]
    assert answers[:50] == [204] * 50
    assert answers[50] == 429


async def test_per_issue_write_limit(
    sim: Simulator, clock: ManualClock, client: httpx.AsyncClient
) -> None:
    key = (await create(client))["key"]

    async def write(n: int) -> httpx.Response:
        return await client.put(f"/rest/api/2/issue/{key}", json={"fields": {"summary": f"v{n}"}})

    for n in range(20):
        assert (await write(n)).status_code == 204
    refused = await write(20)
    assert (refused.status_code, refused.headers["RateLimit-Reason"]) == (
        429,
        "jira-per-issue-on-write",
    )
    assert refused.headers["Retry-After"] == "2"
    assert sim.issue(key).fields["summary"] == "v19"  # the refused write changed nothing
    other = (await create(client))["key"]
    assert (
        await client.put(f"/rest/api/2/issue/{other}", json={"fields": {"summary": "x"}})
    ).status_code == 204
    written = 20
    while written < 100:  # 20 every 2 s, up to 100 in 30 s
        clock.advance(2.0)
        for _ in range(20):
            assert (await write(written)).status_code == 204
            written += 1
    clock.advance(2.0)
    refused = await write(written)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 2
    clock.advance(30)
    assert (await write(written)).status_code == 204


async def test_429_bodies_are_sometimes_html(clock: ManualClock) -> None:
    sim = create_simulator(
        clock=clock, limits=LimitsConfig(burst_per_second={"GET": 1}, html_429_ratio=0.5)
    )
    kinds = set()
    async with sim.client(login="bot@example.com", token="sim-api-token") as c:
        await c.get("/rest/api/2/myself")
        for _ in range(20):
            refused = await c.get("/rest/api/2/myself")
            assert refused.status_code == 429
            kinds.add(refused.headers["content-type"].split(";")[0])
            if refused.headers["content-type"].startswith("text/html"):
                assert "Oops - an error has occurred" in refused.text
            else:
                assert refused.json()["errorMessages"] == [
                    "The request has been rate-limited. Please try again later."
                ]
    assert kinds == {"text/html", "application/json"}


async def test_limits_can_be_switched_off(clock: ManualClock) -> None:
    sim = create_simulator(clock=clock, limits=LimitsConfig(enabled=False))
    async with sim.client(login="bot@example.com", token="sim-api-token") as c:
        statuses = {(await c.get("/rest/api/2/myself")).status_code for _ in range(150)}
    assert statuses == {200}
