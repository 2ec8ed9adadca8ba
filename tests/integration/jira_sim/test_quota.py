"""Jira Cloud's points quota for OAuth 2.0 apps (Beta-RateLimit headers), and the request log;
the engine's client sheds refreshes when those headers say the site is near its limit."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from syncengine.jira import JiraClient, JiraConfig, JiraRequestShed, Priority, request_priority
from syncengine.jira.simulator import DEFAULT_LOGIN, DEFAULT_TOKEN, ManualClock, Simulator
from syncengine.jira.simulator.quota import QuotaConfig
from tests.integration.jira_sim.conftest import BUG

CALLBACK = "https://engine.example/callback"


def _oauth2_token(sim: Simulator) -> str:
    """An OAuth 2.0 (3LO) access token for the seeded admin, by the code flow with PKCE."""
    sim.oauth.add_client("app", "app-secret", CALLBACK)
    verifier = "v" * 43
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    )
    admin = next(u.account_id for u in sim.state.users.values() if u.admin)
    redirect = sim.oauth.approve_code(
        {
            "client_id": "app",
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "audience": "api.atlassian.com",
            "scope": "read:jira-work",
        },
        admin,
    )
    code = parse_qs(urlsplit(redirect).query)["code"][0]
    answer = sim.oauth.token(
        {
            "grant_type": "authorization_code",
            "client_id": "app",
            "client_secret": "app-secret",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        }
    )
    return str(answer["access_token"])


async def test_oauth2_apps_spend_points_and_see_the_beta_headers(
    sim: Simulator, clock: ManualClock, client: httpx.AsyncClient
) -> None:
    sim.quota.configure(QuotaConfig(points=10, window=60))
    token = _oauth2_token(sim)
    gateway = f"{sim.state.gateway_base}/rest/api/3/myself"
    async with httpx.AsyncClient(
        transport=sim.transport(), headers={"Authorization": f"Bearer {token}"}
    ) as app:
        # A user read costs 3 points (1 + 2 per identity object); the fourth call still
        # goes (a point is left) and overdraws; the fifth is refused.
        answers = [await app.get(gateway) for _ in range(4)]
        refused = await app.get(gateway)
    assert [a.status_code for a in answers] == [200] * 4
    first = answers[0].headers
    assert first["Beta-RateLimit-Policy"] == '"tenant-app-quota";q=10;w=60'
    assert first["Beta-RateLimit"] == '"tenant-app-quota";r=7;t=60'
    assert "X-Beta-RateLimit-NearLimit" not in first
    assert _left(answers[2]) == 1
    assert answers[2].headers["X-Beta-RateLimit-NearLimit"] == "true"  # 1 of 10 left
    assert _left(answers[3]) == 0
    assert refused.status_code == 429
    assert refused.headers["X-Beta-RateLimit-Reason"] == "jira-quota-tenant-based"
    assert refused.headers["Retry-After"] == "60"
    assert refused.headers["Beta-RateLimit"].startswith('"tenant-app-quota";r=0;')
    assert "X-Beta-RateLimit-Reset" in refused.headers
    # API-token traffic keeps the burst limits only, as on Cloud.
    plain = await client.get("/rest/api/3/myself")
    assert plain.status_code == 200
    assert "Beta-RateLimit" not in plain.headers
    clock.advance(60)
    async with httpx.AsyncClient(
        transport=sim.transport(), headers={"Authorization": f"Bearer {token}"}
    ) as app:
        assert (await app.get(gateway)).status_code == 200


def _left(answer: httpx.Response) -> int:
    """The points left that an answer's ``Beta-RateLimit`` header shows."""
    match = re.search(r";r=(\d+);", answer.headers["Beta-RateLimit"])
    assert match is not None, answer.headers
    return int(match[1])


async def test_a_call_costs_what_atlassians_points_model_says(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    # Base 1 point; a read adds 1 per issue or project and 2 per user it returns; a write,
    # a failed call and a read of anything else cost the base point only.
    sim.quota.configure(QuotaConfig(points=100_000, everyone=True))
    spent: list[tuple[str, int]] = []
    left = 100_000

    async def call(what: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        nonlocal left
        answer = await client.request(method, f"/rest/api/3{path}", **kwargs)
        spent.append((what, left - _left(answer)))
        left = _left(answer)
        return answer

    created = await call("create", "POST", "/issue", json={"fields": BUG})
    assert created.status_code == 201
    await call("create", "POST", "/issue", json={"fields": BUG})
    await call("issue", "GET", f"/issue/{created.json()['key']}")
    found = await call(
        "search", "POST", "/search/jql", json={"jql": "project = CRASH", "fields": ["summary"]}
    )
    issues = len(found.json()["issues"])
    assert issues >= 2
    await call("edit", "PUT", f"/issue/{created.json()['key']}", json={"fields": {"labels": []}})
    await call("fields", "GET", "/field")
    await call("missing", "GET", "/issue/CRASH-99999")
    people = await call("users", "GET", "/user/search", params={"query": "e"})
    assert people.status_code == 200
    assert len(people.json()) >= 2
    await call("project", "GET", "/project/CRASH")
    assert spent == [
        ("create", 1),
        ("create", 1),
        ("issue", 2),
        ("search", 1 + issues),
        ("edit", 1),
        ("fields", 1),
        ("missing", 1),
        ("users", 1 + 2 * len(people.json())),
        ("project", 2),
    ]


async def test_the_request_log_has_each_call_with_its_arrival(
    sim: Simulator, clock: ManualClock, client: httpx.AsyncClient
) -> None:
    await client.get("/rest/api/2/myself")
    clock.advance(2.5)
    await client.get("/rest/api/2/serverInfo")
    async with sim.client() as admin:
        log = (await admin.get("/_sim/requests")).json()["requests"]
        later = (await admin.get("/_sim/requests", params={"since": log[0][0]})).json()
        assert (await admin.delete("/_sim/counters")).status_code == 204
        assert (await admin.get("/_sim/requests")).json()["requests"] == []
        assert (await admin.post("/_sim/quota", json={"points": 5})).json()["points"] == 5
    assert [entry[1:] for entry in log] == [["GET /myself", 200], ["GET /serverInfo", 200]]
    assert log[1][0] - log[0][0] == pytest.approx(2.5)
    assert [entry[1] for entry in later["requests"]] == ["GET /serverInfo"]


async def test_the_client_sheds_refreshes_near_the_quota_and_creates_go_on(
    sim: Simulator,
) -> None:
    sim.quota.configure(QuotaConfig(points=10, window=3600, everyone=True))
    config = JiraConfig(
        site="http://jira.local",
        deployment="cloud",
        user=DEFAULT_LOGIN,
        token=SecretStr(DEFAULT_TOKEN),
    )
    async with JiraClient.open(config, transport=sim.transport()) as jira:
        for _ in range(3):  # 3 points each: a user read
            with request_priority(Priority.REFRESH):
                await jira.myself()
        sent = sim.counter.total()
        # 1 of 10 points left: Jira says near the limit; refreshes are held back, unsent.
        with request_priority(Priority.REFRESH), pytest.raises(JiraRequestShed):
            await jira.myself()
        assert sim.counter.total() == sent
        with request_priority(Priority.CREATE):
            await jira.myself()
        assert sim.counter.total() == sent + 1
