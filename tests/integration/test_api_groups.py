"""The admin read API of groups, through the real wiring, on every backend."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from syncengine.bootstrap import Container, bootstrap
from syncengine.domain.reports import CrashReport
from syncengine.settings import Settings
from syncengine.web.app import create_app

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TOKEN = "admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def report(fingerprint: str, minute: int, version: str, **attributes: str) -> CrashReport:
    return CrashReport(
        project="shop",
        timestamp=T0 + timedelta(minutes=minute),
        fingerprint=fingerprint,
        classifier="KeyError",
        message="'user'",
        version=version,
        attributes=attributes,
    )


@pytest.fixture
async def container(database_url: str) -> AsyncIterator[Container]:
    settings = Settings(database_url=database_url, admin_token=TOKEN)
    built = await bootstrap(settings, migrate=False)
    try:
        yield built
    finally:
        await built.aclose()


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(container.web)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def seed(container: Container) -> list[int]:
    shop = await container.projects.ensure("shop", name="", integration_active=True, now=T0)
    await container.projects.ensure("blog", name="", integration_active=True, now=T0)
    accepted = await container.ingest.submit(
        shop.id,
        [
            report("a", 1, "1.0", os="linux", host="h1"),
            report("a", 5, "1.2", os="linux", host="h2"),
            report("a", 3, "1.1", os="mac", host="h2"),
            report("b", 9, "2.0", os="win"),
            report("c", 7, "2.0"),
        ],
    )
    return [accepted[0].group_id, accepted[3].group_id, accepted[4].group_id]


def assert_problem(response: httpx.Response, status: int, detail: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert detail in body["detail"]


async def test_detail_has_counts_versions_and_top_values(
    client: httpx.AsyncClient, container: Container
) -> None:
    a, _, _ = await seed(container)
    response = await client.get(f"/api/v1/projects/shop/groups/{a}", headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("id", "fingerprint", "state", "count", "classifier")} == {
        "id": a,
        "fingerprint": "a",
        "state": "open",
        "count": 3,
        "classifier": "KeyError",
    }
    assert (body["first_version"], body["last_version"]) == ("1.0", "1.2")
    assert datetime.fromisoformat(body["first_seen"]) == T0 + timedelta(minutes=1)
    assert datetime.fromisoformat(body["last_seen"]) == T0 + timedelta(minutes=5)
    assert [(v["value"], v["count"]) for v in body["attributes"]["os"]] == [
        ("linux", 2),
        ("mac", 1),
    ]
    assert [(v["value"], v["count"]) for v in body["attributes"]["host"]] == [
        ("h2", 2),
        ("h1", 1),
    ]
    top = await client.get(f"/api/v1/projects/shop/groups/{a}?top=1", headers=AUTH)
    assert {k: len(v) for k, v in top.json()["attributes"].items()} == {"host": 1, "os": 1}


async def test_list_is_newest_first_paginated_and_filtered(
    client: httpx.AsyncClient, container: Container
) -> None:
    a, b, c = await seed(container)
    first = await client.get("/api/v1/projects/shop/groups?limit=2", headers=AUTH)
    assert first.status_code == 200
    assert [g["id"] for g in first.json()["groups"]] == [b, c]
    cursor = first.json()["next_cursor"]
    second = await client.get(
        "/api/v1/projects/shop/groups", params={"limit": 2, "cursor": cursor}, headers=AUTH
    )
    assert [g["id"] for g in second.json()["groups"]] == [a]
    assert second.json()["next_cursor"] is None
    muted = await client.get("/api/v1/projects/shop/groups?state=muted", headers=AUTH)
    assert muted.json() == {"groups": [], "next_cursor": None}
    by_count = await client.get("/api/v1/projects/shop/groups?sort=count&limit=1", headers=AUTH)
    assert [g["id"] for g in by_count.json()["groups"]] == [a]
    rest = await client.get(
        "/api/v1/projects/shop/groups",
        params={"sort": "count", "limit": 1, "cursor": by_count.json()["next_cursor"]},
        headers=AUTH,
    )
    # b and c both have one report: the higher id first.
    assert [g["id"] for g in rest.json()["groups"]] == [max(b, c)]
    opened = await client.get("/api/v1/projects/shop/groups?state=open", headers=AUTH)
    assert len(opened.json()["groups"]) == 3
    blog = await client.get("/api/v1/projects/blog/groups", headers=AUTH)
    assert blog.json()["groups"] == []


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "Authorization: Bearer"),
        ({"Authorization": f"Basic {TOKEN}"}, "Authorization: Bearer"),
        ({"Authorization": "Bearer wrong"}, "not the configured admin token"),
        ({"Authorization": f"Bearer {TOKEN}x"}, "not the configured admin token"),
    ],
)
async def test_admin_token_is_required(
    client: httpx.AsyncClient, container: Container, headers: dict[str, str], detail: str
) -> None:
    a, _, _ = await seed(container)
    for path in ("/api/v1/projects/shop/groups", f"/api/v1/projects/shop/groups/{a}"):
        response = await client.get(path, headers=headers)
        assert_problem(response, 401, detail)
        assert response.headers["www-authenticate"] == "Bearer"


async def test_without_a_configured_token_the_api_is_off(database_url: str) -> None:
    container = await bootstrap(Settings(database_url=database_url), migrate=False)
    try:
        app = create_app(container.web)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as http:
            response = await http.get("/api/v1/projects/shop/groups", headers=AUTH)
        assert_problem(response, 401, "set admin_token")
    finally:
        await container.aclose()


async def test_unknown_things_are_404_and_bad_queries_400(
    client: httpx.AsyncClient, container: Container
) -> None:
    a, _, _ = await seed(container)
    base = "/api/v1/projects"
    assert_problem(await client.get(f"{base}/nope/groups", headers=AUTH), 404, "no project")
    assert_problem(await client.get(f"{base}/nope/groups/{a}", headers=AUTH), 404, "no project")
    response = await client.get(f"{base}/shop/groups/{a + 1000}", headers=AUTH)
    assert_problem(response, 404, "has no group")
    for malformed in ("abc", "-1", "9" * 30):
        response = await client.get(f"{base}/shop/groups/{malformed}", headers=AUTH)
        assert response.status_code == 422
    # A group is only found under its own project.
    assert_problem(await client.get(f"{base}/blog/groups/{a}", headers=AUTH), 404, "no group")
    response = await client.get(f"{base}/shop/groups?cursor=garbage", headers=AUTH)
    assert_problem(response, 400, "start again without a cursor")
    # A cursor of one sort order is no cursor of the other.
    listed = await client.get(f"{base}/shop/groups?limit=1", headers=AUTH)
    response = await client.get(
        f"{base}/shop/groups",
        params={"sort": "count", "cursor": listed.json()["next_cursor"]},
        headers=AUTH,
    )
    assert_problem(response, 400, "start again without a cursor")
    # Forged positions the store cannot hold (past 64 bits, no UTC time): 400 too.
    for sort, raw in [("count", "9" * 23 + "|1"), ("last_seen", "0001-01-01T00:00:00+14:00|5")]:
        forged = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        response = await client.get(
            f"{base}/shop/groups", params={"sort": sort, "cursor": forged}, headers=AUTH
        )
        assert_problem(response, 400, "start again without a cursor")
    # Declared parameters are validated by the schema (422, naming the parameter).
    for query, name in [
        ("state=closed", "state"),
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("sort=name", "sort"),
        ("has_ticket=maybe", "has_ticket"),
    ]:
        response = await client.get(f"{base}/shop/groups?{query}", headers=AUTH)
        assert response.status_code == 422, query
        assert response.json()["detail"][0]["loc"] == ["query", name]
    response = await client.get(f"{base}/shop/groups/{a}?top=101", headers=AUTH)
    assert response.status_code == 422
