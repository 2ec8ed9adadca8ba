"""Client overhead and Jira calls per issue, against the in-process simulator.

Reference: the same creates sent with a bare ``httpx.AsyncClient`` on the same
transport. Reported: the client's time per create as a ratio of the reference's
(the cost of limits, retries bookkeeping, error mapping and parsing), and Jira
calls per created issue for single creates and for bulk create.

    .venv/bin/python bench/jira_client.py [issues]
"""

from __future__ import annotations

import asyncio
import sys
import time

import httpx
from pydantic import SecretStr

from syncengine.jira import JiraClient, JiraConfig, NewIssue
from syncengine.jira.simulator import DEFAULT_LOGIN, DEFAULT_TOKEN, LimitsConfig, create_simulator

SITE = "http://jira.local"


def fields(n: int) -> dict[str, object]:
    return {
        "project": {"key": "CRASH"},
        "issuetype": {"name": "Bug"},
        "summary": f"crash {n}",
        "description": f"stack of crash {n}",
        "labels": ["syncengine", f"sg-{n}"],
        "customfield_10050": {"value": "Major"},
    }


async def reference(count: int) -> float:
    sim = create_simulator("cloud", base_url=SITE, limits=LimitsConfig(enabled=False))
    async with httpx.AsyncClient(
        transport=sim.transport(), auth=httpx.BasicAuth(DEFAULT_LOGIN, DEFAULT_TOKEN)
    ) as http:
        started = time.perf_counter()
        for n in range(count):
            response = await http.post(f"{SITE}/rest/api/2/issue", json={"fields": fields(n)})
            response.raise_for_status()
            response.json()
        return time.perf_counter() - started


async def with_client(count: int, *, bulk: bool) -> tuple[float, int]:
    sim = create_simulator("cloud", base_url=SITE, limits=LimitsConfig(enabled=False))
    config = JiraConfig(
        site=SITE,
        deployment="cloud",
        api_version=2,
        user=DEFAULT_LOGIN,
        token=SecretStr(DEFAULT_TOKEN),
        requests_per_second=1e9,
    )
    async with JiraClient.open(config, transport=sim.transport()) as client:
        started = time.perf_counter()
        if bulk:
            result = await client.bulk_create([NewIssue(fields=fields(n)) for n in range(count)])
            assert len(result.created) == count
        else:
            for n in range(count):
                await client.create_issue(fields(n))
        elapsed = time.perf_counter() - started
    assert len(sim.issues("CRASH")) == count
    return elapsed, sim.calls()


async def main(count: int, rounds: int = 3) -> None:
    # Interleaved rounds, best of each: the machine is shared and noisy.
    bases, singles, bulks = [], [], []
    for _ in range(rounds):
        bases.append(await reference(count))
        singles.append(await with_client(count, bulk=False))
        bulks.append(await with_client(count, bulk=True))
    base = min(bases)
    single, single_calls = min(singles)
    bulk, bulk_calls = min(bulks)
    print(f"issues: {count}, best of {rounds} interleaved rounds")
    print(f"reference (bare httpx, one POST each): {base / count * 1e3:.3f} ms/issue")
    print(
        f"client create_issue: {single / count * 1e3:.3f} ms/issue "
        f"({single / base:.2f}x reference), {single_calls / count:.2f} Jira calls/issue"
    )
    print(
        f"client bulk_create:  {bulk / count * 1e3:.3f} ms/issue "
        f"({bulk / base:.2f}x reference), {bulk_calls / count:.3f} Jira calls/issue"
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 500))
