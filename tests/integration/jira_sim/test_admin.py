"""The /_sim control endpoints a harness outside the process uses."""

from __future__ import annotations

import httpx

from syncengine.jira.simulator import ManualClock, Simulator
from tests.integration.jira_sim.conftest import Inbox, create


async def test_webhooks_registered_and_delivered_over_admin(
    sim: Simulator, inbox: Inbox, client: httpx.AsyncClient
) -> None:
    body = {
        "url": "https://engine.example/hook",
        "secret": "s",
        "events": ["jira:issue_created"],
        "jql": "project = CRASH",
    }
    answer = await client.post("/_sim/webhooks", json=body)
    assert answer.status_code == 201
    assert answer.json()["filters"] == {"issue-related-events-section": "project = CRASH"}
    await create(client)
    assert (await client.post("/_sim/webhooks/deliver")).json() == {"attempted": 1}
    listed = (await client.get("/_sim/webhooks")).json()
    assert listed["deliveries"][0]["outcomes"] == ["200"]
    assert "secret" not in listed["webhooks"][0]
    assert len(inbox.requests) == 1
    bad = await client.post("/_sim/webhooks", json={"url": "ftp://x"})
    assert bad.status_code == 400


async def test_move_delete_users_clock_and_reseed(
    sim: Simulator, clock: ManualClock, client: httpx.AsyncClient
) -> None:
    key = (await create(client, issuetype={"name": "Task"}, customfield_10050=None))["key"]
    moved = await client.post(f"/_sim/issues/{key}/move", json={"project": "SUP"})
    assert moved.json()["key"] == "SUP-1"
    assert (await client.delete("/_sim/issues/SUP-1")).status_code == 204
    assert sim.issues() == []
    assert (await client.delete("/_sim/issues/SUP-1")).status_code == 400
    made = await client.post(
        "/_sim/users", json={"name": "carol", "email": "carol@example.com", "token": "carol-token"}
    )
    assert made.status_code == 201
    async with sim.client(login="carol@example.com", token="carol-token") as carol:
        assert (await carol.get("/rest/api/2/myself")).json()["displayName"] == "carol"
    before = clock.now()
    advanced = await client.post("/_sim/clock/advance", json={"seconds": 60})
    assert advanced.status_code == 200
    assert (clock.now() - before).total_seconds() == 60
    assert (await client.post("/_sim/faults", json={"seed": 7})).status_code == 204


async def test_hidden_emails_and_rate_limits_are_switched_over_admin(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    assert (await client.get("/_sim/site")).json() == {"hidden_emails": False, "rate_limits": True}
    myself = await client.get("/rest/api/2/myself")
    assert "emailAddress" in myself.json()
    switched = await client.post("/_sim/site", json={"hidden_emails": True, "rate_limits": False})
    assert switched.json() == {"hidden_emails": True, "rate_limits": False}
    assert "emailAddress" not in (await client.get("/rest/api/2/myself")).json()
    assert not sim.limiter.config.enabled
    for bad in ({"hidden": True}, {"rate_limits": "no"}, []):
        assert (await client.post("/_sim/site", json=bad)).status_code == 400, bad
    assert (await client.get("/_sim/site")).json() == {"hidden_emails": True, "rate_limits": False}
