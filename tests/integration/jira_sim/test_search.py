"""JQL and search: Cloud's /search/jql with nextPageToken, Data Center's /search, Jira's 400s."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from syncengine.jira.simulator import LimitsConfig, ManualClock, Simulator, create_simulator
from tests.integration.jira_sim.conftest import create


async def _keys(client: httpx.AsyncClient, jql: str, **params: Any) -> list[str]:
    answer = await client.get(
        "/rest/api/3/search/jql", params={"jql": jql, "fields": "summary", **params}
    )
    assert answer.status_code == 200, answer.text
    return [i["key"] for i in answer.json()["issues"]]


@pytest.fixture
async def issues(sim: Simulator, clock: ManualClock, client: httpx.AsyncClient) -> None:
    await create(client, labels=["crash", "ios"])  # CRASH-1 at 09:00
    clock.advance(3600)
    await create(client, labels=["crash"])  # CRASH-2 at 10:00
    clock.advance(3600)
    await create(client, issuetype={"name": "Task"}, customfield_10050=None)  # CRASH-3 at 11:00
    await client.post("/rest/api/2/issue/CRASH-2/transitions", json={"transition": {"id": "11"}})
    await client.put(
        "/rest/api/2/issue/CRASH-3/properties/syncengine", json={"group": {"id": "g-7"}}
    )


@pytest.mark.usefixtures("issues")
@pytest.mark.parametrize(
    ("jql", "keys"),
    [
        ("project = CRASH ORDER BY key ASC", ["CRASH-1", "CRASH-2", "CRASH-3"]),
        ("project in (CRASH, SUP) AND labels = crash ORDER BY key", ["CRASH-1", "CRASH-2"]),
        ('labels IN ("ios") OR key = CRASH-3 ORDER BY key DESC', ["CRASH-3", "CRASH-1"]),
        (
            'project = CRASH AND updated >= "2026-01-05 10:00" ORDER BY updated ASC',
            ["CRASH-2", "CRASH-3"],
        ),
        ('project = CRASH AND created > "2026/01/05 10:30" ORDER BY updated', ["CRASH-3"]),
        (
            'project = CRASH AND updated > "2026/01/05 10:30" ORDER BY key DESC',
            ["CRASH-3", "CRASH-2"],
        ),
        ("project = CRASH AND status = 'In Progress'", ["CRASH-2"]),
        ("project = CRASH AND statusCategory = new ORDER BY key", ["CRASH-1", "CRASH-3"]),
        ("project = CRASH AND statusCategory != 'To Do'", ["CRASH-2"]),
        ("issue.property[syncengine].group.id = 'g-7'", ["CRASH-3"]),
        (
            "project = CRASH AND (labels = ios OR labels IS EMPTY) ORDER BY key",
            ["CRASH-1", "CRASH-3"],
        ),
        ("id = 10001 OR key in (CRASH-2) ORDER BY key", ["CRASH-1", "CRASH-2"]),
        ("project = CRASH AND created >= -30m ORDER BY key", ["CRASH-3"]),
        ("project = CRASH AND updated >= -30m ORDER BY key", ["CRASH-2", "CRASH-3"]),
        ("project = CRASH AND NOT labels = crash", ["CRASH-3"]),
    ],
)
async def test_jql_subset(client: httpx.AsyncClient, jql: str, keys: list[str]) -> None:
    assert await _keys(client, jql) == keys


@pytest.mark.usefixtures("issues")
@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("foo = bar", "Field 'foo' does not exist or you do not have permission to view it."),
        ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
        ("status = Closed", "The value 'Closed' does not exist for the field 'status'."),
        ("key = CRASH-99", "An issue with key 'CRASH-99' does not exist for field 'key'."),
        ("project CRASH", "Error in the JQL Query: Expecting operator but got 'CRASH'."),
        ('updated >= "yesterday"', "Date value 'yesterday' for field 'updated' is invalid."),
        (
            'summary ~ "crash"',
            "Error in the JQL Query: the Jira simulator does not support searching on 'summary'.",
        ),
        ("project = CRASH ORDER BY rank", "Not able to sort using field 'rank'."),
        (
            "project = CRASH AND (labels = a",
            "Error in the JQL Query: Expecting ')' to close the group.",
        ),
        (
            "labels > a",
            "Error in the JQL Query: the operator '>' is not supported by the field 'labels'.",
        ),
    ],
)
async def test_unsupported_or_wrong_jql_is_a_clear_400(
    client: httpx.AsyncClient, jql: str, message: str
) -> None:
    answer = await client.get("/rest/api/3/search/jql", params={"jql": jql})
    assert answer.status_code == 400
    body = answer.json()
    assert body["errors"] == {}
    assert body["errorMessages"][0].startswith(message)


async def test_cloud_pages_with_next_page_token_and_no_total(client: httpx.AsyncClient) -> None:
    for _ in range(5):
        await create(client)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        body: dict[str, Any] = {
            "jql": "project = CRASH ORDER BY key",
            "maxResults": 2,
            "fields": ["summary"],
        }
        if token:
            body["nextPageToken"] = token
        page = (await client.post("/rest/api/3/search/jql", json=body)).json()
        assert "total" not in page
        seen += [i["key"] for i in page["issues"]]
        pages += 1
        token = page.get("nextPageToken")
        if page["isLast"]:
            assert token is None
            break
    assert (pages, seen) == (3, [f"CRASH-{n}" for n in range(1, 6)])
    wrong = await client.get(
        "/rest/api/3/search/jql", params={"jql": "project = SUP", "nextPageToken": "garbage"}
    )
    assert wrong.status_code == 400


async def test_default_fields_are_ids_only_and_page_caps(clock: ManualClock) -> None:
    sim = create_simulator(
        clock=clock, limits=LimitsConfig(search_max_with_fields=3, search_max_ids_only=7)
    )
    async with sim.client(login="bot@example.com", token="sim-api-token") as c:
        bulk = [
            {
                "fields": {
                    "project": {"key": "SUP"},
                    "issuetype": {"name": "Task"},
                    "summary": f"s{n}",
                    "customfield_10070": {"value": "Question"},
                }
            }
            for n in range(10)
        ]
        assert (
            await c.post("/rest/api/2/issue/bulk", json={"issueUpdates": bulk})
        ).status_code == 201
        ids_only = (
            await c.get(
                "/rest/api/3/search/jql", params={"jql": "project = SUP", "maxResults": 100}
            )
        ).json()
        assert len(ids_only["issues"]) == 7
        assert "fields" not in ids_only["issues"][0]
        with_fields = (
            await c.get(
                "/rest/api/3/search/jql",
                params={"jql": "project = SUP", "maxResults": 100, "fields": "summary"},
            )
        ).json()
        assert len(with_fields["issues"]) == 3
        assert set(with_fields["issues"][0]["fields"]) == {"summary"}
        unbounded = await c.get("/rest/api/3/search/jql", params={"jql": "ORDER BY key"})
        assert unbounded.status_code == 400


def test_published_caps_are_the_defaults() -> None:
    limits = LimitsConfig()
    assert (limits.search_max_with_fields, limits.search_max_ids_only, limits.bulk_create_max) == (
        100,
        5000,
        50,
    )


async def test_old_search_is_gone_on_cloud(client: httpx.AsyncClient) -> None:
    for version in (2, 3):
        answer = await client.get(f"/rest/api/{version}/search", params={"jql": "project = CRASH"})
        assert answer.status_code == 410
        assert "/rest/api/3/search/jql" in answer.json()["errorMessages"][0]


async def test_dc_search_has_start_at_and_total(
    dc_sim: Simulator, dc_client: httpx.AsyncClient
) -> None:
    for _ in range(3):
        await create(dc_client)
    page = (
        await dc_client.get(
            "/rest/api/2/search",
            params={"jql": "project = CRASH ORDER BY key", "startAt": 1, "maxResults": 1},
        )
    ).json()
    assert (page["startAt"], page["maxResults"], page["total"]) == (1, 1, 3)
    assert [i["key"] for i in page["issues"]] == ["CRASH-2"]
    assert "summary" in page["issues"][0]["fields"]
    assert (
        await dc_client.get("/rest/api/2/search/jql", params={"jql": "project = CRASH"})
    ).status_code == 404


async def test_moved_issue_is_found_by_its_old_key(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    await create(client, issuetype={"name": "Task"}, customfield_10050=None)
    sim.move_issue("CRASH-1", "SUP")
    assert await _keys(client, "key = CRASH-1") == ["SUP-1"]
