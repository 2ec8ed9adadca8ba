"""Authentication and per-project permissions, answered the way Jira answers them."""

from __future__ import annotations

import httpx

from syncengine.jira.simulator import DEFAULT_TOKEN, Permission, Simulator
from tests.integration.jira_sim.conftest import BUG, create

CLOUD_401 = {"message": "Client must be authenticated to access this resource.", "status-code": 401}


async def test_wrong_token_gets_clouds_401_body(sim: Simulator) -> None:
    async with sim.client(login="bot@example.com", token="wrong") as c:
        answer = await c.get("/rest/api/2/myself")
    assert answer.status_code == 401
    assert answer.json() == CLOUD_401
    assert "www-authenticate" in answer.headers


async def test_dc_401_is_error_messages_shaped(dc_sim: Simulator) -> None:
    async with dc_sim.client(login="bot", token="wrong") as c:
        answer = await c.get("/rest/api/2/myself")
    assert answer.status_code == 401
    assert answer.json()["errorMessages"] == [
        "You are not authenticated. Authentication required to perform this operation."
    ]


async def test_login_must_match_the_tokens_owner(sim: Simulator) -> None:
    async with sim.client(login="alice@example.com", token=DEFAULT_TOKEN) as c:
        assert (await c.get("/rest/api/2/myself")).status_code == 401
    async with sim.client(login="bot", token=DEFAULT_TOKEN) as c:  # the username works too
        assert (await c.get("/rest/api/2/myself")).json()["emailAddress"] == "bot@example.com"


async def test_bearer_pat_and_anonymous_server_info(sim: Simulator) -> None:
    async with sim.client(token=DEFAULT_TOKEN) as c:
        assert (await c.get("/rest/api/2/myself")).json()["displayName"] == "syncengine bot"
    async with sim.client() as c:
        assert (await c.get("/rest/api/2/serverInfo")).status_code == 200
        assert (await c.get("/rest/api/2/myself")).status_code == 401


async def test_revoked_token_is_rejected(sim: Simulator, client: httpx.AsyncClient) -> None:
    assert (await client.get("/rest/api/2/myself")).status_code == 200
    assert sim.revoke_token(DEFAULT_TOKEN)
    answer = await client.get("/rest/api/2/myself")
    assert (answer.status_code, answer.json()) == (401, CLOUD_401)


async def test_missing_permission_is_403_and_no_browse_is_404(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    key = (await create(client))["key"]
    sim.revoke_permission("bot@example.com", "CRASH", Permission.CREATE)
    answer = await client.post("/rest/api/2/issue", json={"fields": BUG})
    assert answer.status_code == 403
    assert answer.json()["errorMessages"] == [
        "You do not have permission to create issues in this project."
    ]
    sim.revoke_permission("bot@example.com", "CRASH", "ADD_COMMENTS")
    assert (
        await client.post(f"/rest/api/2/issue/{key}/comment", json={"body": "x"})
    ).status_code == 403
    sim.revoke_permission("bot@example.com", "CRASH", Permission.EDIT)
    assert (
        await client.put(f"/rest/api/2/issue/{key}", json={"fields": {"summary": "y"}})
    ).status_code == 403
    sim.revoke_permission("bot@example.com", "CRASH", Permission.BROWSE)
    project = await client.get("/rest/api/2/project/CRASH")
    assert (project.status_code, project.json()["errorMessages"]) == (
        404,
        ["No project could be found with key 'CRASH'."],
    )
    assert (await client.get(f"/rest/api/2/issue/{key}")).status_code == 404
    assert [p["key"] for p in (await client.get("/rest/api/2/project")).json()] == ["SUP"]
    sim.grant_permission("bot@example.com", "CRASH", Permission.BROWSE)
    assert (await client.get(f"/rest/api/2/issue/{key}")).status_code == 200


async def test_permissions_and_tokens_through_the_admin_endpoint(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    answer = await client.post(
        "/_sim/permissions",
        json={"user": "bot@example.com", "project": "CRASH", "permission": "CREATE_ISSUES"},
    )
    assert answer.status_code == 204
    assert (await client.post("/rest/api/2/issue", json={"fields": BUG})).status_code == 403
    assert (await client.post("/_sim/tokens/revoke", json={"token": DEFAULT_TOKEN})).json() == {
        "revoked": True
    }
    assert (await client.get("/rest/api/2/myself")).status_code == 401
