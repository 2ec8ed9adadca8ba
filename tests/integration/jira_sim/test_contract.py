"""Contract: every route the simulator serves answers in the shape Atlassian's specs declare.

Cloud responses are checked against the Cloud platform spec (v3; v2 has the same
shapes with plain-string rich text), Data Center responses against the DC 10.3
spec. The vendored subsets hold the 2xx schemas of exactly these operations.

Narrow workarounds for known spec defects (openapi/jira-dc-10.3-COMPATIBILITY-notes.md):
- an operation that returns a JSON array but declares the item schema (DC: /project,
  /field, /issuetype, /priority, /status, /resolution, remote links...; Cloud: GET
  remotelink) is checked item by item;
- DC's paginated createmeta declares the item bean: each ``values`` entry is checked
  and the page envelope asserted separately;
- DC's ``IssueBean.fields`` declares every value as an object: only
  ``fields.additionalProperties`` is relaxed;
- DC's ``EntityPropertyBean.value`` is declared a string, though an issue property
  is any JSON value (its own example is a JSON object serialized): ``value`` is relaxed.
- Cloud's ``ChangeDetails`` declares ``from``/``to``/``fromString``/``toString`` as
  strings, but Jira sends null for an empty side (as every recorded webhook does):
  those four accept null.
OpenAPI's ``nullable: true`` is translated to JSON Schema's ``null`` type.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft4Validator

from syncengine.jira.simulator import Simulator
from tests.integration.jira_sim.conftest import adf, create

VENDOR = Path(__file__).resolve().parents[2] / "vendor" / "jira"
ITEM_BEAN_PAGES = {
    "GET /issue/createmeta/{projectIdOrKey}/issuetypes",
    "GET /issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}",
}


def _nullable(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _nullable(v) for k, v in node.items()}
        if out.pop("nullable", False) and "type" in out:
            out["type"] = [out["type"], "null"]
        return out
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    return node


def _spec(name: str, dc: bool) -> dict[str, Any]:
    spec = _nullable(json.loads((VENDOR / name).read_text()))
    if not dc:
        change = spec["components"]["schemas"]["ChangeDetails"]["properties"]
        for side in ("from", "fromString", "to", "toString"):
            change[side]["type"] = ["string", "null"]
    if dc:
        schemas = spec["components"]["schemas"]
        schemas["IssueBean"]["properties"]["fields"]["additionalProperties"] = {}
        schemas["EntityPropertyBean"]["properties"]["value"] = {}
    return spec


SPECS = {
    "cloud": _spec("cloud-v3-subset.json", dc=False),
    "datacenter": _spec("dc-10.3-subset.json", dc=True),
}


def _errors(spec: dict[str, Any], schema: dict[str, Any], body: Any) -> list[str]:
    root = {**copy.deepcopy(schema), "components": spec["components"]}
    validator = Draft4Validator(root)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in validator.iter_errors(body)
    ]


def problems_of(flavour: str, operation: str, answer: httpx.Response) -> list[str]:
    """What in ``answer`` disagrees with the spec's schema for ``operation`` and its status."""
    spec = SPECS[flavour]
    declared = spec["operations"][operation]
    assert declared, f"{operation} has no schema in the {flavour} spec subset"
    if str(answer.status_code) not in declared:
        status = answer.status_code
        return [f"{flavour} {operation}: status {status} is not declared ({sorted(declared)})"]
    schema = declared[str(answer.status_code)]
    body = answer.json()
    item_schema = spec["components"]["schemas"].get(schema.get("$ref", "").rsplit("/", 1)[-1], {})
    if isinstance(body, list) and schema.get("type") != "array":
        problems = [p for item in body for p in _errors(spec, schema, item)]  # item-bean defect
        assert body, f"{operation}: empty list proves nothing"
    elif flavour == "datacenter" and operation in ITEM_BEAN_PAGES:
        assert {"startAt", "maxResults", "total", "isLast", "values"} <= set(body)
        problems = [p for item in body["values"] for p in _errors(spec, schema, item)]
    else:
        problems = _errors(spec, schema, body)
    assert item_schema or schema.get("type") == "array", operation
    return [f"{flavour} {operation} {answer.status_code}: {p}" for p in problems]


