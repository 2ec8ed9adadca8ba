"""The client's requests checked against Atlassian's OpenAPI specs; answers are recordings.

Every operation the client has is called once per flavour (Cloud REST v3, Data
Center REST v2) through a transport that answers from the recorded fixtures
(jira-cli, go-jira, atlassian-python-api). Each request must match an operation
of the spec, send only declared query parameters, and carry a body valid against
the operation's request schema (``$ref``s resolved inside the vendored subset).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import jsonschema
import pytest

from syncengine.jira import JiraClient, NewIssue

from .conftest import VENDOR, FakeTime, load_json, load_pydict, make_config

SPECS = {
    "cloud": json.loads((VENDOR / "openapi" / "cloud-v3-client-operations.json").read_text()),
    "datacenter": json.loads((VENDOR / "openapi" / "dc-10.3-client-operations.json").read_text()),
}
# Defects of the generated Data Center spec (see the COMPATIBILITY notes shipped with it):
# the issue property PUT declares a string body, but Jira takes any JSON value.
SPEC_DEFECTS = {("datacenter", "PUT /rest/api/2/issue/{issueIdOrKey}/properties/{propertyKey}")}
# The assign operation's description (both specs): "If `name` or `accountId` is set to
# `null`, the issue is set to unassigned" -- the schema's string type does not say so.
DOCUMENTED_NULLS = {("accountId",), ("name",)}


# Query parameters an operation's description documents but its parameter list omits.
DOCUMENTED_PARAMS = {
    # "Fields will only be returned if `expand=transitions.fields`."
    ("datacenter", "GET /rest/api/2/issue/{issueIdOrKey}/transitions"): {"expand"},
}


def _patched(flavour: str) -> dict[str, Any]:
    """The vendored components, with the generated-DC-spec defect of dynamic ``fields`` relaxed.

    The DC spec declares every value of ``IssueUpdateBean.fields`` an object, though
    Jira takes strings, arrays and numbers there (its own examples do). An entity
    property's ``value`` in a create body is NOT relaxed: Data Center's
    ``EntityPropertyBean.value`` really is a string (the JSON text), so the client
    must send it as the spec says.
    """
    components = json.loads(json.dumps(SPECS[flavour]["components"]))
    if flavour == "datacenter":
        schemas = components["schemas"]
        schemas["IssueUpdateBean"]["properties"]["fields"]["additionalProperties"] = {}
    return _nullable(components)


# Operations that exist only on one flavour, by design of the client.
NOT_ON = {
    "datacenter": {"GET /rest/api/3/issuetype/project", "POST /rest/api/3/webhook"},
}


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable`` as JSON Schema: add "null" to the type."""
    if isinstance(node, dict):
        out = {k: _nullable(v) for k, v in node.items()}
        if out.pop("nullable", False) and isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        return out
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    return node


def _operation(flavour: str, method: str, path: str) -> str:
    best: tuple[int, str] | None = None
    for key in SPECS[flavour]["operations"]:
        op_method, template = key.split(" ", 1)
        if op_method != method:
            continue
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            literal = len(re.sub(r"\{[^}]+\}", "", template))
            if best is None or literal > best[0]:
                best = (literal, key)
    assert best is not None, f"{method} {path} is not an operation of the {flavour} spec"
    return best[1]


ADF = {
    "type": "doc",
    "version": 1,
    "content": [{"type": "paragraph", "content": [{"type": "text", "text": "hi"}]}],
}
FIELDS_PAGE = {
    "startAt": 0,
    "maxResults": 50,
    "total": 2,
    "fields": [
        {
            "fieldId": "summary",
            "name": "Summary",
            "required": True,
            "schema": {"type": "string", "system": "summary"},
            "operations": ["set"],
        },
        {
            "fieldId": "customfield_10050",
            "name": "Severity",
            "required": True,
            "hasDefaultValue": False,
            "schema": {
                "type": "option",
                "custom": "com.atlassian.jira.plugin.system.customfieldtypes:select",
            },
            "allowedValues": [{"id": "1", "value": "High"}],
            "operations": ["set"],
        },
    ],
}


