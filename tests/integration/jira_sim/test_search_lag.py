"""Cloud's eventually consistent search: JQL lags writes, GET and reconcileIssues do not."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from syncengine.jira.simulator import ManualClock, Simulator
from tests.integration.jira_sim.conftest import create


async def _found(client: httpx.AsyncClient, jql: str, **body: object) -> list[str]:
    answer = await client.post(
        "/rest/api/3/search/jql", json={"jql": jql, "fields": ["summary", "labels"], **body}
    )
    assert answer.status_code == 200, answer.text
    return [i["key"] for i in answer.json()["issues"]]


async def test_a_new_issue_shows_in_search_only_after_the_lag(
    sim: Simulator, clock: ManualClock, client: httpx.AsyncClient
) -> None:
    sim.search_lag = 30
    created = await create(client, labels=["fresh"])
    assert (await client.get(f"/rest/api/3/issue/{created['key']}")).status_code == 200
    assert await _found(client, "labels = fresh") == []
    clock.advance(29)
    assert await _found(client, "labels = fresh") == []
    assert await _found(client, "labels = fresh", reconcileIssues=[int(created["id"])]) == [
        created["key"]
    ]
    clock.advance(1)
    assert await _found(client, "labels = fresh") == [created["key"]]


async def test_edits_and_deletes_show_late_and_old_issues_stay_found(
    sim: Simulator, clock: ManualClock, client: httpx.AsyncClient
) -> None:
    old = await create(client, labels=["before"])
    sim.search_lag = 60  # what exists already counts as indexed
    assert await _found(client, "labels = before") == [old["key"]]
    edited = await client.put(
        f"/rest/api/2/issue/{old['key']}", json={"fields": {"labels": ["after"]}}
    )
    assert edited.status_code == 204, edited.text
    assert await _found(client, "labels = before") == [old["key"]]  # the old values
    assert await _found(client, "labels = after") == []
    clock.advance(60)
    assert await _found(client, "labels = after") == [old["key"]]
    sim.delete_issue(old["key"])
    assert (await client.get(f"/rest/api/2/issue/{old['key']}")).status_code == 404
    assert await _found(client, "labels = after") == [old["key"]]  # still in the index
    clock.advance(60)
    assert await _found(client, "labels = after") == []


async def test_issue_properties_are_searched_late_too(
    sim: Simulator, clock: ManualClock, client: httpx.AsyncClient
) -> None:
    sim.search_lag = 5
    created = await create(client)
    put = await client.put(
        f"/rest/api/2/issue/{created['key']}/properties/syncengine", json={"group": "g1"}
    )
    assert put.status_code == 201
    query = "issue.property[syncengine].group = 'g1'"
    assert await _found(client, query) == []
    clock.advance(5)
    assert await _found(client, query) == [created["key"]]


async def test_reconcile_issues_is_checked(sim: Simulator, client: httpx.AsyncClient) -> None:
    sim.search_lag = 5
    for bad in (["x"], list(range(1, 52)), "nope", [True]):
        answer = await client.post(
            "/rest/api/3/search/jql", json={"jql": "project = CRASH", "reconcileIssues": bad}
        )
        assert answer.status_code == 400, bad


async def test_the_lag_is_set_over_http_and_zero_means_current(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    assert (await client.post("/_sim/search-lag", json={"seconds": 300})).json() == {"seconds": 300}
    created = await create(client, labels=["now"])
    assert await _found(client, "labels = now") == []
    assert (await client.post("/_sim/search-lag", json={"seconds": -1})).status_code == 400
    await client.post("/_sim/search-lag", json={"seconds": 0})
    assert await _found(client, "labels = now") == [created["key"]]


async def test_a_late_fault_writes_after_the_caller_gave_up(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    sim.add_fault(kind="late", route="POST /issue", seconds=0.2, remaining=1)
    body = {
        "fields": {
            "project": {"key": "CRASH"},
            "issuetype": {"name": "Bug"},
            "summary": "late",
            "customfield_10050": {"value": "Major"},
        }
    }
    with pytest.raises(httpx.ReadTimeout):
        await client.post("/rest/api/2/issue", json=body, timeout=0.05)
    assert [i for i in sim.issues("CRASH") if i.fields["summary"] == "late"] == []
    for _ in range(50):
        await asyncio.sleep(0.02)
        if any(i.fields["summary"] == "late" for i in sim.issues("CRASH")):
            break
    assert [i.fields["summary"] for i in sim.issues("CRASH")] == ["late"]