def check(flavour: str, operation: str, answer: httpx.Response) -> None:
    """Assert ``answer`` matches the spec's schema for ``operation`` and its status."""
    problems = problems_of(flavour, operation, answer)
    assert not problems, problems[:5]


async def exercise(
    sim: Simulator, client: httpx.AsyncClient, version: int
) -> dict[str, httpx.Response]:
    """Call every route the simulator serves once, with data behind it; answers by operation."""
    cloud = sim.flavour == "cloud"
    text: Any = adf("Body") if version == 3 else "Body"
    calls: dict[str, httpx.Response] = {}
    api = f"/rest/api/{version}"

    async def call(operation: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        answer = await client.request(method, api + path, **kwargs)
        assert answer.status_code < 300, (operation, answer.status_code, answer.text[:300])
        calls[operation] = answer
        return answer

    created = await create(
        client,
        version,
        description=text,
        labels=["crash"],
        fixVersions=[{"name": "2.4.0"}],
        priority={"name": "High"},
        customfield_10051=text,
    )
    key = created["key"]
    calls["POST /issue"] = await client.post(
        f"{api}/issue",
        json={
            "fields": {
                "project": {"key": "SUP"},
                "issuetype": {"name": "Task"},
                "summary": "s",
                "customfield_10070": {"value": "Question"},
            }
        },
    )
    await call(
        "POST /issue/bulk",
        "POST",
        "/issue/bulk",
        json={
            "issueUpdates": [
                {
                    "fields": {
                        "project": {"key": "SUP"},
                        "issuetype": {"name": "Task"},
                        "summary": "b",
                        "customfield_10070": {"value": "Billing"},
                    }
                }
            ]
        },
    )
    await call(
        "POST /issue/{issueIdOrKey}/comment", "POST", f"/issue/{key}/comment", json={"body": text}
    )
    comment_id = calls["POST /issue/{issueIdOrKey}/comment"].json()["id"]
    await client.put(
        f"{api}/issue/{key}/assignee",
        json={"accountId": sim.user("alice").account_id} if cloud else {"name": "alice"},
    )
    await client.put(f"{api}/issue/{key}/properties/syncengine", json={"group": "g"})
    await call(
        "POST /issue/{issueIdOrKey}/remotelink",
        "POST",
        f"/issue/{key}/remotelink",
        json={
            "globalId": "g",
            "application": {"name": "syncengine"},
            "relationship": "crash group",
            "object": {"url": "https://x.example/g", "title": "G"},
        },
    )
    await call(
        "POST /issue/{issueIdOrKey}/attachments",
        "POST",
        f"/issue/{key}/attachments",
        files={"file": ("a.txt", b"hello", "text/plain")},
        headers={"X-Atlassian-Token": "no-check"},
    )
    attachment_id = calls["POST /issue/{issueIdOrKey}/attachments"].json()[0]["id"]
    link_id = calls["POST /issue/{issueIdOrKey}/remotelink"].json()["id"]
    reads = {
        "GET /attachment/{id}": f"/attachment/{attachment_id}",
        "GET /issue/{issueIdOrKey}/remotelink/{linkId}": f"/issue/{key}/remotelink/{link_id}",
        "GET /version/{id}": "/version/10011",
        "GET /serverInfo": "/serverInfo",
        "GET /myself": "/myself",
        "GET /mypermissions": "/mypermissions?projectKey=CRASH"
        + ("&permissions=CREATE_ISSUES" if cloud else ""),
        "GET /project": "/project",
        "GET /project/{projectIdOrKey}": "/project/CRASH",
        "GET /project/{projectIdOrKey}/statuses": "/project/CRASH/statuses",
        "GET /project/{projectIdOrKey}/versions": "/project/CRASH/versions",
        "GET /project/{projectIdOrKey}/version": "/project/CRASH/version",
        "GET /issuetype": "/issuetype",
        "GET /field": "/field",
        "GET /status": "/status",
        "GET /statuscategory": "/statuscategory",
        "GET /priority": "/priority",
        "GET /resolution": "/resolution",
        "GET /user": "/user?accountId=" + sim.user("alice").account_id
        if cloud
        else "/user?username=alice",
        "GET /user/search": "/user/search?query=a" if cloud else "/user/search?username=a",
        "GET /user/assignable/search": "/user/assignable/search?project=CRASH",
        "GET /issue/createmeta/{projectIdOrKey}/issuetypes": "/issue/createmeta/CRASH/issuetypes",
        "GET /issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}": (
            "/issue/createmeta/CRASH/issuetypes/10004"
        ),
        "GET /issue/{issueIdOrKey}": f"/issue/{key}",
        "GET /issue/{issueIdOrKey}/transitions": (
            f"/issue/{key}/transitions?expand=transitions.fields"
        ),
        "GET /issue/{issueIdOrKey}/comment": f"/issue/{key}/comment",
        "GET /issue/{issueIdOrKey}/comment/{id}": f"/issue/{key}/comment/{comment_id}",
        "GET /issue/{issueIdOrKey}/properties": f"/issue/{key}/properties",
        "GET /issue/{issueIdOrKey}/properties/{propertyKey}": f"/issue/{key}/properties/syncengine",
        "GET /issue/{issueIdOrKey}/remotelink": f"/issue/{key}/remotelink",
        "GET /issue/{issueIdOrKey}/editmeta": f"/issue/{key}/editmeta",
    }
    if cloud:
        await client.put(f"{api}/issue/{key}", json={"fields": {"summary": "Renamed"}})
        reads["GET /issue/{issueIdOrKey}/changelog"] = f"/issue/{key}/changelog"
        reads["GET /project/search"] = "/project/search"
        reads["GET /issue/createmeta"] = (
            "/issue/createmeta?projectKeys=CRASH&expand=projects.issuetypes.fields"
        )
        reads["GET /search/jql"] = "/search/jql?jql=project%20%3D%20CRASH&fields=*all"
        await call(
            "POST /search/jql",
            "POST",
            "/search/jql",
            json={"jql": "project = CRASH", "fields": ["summary", "status"]},
        )
        await call(
            "POST /search/approximate-count",
            "POST",
            "/search/approximate-count",
            json={"jql": "project = CRASH"},
        )
    else:
        reads["GET /search"] = "/search?jql=project%20%3D%20CRASH"
        await call(
            "POST /search", "POST", "/search", json={"jql": "project = CRASH", "fields": ["*all"]}
        )
    for operation, path in reads.items():
        await call(operation, "GET", path)
    admin_login = "admin@example.com" if cloud else "admin"
    async with sim.client(login=admin_login, token="sim-admin-token") as admin:
        answer = await admin.post(
            f"{api}/version", json={"name": f"3.0.{version}", "projectId": 10000}
        )
        assert answer.status_code == 201, answer.text
        calls["POST /version"] = answer
        if cloud:  # Data Center's spec declares no body for this answer
            released = await admin.put(
                f"{api}/version/{answer.json()['id']}", json={"released": True}
            )
            assert released.status_code == 200, released.text
            calls["PUT /version/{id}"] = released
    return calls


@pytest.mark.parametrize("version", [2, 3])
async def test_cloud_responses_match_the_cloud_spec(
    sim: Simulator, client: httpx.AsyncClient, version: int
) -> None:
    calls = await exercise(sim, client, version)
    assert set(calls) == set(SPECS["cloud"]["operations"])  # every served operation is checked
    problems = [
        p for operation, answer in calls.items() for p in problems_of("cloud", operation, answer)
    ]
    assert not problems, "\n".join(problems)


async def test_datacenter_responses_match_the_dc_spec(
    dc_sim: Simulator, dc_client: httpx.AsyncClient
) -> None:
    calls = await exercise(dc_sim, dc_client, 2)
    assert set(calls) == set(SPECS["datacenter"]["operations"])
    problems = [p for op, answer in calls.items() for p in problems_of("datacenter", op, answer)]
    assert not problems, "\n".join(problems)


def test_the_checker_rejects_a_wrong_shape() -> None:
    wrong = httpx.Response(200, json={"baseUrl": 5, "unexpected": True})
    with pytest.raises(AssertionError):
        check("cloud", "GET /serverInfo", wrong)
    with pytest.raises(AssertionError):
        check("cloud", "POST /issue", httpx.Response(201, json={"id": 1}))
