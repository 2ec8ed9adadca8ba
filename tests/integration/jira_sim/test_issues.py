"""Issues in the simulator: create, validate, edit, transition, assign, comment, move, delete."""

from __future__ import annotations

import httpx
import pytest

from syncengine.jira.simulator import ManualClock, Simulator
from tests.integration.jira_sim.conftest import BUG, adf, create

NOT_ON_SCREEN = "Field '{}' cannot be set. It is not on the appropriate screen, or unknown."
ADF_REQUIRED = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"


async def test_create_stores_the_issue_and_answers_id_key_self(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    created = await create(
        client,
        labels=["crash", "android"],
        fixVersions=[{"name": "2.4.0"}],
        description="Stack:\n  at main()",
        priority={"name": "High"},
    )
    assert created["key"] == "CRASH-1"
    assert created["self"].endswith(f"/rest/api/2/issue/{created['id']}")
    issue = sim.issue("CRASH-1")
    assert issue.id == created["id"]
    assert issue.fields["labels"] == ["crash", "android"]
    assert issue.fields["fixVersions"] == ["10012"]
    assert issue.fields["customfield_10050"] == "10101"
    assert sim.state.statuses[issue.status_id].name == "To Do"
    assert sim.state.users[issue.reporter or ""].email == "bot@example.com"


async def test_v3_requires_adf_and_v2_requires_strings(client: httpx.AsyncClient) -> None:
    fields = {**BUG, "description": "plain text", "customfield_10051": "also plain"}
    answer = await client.post("/rest/api/3/issue", json={"fields": fields})
    assert answer.status_code == 400
    assert answer.json() == {
        "errorMessages": [],
        "errors": {"description": ADF_REQUIRED, "customfield_10051": ADF_REQUIRED},
    }
    answer = await client.post(
        "/rest/api/2/issue", json={"fields": {**BUG, "description": adf("x")}}
    )
    assert answer.json()["errors"] == {"description": "Operation value must be a string"}
    created = await create(client, 3, description=adf("Rich text"))
    v2 = (await client.get(f"/rest/api/2/issue/{created['key']}")).json()
    v3 = (await client.get(f"/rest/api/3/issue/{created['key']}")).json()
    assert v2["fields"]["description"] == "Rich text"
    assert v3["fields"]["description"] == adf("Rich text")


async def test_create_reports_every_field_problem_like_jira(client: httpx.AsyncClient) -> None:
    fields = {
        "project": {"key": "CRASH"},
        "issuetype": {"name": "Bug"},
        "labels": ["has space"],
        "customfield_10070": {"value": "Question"},
        "unknown_field": 1,
    }
    answer = await client.post("/rest/api/2/issue", json={"fields": fields})
    assert answer.status_code == 400
    assert answer.json()["errors"] == {
        "labels": "The label 'has space' contains spaces which is invalid.",
        "customfield_10070": NOT_ON_SCREEN.format("customfield_10070"),
        "unknown_field": NOT_ON_SCREEN.format("unknown_field"),
        "summary": "You must specify a summary of the issue.",
        "customfield_10050": "Severity is required.",
    }


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"project": {"key": "NOPE"}}, {"project": "Specify a valid project ID or key"}),
        ({"issuetype": {"name": "Epic"}}, {"issuetype": "The issue type selected is invalid."}),
        (
            {"customfield_10050": {"value": "Blocker"}},
            {"customfield_10050": "Option value 'Blocker' is not valid"},
        ),
        (
            {"fixVersions": [{"name": "9.9.9"}]},
            {"fixVersions": "Version name '9.9.9' is not valid"},
        ),
        ({"priority": {"name": "Urgent"}}, {"priority": "The priority selected is invalid."}),
        (
            {"assignee": {"accountId": "nobody"}},
            {"assignee": "Specified user 'nobody' does not exist."},
        ),
    ],
)
async def test_invalid_values_get_jiras_400(
    client: httpx.AsyncClient, fields: dict, errors: dict
) -> None:
    answer = await client.post("/rest/api/2/issue", json={"fields": {**BUG, **fields}})
    assert answer.status_code == 400
    assert answer.json() == {"errorMessages": [], "errors": errors}


