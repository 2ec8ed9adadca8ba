"""How fast the Jira simulator answers in-process, as ratios to its cheapest call.

    .venv/bin/python bench/jira_sim.py [issues]

Reference: GET /serverInfo (the whole pipeline: counting, faults, auth, limits,
routing, JSON) measured in the same run. Rate limits are off so the figures are
the simulator's own cost, not Jira's quotas.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable

import httpx

from syncengine.jira.simulator import LimitsConfig, create_simulator

BUG = {
    "project": {"key": "CRASH"},
    "issuetype": {"name": "Bug"},
    "summary": "bench",
    "customfield_10050": {"value": "Major"},
    "labels": ["bench"],
    "description": "stack",
}


async def rate(
    name: str, call: Callable[[], Awaitable[httpx.Response]], seconds: float = 2.0
) -> float:
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        answer = await call()
        assert answer.status_code < 300, (name, answer.status_code, answer.text[:200])
        done += 1
    return done / (time.perf_counter() - started)


async def main(issues: int) -> None:
    sim = create_simulator(limits=LimitsConfig(enabled=False))
    async with sim.client(login="bot@example.com", token="sim-api-token") as c:
        reference = await rate("serverInfo", lambda: c.get("/rest/api/2/serverInfo"))
        create = await rate("create", lambda: c.post("/rest/api/2/issue", json={"fields": BUG}))
        while len(sim.issues()) < issues:
            batch = [{"fields": BUG}] * 50
            await c.post("/rest/api/2/issue/bulk", json={"issueUpdates": batch})
        get = await rate("get", lambda: c.get("/rest/api/3/issue/CRASH-1"))
        jql = {
            "jql": "project = CRASH AND labels = bench ORDER BY updated DESC",
            "maxResults": 100,
            "fields": ["summary", "status", "updated"],
        }
        search = await rate("search", lambda: c.post("/rest/api/3/search/jql", json=jql))
    print(f"issues in the site: {len(sim.issues())}")
    print(f"reference GET /serverInfo: {reference:8.0f} req/s (1.00)")
    for name, value in (
        ("POST /issue", create),
        ("GET /issue (v3)", get),
        (f"POST /search/jql, 100 of {len(sim.issues())}", search),
    ):
        print(f"{name:38s}{value:8.0f} req/s ({value / reference:.2f} of reference)")
    print(f"calls counted: {sim.calls()}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
