"""Fault injection: error answers, latency, hangs, commit-then-fail, targeting, determinism."""

from __future__ import annotations

import time

import httpx
import pytest

from syncengine.jira.simulator import ManualClock, Simulator, create_simulator
from tests.integration.jira_sim.conftest import BUG, create


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_error_fault_answers_without_doing_anything(
    sim: Simulator, client: httpx.AsyncClient, status: int
) -> None:
    sim.add_fault(kind="error", status=status, route="POST /issue")
    answer = await client.post("/rest/api/2/issue", json={"fields": BUG})
    assert answer.status_code == status
    assert sim.issues() == []
    assert (
        await client.get("/rest/api/2/serverInfo")
    ).status_code == 200  # other routes unaffected


async def test_429_fault_carries_retry_after(sim: Simulator, client: httpx.AsyncClient) -> None:
    sim.add_fault(kind="error", status=429, retry_after=7, remaining=1)
    answer = await client.get("/rest/api/2/myself")
    assert (answer.status_code, answer.headers["Retry-After"]) == (429, "7")
    assert (await client.get("/rest/api/2/myself")).status_code == 200  # remaining=1: fired once


async def test_503_fault_body_is_html(sim: Simulator, client: httpx.AsyncClient) -> None:
    sim.add_fault(kind="error", status=503)
    answer = await client.get("/rest/api/2/myself")
    assert answer.headers["content-type"].startswith("text/html")


async def test_error_rate_is_deterministic_with_a_seed(clock: ManualClock) -> None:
    async def statuses(seed: int) -> list[int]:
        sim = create_simulator(clock=clock, fault_seed=seed)
        sim.add_fault(kind="error", status=500, rate=0.3)
        async with sim.client(login="bot@example.com", token="sim-api-token") as c:
            return [(await c.get("/rest/api/2/myself")).status_code for _ in range(40)]

    first, again, other = await statuses(1), await statuses(1), await statuses(2)
    assert first == again
    assert first != other
    assert 4 <= first.count(500) <= 20


async def test_latency_fault_delays_the_answer(sim: Simulator, client: httpx.AsyncClient) -> None:
    sim.add_fault(kind="latency", seconds=0.2, route="GET /myself")
    started = time.monotonic()
    assert (await client.get("/rest/api/2/myself")).status_code == 200
    assert time.monotonic() - started >= 0.2


async def test_timeout_fault_hangs_past_the_client_timeout(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    sim.add_fault(kind="timeout", seconds=30, route="POST /issue")
    with pytest.raises(httpx.ReadTimeout):
        await client.post("/rest/api/2/issue", json={"fields": BUG}, timeout=0.2)
    assert sim.issues() == []


async def test_commit_then_fail_creates_the_issue_but_loses_the_answer(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    sim.add_fault(kind="commit_then_fail", status=500, route="POST /issue", remaining=1)
    answer = await client.post("/rest/api/2/issue", json={"fields": BUG})
    assert answer.status_code == 500
    assert [i.key for i in sim.issues()] == ["CRASH-1"]  # written, though the caller saw a failure
    assert (await create(client))["key"] == "CRASH-2"


async def test_commit_then_drop_cuts_the_connection(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    sim.add_fault(kind="commit_then_fail", drop=True, route="POST /issue")
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post("/rest/api/2/issue", json={"fields": BUG})
    assert len(sim.issues()) == 1
    assert sim.calls("POST /issue", 499) == 1  # counted as an unanswered call


async def test_commit_then_fail_spares_reads(sim: Simulator, client: httpx.AsyncClient) -> None:
    sim.add_fault(kind="commit_then_fail")
    assert (await client.get("/rest/api/2/myself")).status_code == 200


async def test_faults_and_counters_through_admin_endpoints(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    added = await client.post(
        "/_sim/faults", json={"kind": "error", "status": 503, "route": "GET /myself"}
    )
    assert added.status_code == 201
    assert (await client.get("/rest/api/2/myself")).status_code == 503
    listed = (await client.get("/_sim/faults")).json()
    assert listed[0]["status"] == 503
    assert (await client.delete(f"/_sim/faults/{added.json()['id']}")).status_code == 204
    assert (await client.get("/rest/api/2/myself")).status_code == 200
    bad = await client.post("/_sim/faults", json={"kind": "explode"})
    assert bad.status_code == 400
    assert "kind" in bad.json()["errorMessages"][0]
    counters = (await client.get("/_sim/counters")).json()
    assert counters["operations"]["GET /myself"] == {"503": 1, "200": 1}
    assert counters["total"] == 2
    await client.delete("/_sim/counters")
    assert sim.calls() == 0


async def test_every_request_is_counted_per_operation_and_status(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    await create(client)
    await client.post("/rest/api/2/issue", json={"fields": {}})
    await client.get("/rest/api/3/issue/CRASH-1")
    assert sim.counter.snapshot() == {
        "POST /issue": {"201": 1, "400": 1},
        "GET /issue/{issueIdOrKey}": {"200": 1},
    }
    assert sim.calls() == 3