async def test_task_has_no_severity_on_its_screen(client: httpx.AsyncClient) -> None:
    fields = {**BUG, "issuetype": {"name": "Task"}}
    answer = await client.post("/rest/api/2/issue", json={"fields": fields})
    assert answer.json()["errors"] == {
        "customfield_10050": NOT_ON_SCREEN.format("customfield_10050")
    }


async def test_bad_bodies_get_415_and_400(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/rest/api/2/issue", content=b'{"fields":{}}', headers={"Content-Type": "text/plain"}
    )
    assert answer.status_code == 415
    answer = await client.post(
        "/rest/api/2/issue", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["errorMessages"]


async def test_edit_changes_fields_and_updated(
    sim: Simulator, clock: ManualClock, client: httpx.AsyncClient
) -> None:
    created = await create(client, labels=["a"])
    before = sim.issue(created["key"]).updated
    clock.advance(90)
    answer = await client.put(
        f"/rest/api/2/issue/{created['key']}",
        json={
            "fields": {"summary": "Renamed"},
            "update": {"labels": [{"add": "b"}, {"remove": "a"}]},
        },
    )
    assert answer.status_code == 204
    issue = sim.issue(created["key"])
    assert issue.fields["summary"] == "Renamed"
    assert issue.fields["labels"] == ["b"]
    assert (issue.updated - before).total_seconds() == 90
    answer = await client.put(
        f"/rest/api/2/issue/{created['key']}", json={"fields": {"customfield_10050": None}}
    )
    assert answer.json()["errors"] == {"customfield_10050": "Severity is required."}


async def test_transitions_follow_the_workflow(sim: Simulator, client: httpx.AsyncClient) -> None:
    key = (await create(client))["key"]
    listed = (
        await client.get(
            f"/rest/api/2/issue/{key}/transitions", params={"expand": "transitions.fields"}
        )
    ).json()
    names = {t["name"]: t for t in listed["transitions"]}
    assert set(names) == {"Start Progress", "Done", "Won't Do"}
    assert names["Done"]["fields"]["resolution"]["required"] is True
    url = f"/rest/api/2/issue/{key}/transitions"
    answer = await client.post(url, json={"transition": {"id": "abc"}})
    assert answer.json()["errorMessages"] == ["'transition' identifier must be an integer"]
    answer = await client.post(url, json={"transition": {"id": "51"}})
    assert answer.json()["errorMessages"] == ["Transition id '51' is not valid for this issue."]
    answer = await client.post(url, json={"transition": {"id": "31"}})
    assert answer.json()["errors"] == {"resolution": "Resolution is required."}
    answer = await client.post(
        url, json={"transition": {"id": "31"}, "fields": {"resolution": {"name": "Done"}}}
    )
    assert answer.status_code == 204
    issue = sim.issue(key)
    assert (sim.state.statuses[issue.status_id].name, issue.resolution_id) == ("Done", "10000")
    assert (await client.post(url, json={"transition": {"id": "51"}})).status_code == 204
    assert sim.issue(key).resolution_id is None
    assert sim.state.statuses[sim.issue(key).status_id].category.key == "new"


async def test_assign_by_account_id_on_cloud_and_name_on_dc(
    sim: Simulator, client: httpx.AsyncClient, dc_sim: Simulator, dc_client: httpx.AsyncClient
) -> None:
    key = (await create(client))["key"]
    alice = sim.user("alice@example.com")
    assert (
        await client.put(f"/rest/api/2/issue/{key}/assignee", json={"accountId": alice.account_id})
    ).status_code == 204
    assert sim.issue(key).fields["assignee"] == alice.account_id
    answer = await client.put(f"/rest/api/2/issue/{key}/assignee", json={"accountId": "ghost"})
    assert answer.json()["errors"] == {"assignee": "User 'ghost' cannot be assigned issues."}
    assert (
        await client.put(f"/rest/api/2/issue/{key}/assignee", json={"accountId": None})
    ).status_code == 204
    assert sim.issue(key).fields["assignee"] is None
    dc_key = (await create(dc_client))["key"]
    assert (
        await dc_client.put(f"/rest/api/2/issue/{dc_key}/assignee", json={"name": "alice"})
    ).status_code == 204
    shown = (await dc_client.get(f"/rest/api/2/issue/{dc_key}")).json()["fields"]["assignee"]
    assert shown["name"] == "alice"
    assert "accountId" not in shown


async def test_comments_v2_strings_v3_adf(sim: Simulator, client: httpx.AsyncClient) -> None:
    key = (await create(client))["key"]
    answer = await client.post(f"/rest/api/3/issue/{key}/comment", json={"body": "plain"})
    assert answer.status_code == 400
    assert answer.json()["errors"] == {"comment": ADF_REQUIRED}
    assert (
        await client.post(f"/rest/api/3/issue/{key}/comment", json={"body": adf("rich")})
    ).status_code == 201
    assert (
        await client.post(f"/rest/api/2/issue/{key}/comment", json={"body": "second"})
    ).status_code == 201
    listed = (await client.get(f"/rest/api/2/issue/{key}/comment")).json()
    assert listed["total"] == 2
    assert [c["body"] for c in listed["comments"]] == ["rich", "second"]
    assert len(sim.issue(key).comments) == 2


async def test_attachments_need_the_xsrf_header(sim: Simulator, client: httpx.AsyncClient) -> None:
    key = (await create(client))["key"]
    files = {"file": ("minidump.dmp", b"MDMP\x00\x01", "application/octet-stream")}
    answer = await client.post(f"/rest/api/2/issue/{key}/attachments", files=files)
    assert (answer.status_code, answer.text) == (403, "XSRF check failed")
    answer = await client.post(
        f"/rest/api/2/issue/{key}/attachments",
        files=files,
        headers={"X-Atlassian-Token": "no-check"},
    )
    assert answer.status_code == 200
    assert answer.json()[0]["filename"] == "minidump.dmp"
    assert answer.json()[0]["size"] == 6
    assert sim.issue(key).attachments[0].content == b"MDMP\x00\x01"


async def test_properties_and_remote_links(sim: Simulator, client: httpx.AsyncClient) -> None:
    key = (await create(client))["key"]
    url = f"/rest/api/2/issue/{key}/properties/syncengine"
    assert (await client.get(url)).status_code == 404
    assert (await client.put(url, json={"group": "g-1"})).status_code == 201
    assert (await client.put(url, json={"group": "g-2"})).status_code == 200
    assert (await client.get(url)).json() == {"key": "syncengine", "value": {"group": "g-2"}}
    link = {
        "globalId": "syncengine:g-2",
        "object": {"url": "https://crash.example/g/2", "title": "Group 2"},
    }
    first = await client.post(f"/rest/api/2/issue/{key}/remotelink", json=link)
    again = await client.post(f"/rest/api/2/issue/{key}/remotelink", json=link)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    missing = await client.post(
        f"/rest/api/2/issue/{key}/remotelink", json={"object": {"url": "u"}}
    )
    assert missing.json()["errors"] == {"title": "'title' is required."}
    assert len(sim.issue(key).remote_links) == 1


async def test_bulk_create_partial_success_and_limits(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    good = {"fields": BUG}
    bad = {"fields": {**BUG, "issuetype": {"name": "Epic"}}}
    answer = await client.post("/rest/api/2/issue/bulk", json={"issueUpdates": [good, bad, good]})
    assert answer.status_code == 201
    body = answer.json()
    assert [i["key"] for i in body["issues"]] == ["CRASH-1", "CRASH-2"]
    assert body["errors"] == [
        {
            "status": 400,
            "failedElementNumber": 1,
            "elementErrors": {
                "errorMessages": [],
                "errors": {"issuetype": "The issue type selected is invalid."},
            },
        }
    ]
    answer = await client.post("/rest/api/2/issue/bulk", json={"issueUpdates": [bad, bad]})
    assert answer.status_code == 400
    assert answer.json()["issues"] == []
    assert len(answer.json()["errors"]) == 2
    answer = await client.post("/rest/api/2/issue/bulk", json={"issueUpdates": [good] * 51})
    assert answer.status_code == 400
    assert len(sim.issues()) == 2


async def test_move_changes_key_not_id_and_delete_removes(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    created = await create(client, issuetype={"name": "Task"}, customfield_10050=None)
    moved = sim.move_issue(created["key"], "SUP")
    assert moved.id == created["id"]
    assert moved.key == "SUP-1"
    by_old_key = (await client.get(f"/rest/api/2/issue/{created['key']}")).json()
    assert by_old_key["key"] == "SUP-1"
    assert (await client.delete(f"/rest/api/2/issue/{created['id']}")).status_code == 204
    gone = await client.get(f"/rest/api/2/issue/{created['id']}")
    assert gone.status_code == 404
    assert gone.json() == {
        "errorMessages": ["Issue does not exist or you do not have permission to see it."],
        "errors": {},
    }


async def test_createmeta_is_paginated_and_lists_required_fields(
    client: httpx.AsyncClient, dc_client: httpx.AsyncClient
) -> None:
    types = (await client.get("/rest/api/2/issue/createmeta/CRASH/issuetypes")).json()
    assert [t["name"] for t in types["issueTypes"]] == ["Bug", "Task"]
    page = (
        await client.get(
            "/rest/api/2/issue/createmeta/CRASH/issuetypes/10004", params={"maxResults": 3}
        )
    ).json()
    assert (page["total"], len(page["fields"])) == (15, 3)
    everything = (await client.get("/rest/api/2/issue/createmeta/CRASH/issuetypes/10004")).json()[
        "fields"
    ]
    severity = next(f for f in everything if f["fieldId"] == "customfield_10050")
    assert severity["required"] is True
    assert [o["value"] for o in severity["allowedValues"]] == [
        "Critical",
        "Major",
        "Minor",
        "Trivial",
    ]
    too_many = await client.get(
        "/rest/api/2/issue/createmeta/CRASH/issuetypes", params={"maxResults": 201}
    )
    assert too_many.json()["errorMessages"] == [
        "Parameter 'maxResults' must not exceed the limit '200'"
    ]
    dc_types = (await dc_client.get("/rest/api/2/issue/createmeta/CRASH/issuetypes")).json()
    assert [t["name"] for t in dc_types["values"]] == ["Bug", "Task"]


async def test_versions_users_and_server_info(
    client: httpx.AsyncClient, dc_client: httpx.AsyncClient
) -> None:
    versions = (await client.get("/rest/api/2/project/CRASH/versions")).json()
    assert [v["name"] for v in versions] == ["2.2.0", "2.3.0", "2.4.0"]
    users = (await client.get("/rest/api/3/user/search", params={"query": "alice"})).json()
    assert [u["displayName"] for u in users] == ["Alice Developer"]
    assert "accountId" in users[0]
    dc_users = (await dc_client.get("/rest/api/2/user/search", params={"username": "alice"})).json()
    assert dc_users[0]["name"] == "alice"
    assert "accountId" not in dc_users[0]
    assert (await client.get("/rest/api/3/serverInfo")).json()["deploymentType"] == "Cloud"
    assert (await dc_client.get("/rest/api/2/serverInfo")).json()["deploymentType"] == "Server"
    assert (await dc_client.get("/rest/api/3/serverInfo")).status_code == 404
    assert (await dc_client.get("/jira/rest/api/2/serverInfo")).status_code == 200