def _answers(flavour: str) -> list[tuple[str, str, Callable[[httpx.Request], httpx.Response]]]:
    def js(data: Any, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
        return lambda _request: httpx.Response(status, json=data)

    server = load_json("jira-cli/serverinfo.json")
    if flavour == "datacenter":
        server = server | {"deploymentType": "Server", "version": "10.3.24"}
    comments = load_pydict("atlassian-python-api/rest_api_2_issue_FOO-123_comment_GET.pydict")[None]
    created_link = next(
        iter(
            load_pydict(
                "atlassian-python-api/rest_api_2_issue_FOO-123_remotelink_POST.pydict"
            ).values()
        )
    )
    search = load_json("jira-cli/search.json")
    if flavour == "datacenter":
        search = {
            "startAt": 0,
            "maxResults": 50,
            "total": len(search["issues"]),
            "issues": search["issues"],
        }
    return [
        ("GET", r"/serverInfo$", js(server)),
        ("GET", r"/myself$", js(load_json("jira-cli/myself.json"))),
        (
            "GET",
            r"/mypermissions$",
            js(
                {
                    "permissions": {
                        "CREATE_ISSUES": {
                            "id": "11",
                            "key": "CREATE_ISSUES",
                            "havePermission": True,
                        }
                    }
                }
            ),
        ),
        ("GET", r"/project/[^/]+$", js(load_json("go-jira/project.json"))),
        ("GET", r"/issuetype/project$", js([{"id": "1", "name": "Bug"}])),
        ("GET", r"/createmeta/[^/]+/issuetypes$", js(load_json("jira-cli/createmetav9.json"))),
        ("GET", r"/createmeta/[^/]+/issuetypes/[^/]+$", js(FIELDS_PAGE)),
        ("POST", r"/issue$", js(load_json("jira-cli/create.json"), 201)),
        (
            "POST",
            r"/issue/bulk$",
            js({"issues": [load_json("jira-cli/create.json")], "errors": []}, 201),
        ),
        ("GET", r"/issue/[^/]+$", js(load_json("jira-cli/issue.json") | {"id": "10057"})),
        ("PUT", r"/issue/[^/]+$", js(None, 204)),
        ("GET", r"/transitions$", js(load_json("go-jira/transitions.json"))),
        ("POST", r"/transitions$", js(None, 204)),
        ("PUT", r"/assignee$", js(None, 204)),
        ("GET", r"/comment$", js(comments)),
        ("POST", r"/comment$", js(comments["comments"][0], 201)),
        ("POST", r"/attachments$", js([{"id": "1", "filename": "a.txt", "size": 1}])),
        ("GET", r"/properties/[^/]+$", js({"key": "k", "value": {"group": "g"}})),
        ("PUT", r"/properties/[^/]+$", js(None, 200)),
        ("GET", r"/remotelink$", js(load_json("go-jira/remote_links.json"))),
        ("POST", r"/remotelink$", js(created_link, 201)),
        ("GET", r"/user/(assignable/)?search$", js(load_json("jira-cli/users.json"))),
        ("GET", r"/versions$", js(load_json("jira-cli/releases.json"))),
        (
            "GET",
            r"/project/[^/]+/statuses$",
            js(
                [{"id": "1", "name": "Bug", "statuses": load_json("go-jira/all_statuses.json")[:3]}]
            ),
        ),
        ("GET", r"/status$", js(load_json("go-jira/all_statuses.json"))),
        ("GET", r"/statuscategory$", js(load_json("go-jira/all_statuscategories.json"))),
        ("POST", r"/search(/jql)?$", js(search)),
        ("POST", r"/webhook$", js({"webhookRegistrationResult": [{"createdWebhookId": 1000}]})),
    ]


async def _exercise(client: JiraClient) -> dict[str, Any]:
    """Call every method once; return what they answered."""
    v3 = client.config.api_version == 3
    out: dict[str, Any] = {}
    out["server_info"] = await client.server_info()
    out["myself"] = await client.myself()
    out["permissions"] = await client.my_permissions("CRASH", ["CREATE_ISSUES", "EDIT_ISSUES"])
    out["project"] = await client.project("CRASH")
    out["issue_types"] = await client.issue_types_for_project("CRASH")
    out["createmeta_types"] = await client.createmeta_issue_types("CRASH")
    out["createmeta_fields"] = await client.createmeta_fields("CRASH", "10004")
    fields = {
        "project": {"key": "CRASH"},
        "issuetype": {"name": "Bug"},
        "summary": "boom",
        "description": ADF if v3 else "h1. boom",
        "labels": ["syncengine"],
        "customfield_10050": {"value": "High"},
    }
    out["created"] = await client.create_issue(
        fields, properties={"syncengine.group": {"id": "g-1"}}
    )
    out["bulk"] = await client.bulk_create(
        [NewIssue(fields=fields, properties={"syncengine.group": {"id": "g-2"}})]
    )
    out["issue"] = await client.get_issue(
        "TEST-3", fields=["summary", "status"], properties=["syncengine.group"]
    )
    await client.edit_issue(
        "TEST-3",
        fields={"fixVersions": [{"name": "2.4.0"}]},
        update={"labels": [{"add": "regression"}]},
        notify=False,
    )
    out["transitions"] = await client.transitions("TEST-3")
    await client.transition_issue("TEST-3", "21", fields={"resolution": {"name": "Done"}})
    await client.assign_issue("TEST-3", "5b10ac8d82e05b22cc7d4ef5" if v3 else "jdoe")
    await client.assign_issue("TEST-3", None)
    out["comment"] = await client.add_comment("TEST-3", ADF if v3 else "Regressed in *2.4.0*")
    out["comments"] = await client.comments("TEST-3")
    out["attachments"] = await client.add_attachment("TEST-3", "a.txt", b"x", "text/plain")
    out["property"] = await client.get_issue_property("TEST-3", "syncengine.group")
    await client.set_issue_property("TEST-3", "syncengine.group", {"id": "g-1"})
    out["links"] = await client.remote_links("TEST-3")
    out["link_id"] = await client.create_remote_link(
        "TEST-3",
        url="https://se/g/1",
        title="Group 1",
        global_id="syncengine:g-1",
        summary="crash group",
    )
    out["users"] = await client.search_users("jane@domain.tld")
    out["assignable"] = await client.search_assignable_users("CRASH", "jane")
    out["versions"] = await client.project_versions("CRASH")
    out["statuses"] = await client.statuses()
    out["project_statuses"] = await client.project_statuses("CRASH")
    out["categories"] = await client.status_categories()
    out["search"] = await client.search_page(
        "project = CRASH ORDER BY updated",
        fields=["summary", "status"],
        properties=["syncengine.group"],
    )
    if await client.flavour() == "cloud":
        out["webhook"] = await client.register_webhook(
            "https://se/wh", events=["jira:issue_updated"], jql="project = CRASH"
        )
    return out


@pytest.fixture(params=["cloud", "datacenter"])
async def exercised(
    request: pytest.FixtureRequest, fake_time: FakeTime
) -> tuple[str, list[httpx.Request], dict[str, Any]]:
    flavour = request.param
    answers = _answers(flavour)
    seen: list[httpx.Request] = []

    def handle(http_request: httpx.Request) -> httpx.Response:
        seen.append(http_request)
        for method, pattern, answer in answers:
            if http_request.method == method and re.search(pattern, http_request.url.path):
                return answer(http_request)
        return httpx.Response(
            404, json={"errorMessages": [f"no fixture for {http_request.url.path}"]}
        )

    config = make_config(
        deployment="auto",
        api_version=3 if flavour == "cloud" else 2,
        site="https://demo.atlassian.net"
        if flavour == "cloud"
        else "https://jira.corp.example/jira",
    )
    client = JiraClient.open(
        config, transport=httpx.MockTransport(handle), sleep=fake_time.sleep, clock=fake_time.clock
    )
    try:
        out = await _exercise(client)
    finally:
        await client.aclose()
    return flavour, seen, out


async def test_every_request_matches_the_spec(
    exercised: tuple[str, list[httpx.Request], dict[str, Any]],
) -> None:
    flavour, seen, _ = exercised
    spec = SPECS[flavour]
    used: set[str] = set()
    for request in seen:
        path = request.url.path.removeprefix("/jira")
        if flavour == "cloud":
            path = path.replace("/rest/api/2/serverInfo", "/rest/api/3/serverInfo")
        key = _operation(flavour, request.method, path)
        used.add(key)
        operation = spec["operations"][key]
        declared = set(operation["query"]) | DOCUMENTED_PARAMS.get((flavour, key), set())
        undeclared = set(request.url.params) - declared
        assert not undeclared, f"{key}: query parameters {undeclared} are not in the spec"
        content_type = request.headers.get("content-type", "")
        if "body_schema" in operation and (flavour, key) not in SPEC_DEFECTS:
            assert content_type == "application/json", key
            body = json.loads(request.content)
            if (
                key.endswith("/assignee")
                and tuple(body) in DOCUMENTED_NULLS
                and None in body.values()
            ):
                continue
            schema = _nullable(operation["body_schema"]) | {"components": _patched(flavour)}
            jsonschema.validate(body, schema)
        elif operation["content_types"]:
            assert content_type.split(";")[0] in operation["content_types"], key
    expected = set(spec["operations"]) - {
        k.replace("/api/3/", "/api/2/") for k in NOT_ON.get(flavour, set())
    }
    assert used == expected, f"operations never exercised: {expected - used}"


async def test_recorded_answers_parse_into_values(
    exercised: tuple[str, list[httpx.Request], dict[str, Any]],
) -> None:
    flavour, _, out = exercised
    assert out["server_info"].flavour == flavour
    assert out["myself"].email == "user@test.com"
    assert out["permissions"] == {"CREATE_ISSUES": True, "EDIT_ISSUES": False}
    assert out["project"].key == "ABDERA"
    assert out["project"].issue_types
    assert [t.name for t in out["createmeta_types"]][:2] == ["Epic", "Task"]
    assert [f.id for f in out["createmeta_fields"] if f.required] == [
        "summary",
        "customfield_10050",
    ]
    assert out["created"].key == "TEST-3"
    assert out["bulk"].created[0].key == "TEST-3"
    issue = out["issue"]
    assert issue.key == "TEST-1"
    assert issue.status.name == "To Do"
    assert out["transitions"][0].to_status.category_key == "in-flight"
    assert out["comment"].author.display_name
    assert len(out["comments"]) == 2
    assert out["attachments"][0].filename == "a.txt"
    assert out["property"] == {"group": "g"}
    assert out["links"][0].global_id == "system=http://www.mycompany.com/support&id=1"
    assert out["link_id"] == 10000
    assert out["users"][0].account_id == "5fb82376aca10c006949f35b"
    assert [v.name for v in out["versions"]][:1] == ["First"]
    assert out["versions"][0].released
    assert len(out["statuses"]) == 37
    assert out["statuses"][0].category_key
    assert {c.key for c in out["categories"]} == {"undefined", "new", "indeterminate", "done"}
    assert [i.key for i in out["search"].issues][:2] == ["TEST-1", "TEST-2"]
    assert out["search"].next_cursor is None
    if flavour == "cloud":
        assert out["webhook"].ids == ("1000",)
