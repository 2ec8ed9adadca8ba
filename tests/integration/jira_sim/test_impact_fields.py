"""What crash impact needs from the simulator: number custom fields in JQL (comparisons and
ORDER BY), fields only on the edit screen, ``editmeta``, and remote links upserted by global id."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from syncengine.jira.simulator import Simulator
from tests.integration.jira_sim.conftest import create

OCCURRENCES = "customfield_10052"


async def _keys(client: httpx.AsyncClient, jql: str) -> list[str]:
    answer = await client.get("/rest/api/3/search/jql", params={"jql": jql, "fields": "summary"})
    assert answer.status_code == 200, answer.text
    return [i["key"] for i in answer.json()["issues"]]


@pytest.fixture
async def counted(client: httpx.AsyncClient) -> None:
    # CRASH-1: 150, CRASH-2: 4000, CRASH-3: no value, CRASH-4: 101, CRASH-5: 100
    for count in (150, 4000, None, 101, 100):
        await create(client, **({OCCURRENCES: count} if count is not None else {}))


@pytest.mark.usefixtures("counted")
@pytest.mark.parametrize(
    ("jql", "keys"),
    [
        ('"Occurrences" > 100 ORDER BY "Occurrences" DESC', ["CRASH-2", "CRASH-1", "CRASH-4"]),
        ("cf[10052] >= 101 ORDER BY cf[10052] ASC", ["CRASH-4", "CRASH-1", "CRASH-2"]),
        ("customfield_10052 < 101 ORDER BY key", ["CRASH-5"]),
        ("occurrences = 4000", ["CRASH-2"]),
        ('"Occurrences" IN (100, 150) ORDER BY key', ["CRASH-1", "CRASH-5"]),
        ('"Occurrences" != 100 ORDER BY key', ["CRASH-1", "CRASH-2", "CRASH-4"]),
        ('"Occurrences" IS EMPTY', ["CRASH-3"]),
        (
            'project = CRASH AND "Occurrences" IS NOT EMPTY ORDER BY "Occurrences"',
            ["CRASH-5", "CRASH-4", "CRASH-1", "CRASH-2"],
        ),
        # Issues without a value come last in either direction.
        (
            "project = CRASH ORDER BY Occurrences DESC, key",
            ["CRASH-2", "CRASH-1", "CRASH-4", "CRASH-5", "CRASH-3"],
        ),
        (
            "project = CRASH ORDER BY Occurrences ASC",
            ["CRASH-5", "CRASH-4", "CRASH-1", "CRASH-2", "CRASH-3"],
        ),
    ],
)
async def test_number_custom_fields_compare_and_order(
    client: httpx.AsyncClient, jql: str, keys: list[str]
) -> None:
    assert await _keys(client, jql) == keys


@pytest.mark.usefixtures("counted")
async def test_empty_issue_sorts_last(client: httpx.AsyncClient) -> None:
    for direction in ("ASC", "DESC"):
        found = await _keys(client, f"project = CRASH ORDER BY Occurrences {direction}")
        assert found[-1] == "CRASH-3"


@pytest.mark.usefixtures("counted")
@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ('"Occurrences" > many', "The value 'many' is invalid for the field 'Occurrences'."),
        ('"Crash details" > 3', "only number custom fields are searchable"),
        ('"No such field" = 3', "Field 'No such field' does not exist"),
        ('project = CRASH ORDER BY "Crash details"', "Not able to sort using field"),
    ],
)
async def test_unsupported_custom_field_jql_is_a_400(
    client: httpx.AsyncClient, jql: str, message: str
) -> None:
    answer = await client.get("/rest/api/3/search/jql", params={"jql": jql})
    assert answer.status_code == 400
    assert message in answer.json()["errorMessages"][0]


async def test_impact_fields_are_on_the_edit_screen_only(client: httpx.AsyncClient) -> None:
    created = await create(client)
    refused = await client.post(
        "/rest/api/2/issue",
        json={
            "fields": {
                "project": {"key": "CRASH"},
                "issuetype": {"name": "Bug"},
                "summary": "s",
                "customfield_10050": {"value": "Major"},
                "customfield_10053": 3,
            }
        },
    )
    assert refused.status_code == 400
    assert "customfield_10053" in refused.json()["errors"]
    edit = await client.put(
        f"/rest/api/2/issue/{created['key']}",
        json={
            "fields": {
                "customfield_10053": 3,
                "customfield_10055": "2026-11-23T11:29:24.000+0000",
                "customfield_10056": "https://crash.example.com/groups/1",
                "customfield_10057": ["2.3.0", "2.4.0"],
            }
        },
    )
    assert edit.status_code == 204, edit.text
    got = (await client.get(f"/rest/api/2/issue/{created['key']}")).json()["fields"]
    assert got["customfield_10053"] == 3
    assert got["customfield_10057"] == ["2.3.0", "2.4.0"]
    bad = await client.put(
        f"/rest/api/2/issue/{created['key']}", json={"fields": {"customfield_10055": "noon"}}
    )
    assert bad.status_code == 400


async def test_editmeta_lists_the_edit_screen(client: httpx.AsyncClient, sim: Simulator) -> None:
    created = await create(client)
    answer = await client.get(f"/rest/api/3/issue/{created['key']}/editmeta")
    assert answer.status_code == 200
    fields: dict[str, Any] = answer.json()["fields"]
    assert fields[OCCURRENCES]["schema"]["type"] == "number"
    assert fields["customfield_10055"]["schema"]["type"] == "datetime"
    assert fields["customfield_10057"]["schema"] == {
        "type": "array",
        "items": "string",
        "custom": "com.atlassian.jira.plugin.system.customfieldtypes:labels",
        "customId": 10057,
    }
    assert "project" not in fields
    assert "issuetype" not in fields
    task = await create(client, issuetype={"name": "Task"}, customfield_10050=None)
    task_fields = (await client.get(f"/rest/api/3/issue/{task['key']}/editmeta")).json()["fields"]
    assert "customfield_10053" not in task_fields


async def test_remote_link_with_a_global_id_is_upserted(client: httpx.AsyncClient) -> None:
    created = await create(client)
    url = f"/rest/api/3/issue/{created['key']}/remotelink"
    body = {
        "globalId": "syncengine:group:web:1",
        "object": {"url": "https://crash.example.com/g/1", "title": "Crash group 1"},
    }
    first = await client.post(url, json=body)
    assert first.status_code == 201
    body["object"]["title"] = "Crash group 1 (12 reports)"
    again = await client.post(url, json=body)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    links = (await client.get(url)).json()
    assert [link["object"]["title"] for link in links] == ["Crash group 1 (12 reports)"]
    one = await client.get(url, params={"globalId": "syncengine:group:web:1"})
    assert one.json()["globalId"] == "syncengine:group:web:1"


async def test_remote_link_is_updated_by_id_and_needs_a_url(client: httpx.AsyncClient) -> None:
    created = await create(client)
    url = f"/rest/api/2/issue/{created['key']}/remotelink"
    first = await client.post(
        url, json={"object": {"url": "https://crash.example.com/g/2", "title": "G2"}}
    )
    link_id = first.json()["id"]
    updated = await client.put(
        f"{url}/{link_id}",
        json={
            "relationship": "crash group",
            "object": {"url": "https://x.example/2", "title": "X"},
        },
    )
    assert updated.status_code == 204
    shown = (await client.get(f"{url}/{link_id}")).json()
    assert (shown["relationship"], shown["object"]["title"]) == ("crash group", "X")
    missing = await client.put(f"{url}/99999", json={"object": {"url": "https://x", "title": "X"}})
    assert missing.status_code == 404
    bad = await client.put(f"{url}/{link_id}", json={"object": {"title": "no url"}})
    assert bad.status_code == 400
