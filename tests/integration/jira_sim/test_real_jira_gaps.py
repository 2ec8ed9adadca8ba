"""What real clients call and real Jira enforces, that the simulator once lacked.

Found by driving pycontribs ``jira`` and ``atlassian-python-api`` against the
simulator (``test_client_libraries.py`` drives them end to end): the ``latest``
API alias, Cloud's old createmeta, single attachments / remote links / versions,
webhooks under a Data Center context path; and Jira's limits: 32,767 characters
per text field, ADF documents Cloud refuses, Cloud's removed ``username``, Data
Center's entity property values given as JSON text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from syncengine.jira.simulator import Simulator
from tests.integration.jira_sim.conftest import adf, create

GOLDEN_ADF = Path(__file__).resolve().parents[2] / "golden" / "description.adf.json"
TOO_LONG = "The entered text is too long. It exceeds the allowed limit of 32,767 characters."


async def test_latest_is_an_alias_of_v2(sim: Simulator, client: httpx.AsyncClient) -> None:
    key = (await create(client))["key"]
    alice = sim.user("alice").account_id
    answer = await client.put(f"/rest/api/latest/issue/{key}/assignee", json={"accountId": alice})
    assert answer.status_code == 204, answer.text
    assert sim.issue(key).fields["assignee"] == alice
    issue = (await client.get(f"/rest/api/latest/issue/{key}")).json()
    assert issue["self"].endswith(f"/rest/api/2/issue/{issue['id']}")  # v2 shapes
    assert isinstance(issue["fields"]["description"], str | None)


async def test_cloud_serves_the_old_createmeta(client: httpx.AsyncClient) -> None:
    answer = await client.get(
        "/rest/api/2/issue/createmeta",
        params={
            "projectKeys": "CRASH",
            "issuetypeNames": "Bug",
            "expand": "projects.issuetypes.fields",
        },
    )
    assert answer.status_code == 200, answer.text
    [project] = answer.json()["projects"]
    [bug] = project["issuetypes"]
    assert (project["key"], bug["name"]) == ("CRASH", "Bug")
    severity = bug["fields"]["customfield_10050"]
    assert severity["required"] is True
    assert {v["value"] for v in severity["allowedValues"]} >= {"Major", "Minor"}
    without = (await client.get("/rest/api/2/issue/createmeta?projectKeys=CRASH")).json()
    assert "fields" not in without["projects"][0]["issuetypes"][0]


async def test_datacenter_has_no_old_createmeta(dc_client: httpx.AsyncClient) -> None:
    # Data Center 9 removed it: the path is read as an issue key, as real DC does.
    answer = await dc_client.get("/rest/api/2/issue/createmeta?projectKeys=CRASH")
    assert answer.status_code == 404
    assert answer.json()["errorMessages"] == ["Issue Does Not Exist"]


@pytest.mark.parametrize("flavour", ["cloud", "datacenter"])
async def test_one_attachment_its_content_and_its_deletion(
    flavour: str, client: httpx.AsyncClient, dc_client: httpx.AsyncClient
) -> None:
    http = client if flavour == "cloud" else dc_client
    key = (await create(http))["key"]
    [stored] = (
        await http.post(
            f"/rest/api/2/issue/{key}/attachments",
            files={"file": ("trace.txt", b"frame 0", "text/plain")},
            headers={"X-Atlassian-Token": "no-check"},
        )
    ).json()
    one = await http.get(f"/rest/api/2/attachment/{stored['id']}")
    assert one.status_code == 200
    assert one.json()["filename"] == "trace.txt"
    content = await http.get(one.json()["content"])
    assert content.content == b"frame 0"
    assert (await http.delete(f"/rest/api/2/attachment/{stored['id']}")).status_code == 204
    assert (await http.get(f"/rest/api/2/attachment/{stored['id']}")).status_code == 404


async def test_one_remote_link(client: httpx.AsyncClient) -> None:
    key = (await create(client))["key"]
    made = await client.post(
        f"/rest/api/2/issue/{key}/remotelink",
        json={"object": {"url": "https://se.example/g/1", "title": "Group 1"}},
    )
    link = await client.get(f"/rest/api/2/issue/{key}/remotelink/{made.json()['id']}")
    assert link.status_code == 200
    assert link.json()["object"]["url"] == "https://se.example/g/1"
    assert (await client.get(f"/rest/api/2/issue/{key}/remotelink/999")).status_code == 404


async def test_one_version_read_and_released(sim: Simulator, client: httpx.AsyncClient) -> None:
    version = (await client.get("/rest/api/2/version/10012")).json()
    assert (version["name"], version["released"]) == ("2.4.0", False)
    refused = await client.put("/rest/api/2/version/10012", json={"released": True})
    assert refused.status_code == 403  # the bot is no project administrator
    async with sim.client(login="admin@example.com", token="sim-admin-token") as admin:
        released = await admin.put(
            "/rest/api/3/version/10012", json={"released": True, "releaseDate": "2026-03-01"}
        )
    assert released.status_code == 200, released.text
    assert (released.json()["released"], released.json()["releaseDate"]) == (True, "2026-03-01")
    assert (await client.get("/rest/api/2/version/424242")).status_code == 404


async def test_a_new_version_never_takes_a_seeded_versions_id(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    for _ in range(15):  # ids run past the seeded versions' 10010..10012
        await create(client)
    async with sim.client(login="admin@example.com", token="sim-admin-token") as admin:
        made = (
            await admin.post("/rest/api/2/version", json={"name": "9.9", "projectId": 10000})
        ).json()
    assert made["id"] not in {"10010", "10011", "10012"}
    assert (await client.get(f"/rest/api/2/version/{made['id']}")).json()["name"] == "9.9"


async def test_webhooks_under_a_datacenter_context_path(dc_sim: Simulator) -> None:
    async with dc_sim.client(login="admin", token="sim-admin-token") as admin:
        made = await admin.post(
            "/jira/rest/webhooks/1.0/webhook",
            json={"name": "se", "url": "https://se.example/hook", "events": ["jira:issue_updated"]},
        )
        assert made.status_code == 201, made.text
        listed = await admin.get("/jira/rest/webhooks/1.0/webhook")
    assert [h["url"] for h in listed.json()] == ["https://se.example/hook"]


async def test_text_fields_hold_32767_characters(client: httpx.AsyncClient) -> None:
    await create(client, description="x" * 32767)
    refused = await client.post(
        "/rest/api/2/issue",
        json={"fields": {**_bug(), "description": "x" * 32768}},
    )
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"description": TOO_LONG}
    key = (await create(client))["key"]
    comment = await client.post(f"/rest/api/2/issue/{key}/comment", json={"body": "y" * 32768})
    assert comment.json()["errors"] == {"comment": TOO_LONG}
    textarea = await client.put(
        f"/rest/api/2/issue/{key}", json={"fields": {"customfield_10051": "z" * 32768}}
    )
    assert textarea.json()["errors"] == {"customfield_10051": TOO_LONG}


async def test_a_single_line_text_field_holds_255(client: httpx.AsyncClient) -> None:
    fields = {
        "project": {"key": "SUP"},
        "issuetype": {"name": "Task"},
        "summary": "s",
        "customfield_10070": {"value": "Question"},
    }
    ok = await client.post(
        "/rest/api/2/issue", json={"fields": fields | {"customfield_10072": "e" * 255}}
    )
    assert ok.status_code == 201, ok.text
    refused = await client.post(
        "/rest/api/2/issue", json={"fields": fields | {"customfield_10072": "e" * 256}}
    )
    assert refused.json()["errors"] == {"customfield_10072": TOO_LONG.replace("32,767", "255")}


async def test_an_adf_document_counts_by_its_stored_form(client: httpx.AsyncClient) -> None:
    # 32,000 characters of text, but well over 32,767 once stored as ADF JSON.
    lines = [adf("w" * 40)["content"][0] for _ in range(800)]
    document = {"type": "doc", "version": 1, "content": lines}
    assert sum(len(p["content"][0]["text"]) for p in lines) < 32767 < len(json.dumps(document))
    refused = await client.post(
        "/rest/api/3/issue", json={"fields": {**_bug(), "description": document}}
    )
    assert refused.json()["errors"] == {"description": TOO_LONG}


@pytest.mark.parametrize(
    "content",
    [
        [{"type": "paragraph", "content": [{"type": "text", "text": ""}]}],
        [{"type": "blink", "content": []}],
        [{"type": "heading", "content": [{"type": "text", "text": "no level"}]}],
        [
            {
                "type": "taskList",
                "attrs": {"localId": "l1"},
                "content": [{"type": "taskItem", "content": [{"type": "text", "text": "todo"}]}],
            }
        ],
        [
            {
                "type": "paragraph",
                "content": [{"type": "text", "text": "x", "marks": [{"type": "link"}]}],
            }
        ],
    ],
    ids=[
        "empty-text",
        "unknown-node",
        "heading-without-level",
        "task-without-localId",
        "link-without-href",
    ],
)
async def test_cloud_refuses_invalid_adf(client: httpx.AsyncClient, content: list[Any]) -> None:
    document = {"type": "doc", "version": 1, "content": content}
    created = await client.post(
        "/rest/api/3/issue", json={"fields": {**_bug(), "description": document}}
    )
    assert created.status_code == 400
    assert created.json() == {"errorMessages": ["INVALID_INPUT"], "errors": {}}
    key = (await create(client))["key"]
    comment = await client.post(f"/rest/api/3/issue/{key}/comment", json={"body": document})
    assert comment.json() == {"errorMessages": ["INVALID_INPUT"], "errors": {}}


async def test_cloud_takes_the_engines_own_description(client: httpx.AsyncClient) -> None:
    # The bundled template rendered to ADF (headings, tables, code, links) fits the schema.
    await create(client, 3, description=json.loads(GOLDEN_ADF.read_text(encoding="utf-8")))


async def test_cloud_takes_valid_rich_adf(client: httpx.AsyncClient) -> None:
    document = {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "heading",
                "attrs": {"level": 2},
                "content": [{"type": "text", "text": "Crash"}],
            },
            {"type": "codeBlock", "content": [{"type": "text", "text": "at main()"}]},
            {
                "type": "paragraph",
                "content": [
                    {
                        "type": "text",
                        "text": "group",
                        "marks": [{"type": "link", "attrs": {"href": "https://se.example/g"}}],
                    }
                ],
            },
        ],
    }
    await create(client, 3, description=document)


@pytest.mark.parametrize(
    "path", ["/user/search", "/user/assignable/search?project=CRASH&", "/user"]
)
async def test_cloud_refuses_usernames(client: httpx.AsyncClient, path: str) -> None:
    joiner = "" if path.endswith("&") else "?"
    answer = await client.get(f"/rest/api/3{path}{joiner}username=alice")
    assert answer.status_code == 400
    assert answer.json()["errorMessages"] == [
        "The query parameter 'username' is not supported in GDPR strict mode."
    ]


async def test_datacenter_searches_users_by_username(dc_client: httpx.AsyncClient) -> None:
    found = (await dc_client.get("/rest/api/2/user/search?username=alice")).json()
    assert [u["name"] for u in found] == ["alice"]


async def test_datacenter_property_values_are_json_text(
    dc_sim: Simulator, dc_client: httpx.AsyncClient
) -> None:
    as_text = {"fields": _bug(), "properties": [{"key": "se", "value": '{"group": "g-1"}'}]}
    made = await dc_client.post("/rest/api/2/issue", json=as_text)
    assert made.status_code == 201, made.text
    stored = await dc_client.get(f"/rest/api/2/issue/{made.json()['key']}/properties/se")
    assert stored.json()["value"] == {"group": "g-1"}
    as_object = {"fields": _bug(), "properties": [{"key": "se", "value": {"group": "g-1"}}]}
    refused = await dc_client.post("/rest/api/2/issue", json=as_object)
    assert refused.status_code == 400
    assert "java.lang.String out of START_OBJECT" in refused.json()["errorMessages"][0]
    not_json = {"fields": _bug(), "properties": [{"key": "se", "value": "{broken"}]}
    assert (await dc_client.post("/rest/api/2/issue", json=not_json)).status_code == 400


def _bug() -> dict[str, Any]:
    return {
        "project": {"key": "CRASH"},
        "issuetype": {"name": "Bug"},
        "summary": "s",
        "customfield_10050": {"value": "Major"},
    }
