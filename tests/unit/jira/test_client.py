"""Each client method sends the right request and returns typed values (HTTP via respx)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
import respx

from syncengine.jira import NewIssue
from syncengine.jira.errors import (
    JiraBulkOutcomeUnknown,
    JiraError,
    JiraNotFound,
    JiraOutcomeUnknown,
    JiraPermanentError,
    JiraPermissionError,
    JiraUnavailable,
    JiraUnexpectedResponse,
)

from .conftest import SITE, TOKEN, ClientFactory, FakeTime

API3 = f"{SITE}/rest/api/3"
DC = "https://jira.corp.example/jira"
DC_API = f"{DC}/rest/api/2"


def _body(route: respx.Route, n: int = -1) -> object:
    return json.loads(route.calls[n].request.content)


async def test_basic_auth_and_headers(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(f"{API3}/myself").mock(
        return_value=httpx.Response(
            200, json={"accountId": "5b10", "emailAddress": "bot@example.com", "displayName": "Bot"}
        )
    )
    me = await client_factory().myself()
    assert me.account_id == "5b10"
    assert me.identifier == "5b10"
    request = route.calls[0].request
    assert (
        request.headers["Authorization"] == httpx.BasicAuth("bot@example.com", TOKEN)._auth_header
    )
    assert request.headers["Accept"] == "application/json"


async def test_bearer_auth(client_factory: ClientFactory, respx_mock: respx.MockRouter) -> None:
    route = respx_mock.get(f"{DC_API}/myself").mock(
        return_value=httpx.Response(200, json={"name": "bot"})
    )
    client = client_factory(site=DC, deployment="datacenter", api_version=2, auth="bearer", user="")
    assert (await client.myself()).identifier == "bot"
    assert route.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


async def test_flavour_comes_from_server_info_once(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    info = respx_mock.get(f"{DC}/rest/api/2/serverInfo").mock(
        return_value=httpx.Response(
            200, json={"deploymentType": "Server", "version": "9.4.0", "baseUrl": DC}
        )
    )
    search = respx_mock.post(f"{DC_API}/search").mock(
        return_value=httpx.Response(
            200, json={"startAt": 0, "maxResults": 2, "total": 0, "issues": []}
        )
    )
    client = client_factory(site=DC, deployment="auto", api_version=2)
    assert await client.flavour() == "datacenter"
    await client.search_page("project = CRASH")
    await client.search_page("project = CRASH")
    assert info.call_count == 1
    assert search.call_count == 2


async def test_v3_against_data_center_is_a_clear_error(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(f"{SITE}/rest/api/2/serverInfo").mock(
        return_value=httpx.Response(200, json={"deploymentType": "DataCenter"})
    )
    client = client_factory(deployment="auto", api_version=3)
    with pytest.raises(JiraPermanentError, match="no REST v3"):
        await client.flavour()


async def test_create_issue_v3_wraps_text_as_adf_and_sets_identity_property(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{API3}/issue").mock(
        return_value=httpx.Response(201, json={"id": "10057", "key": "CRASH-3", "self": "x"})
    )
    created = await client_factory().create_issue(
        {
            "project": {"key": "CRASH"},
            "issuetype": {"name": "Bug"},
            "summary": "boom",
            "description": "line 1\nline 2\n\npara 2",
            "labels": ["syncengine"],
        },
        properties={"syncengine.group": {"id": "g-1"}},
    )
    assert (created.id, created.key) == ("10057", "CRASH-3")
    body = _body(route)
    assert body["fields"]["description"] == {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "line 1"},
                    {"type": "hardBreak"},
                    {"type": "text", "text": "line 2"},
                ],
            },
            {"type": "paragraph", "content": [{"type": "text", "text": "para 2"}]},
        ],
    }
    assert body["properties"] == [{"key": "syncengine.group", "value": {"id": "g-1"}}]


async def test_create_issue_v3_passes_a_prebuilt_adf_document(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{API3}/issue").mock(
        return_value=httpx.Response(201, json={"id": "1", "key": "C-1"})
    )
    doc = {
        "type": "doc",
        "version": 1,
        "content": [{"type": "codeBlock", "content": [{"type": "text", "text": "at main()"}]}],
    }
    await client_factory().create_issue({"project": {"key": "C"}, "description": doc})
    assert _body(route)["fields"]["description"] == doc


async def test_create_issue_v2_sends_strings_and_refuses_adf(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{SITE}/rest/api/2/issue").mock(
        return_value=httpx.Response(201, json={"id": "1", "key": "C-1"})
    )
    client = client_factory(api_version=2)
    await client.create_issue({"project": {"key": "C"}, "description": "h1. Crash\n{code}x{code}"})
    assert _body(route)["fields"]["description"] == "h1. Crash\n{code}x{code}"
    with pytest.raises(ValueError, match="api_version = 3"):
        await client.create_issue(
            {"project": {"key": "C"}, "description": {"type": "doc", "version": 1, "content": []}}
        )
    assert route.call_count == 1


async def test_create_timeout_after_sending_is_outcome_unknown_not_retried(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{API3}/issue").mock(side_effect=httpx.ReadTimeout("read timed out"))
    with pytest.raises(JiraOutcomeUnknown) as caught:
        await client_factory().create_issue({"project": {"key": "CRASH"}})
    assert route.call_count == 1
    assert caught.value.transient


async def test_create_connection_reset_after_sending_is_outcome_unknown(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{API3}/issue").mock(
        side_effect=httpx.RemoteProtocolError("peer closed")
    )
    with pytest.raises(JiraOutcomeUnknown):
        await client_factory().create_issue({"project": {"key": "CRASH"}})
    assert route.call_count == 1


async def test_create_connect_error_is_retried_because_nothing_was_sent(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{API3}/issue").mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.Response(201, json={"id": "1", "key": "C-1"}),
        ]
    )
    assert (await client_factory().create_issue({"project": {"key": "C"}})).key == "C-1"
    assert route.call_count == 2


async def test_get_is_retried_after_timeouts_then_gives_up(
    client_factory: ClientFactory, respx_mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    route = respx_mock.get(f"{API3}/issue/C-1").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(JiraUnavailable, match="timed out"):
        await client_factory(max_retries=3).get_issue("C-1")
    assert route.call_count == 4
    assert len(fake_time.sleeps) == 3


async def test_bulk_create_chunks_by_50_and_maps_failures_to_input_indices(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        updates = json.loads(request.content)["issueUpdates"]
        issues, errors = [], []
        for n, update in enumerate(updates):
            if update["fields"]["summary"].endswith("7"):
                errors.append(
                    {
                        "status": 400,
                        "failedElementNumber": n,
                        "elementErrors": {"errorMessages": [], "errors": {"summary": "too lucky"}},
                    }
                )
            else:
                issues.append({"id": str(1000 + n), "key": f"C-{update['fields']['summary']}"})
        return httpx.Response(201 if issues else 400, json={"issues": issues, "errors": errors})

    route = respx_mock.post(f"{API3}/issue/bulk").mock(side_effect=answer)
    issues = [NewIssue(fields={"project": {"key": "C"}, "summary": str(n)}) for n in range(120)]
    result = await client_factory().bulk_create(issues)
    assert [len(json.loads(c.request.content)["issueUpdates"]) for c in route.calls] == [50, 50, 20]
    failed = {f.index for f in result.failed}
    assert failed == {n for n in range(120) if str(n).endswith("7")}
    assert result.failed[0].field_errors == {"summary": "too lucky"}
    assert set(result.created) == set(range(120)) - failed
    assert result.created[51].key == "C-51"


async def test_bulk_create_lost_chunk_reports_what_is_known(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    ok = {"issues": [{"id": str(n), "key": f"C-{n}"} for n in range(50)], "errors": []}
    route = respx_mock.post(f"{API3}/issue/bulk").mock(
        side_effect=[httpx.Response(201, json=ok), httpx.ReadTimeout("lost")]
    )
    issues = [NewIssue(fields={"project": {"key": "C"}, "summary": str(n)}) for n in range(70)]
    with pytest.raises(JiraBulkOutcomeUnknown) as caught:
        await client_factory().bulk_create(issues)
    assert route.call_count == 2
    assert sorted(caught.value.partial.created) == list(range(50))
    assert caught.value.unknown == range(50, 70)


async def test_bulk_create_all_failed_is_a_result_not_an_exception(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(f"{API3}/issue/bulk").mock(
        return_value=httpx.Response(
            400,
            json={
                "issues": [],
                "errors": [
                    {
                        "status": 400,
                        "failedElementNumber": 0,
                        "elementErrors": {
                            "errors": {"issuetype": "The issue type selected is invalid."}
                        },
                    }
                ],
            },
        )
    )
    result = await client_factory().bulk_create([NewIssue(fields={"project": {"key": "C"}})])
    assert not result.created
    assert result.failed[0].index == 0
    assert result.failed[0].status == 400


async def test_get_issue_parses_the_fields_the_engine_needs(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(f"{API3}/issue/CRASH-1").mock(
        return_value=httpx.Response(
            200,
            json={
                "id": "10001",
                "key": "CRASH-1",
                "fields": {
                    "summary": "boom",
                    "status": {
                        "id": "3",
                        "name": "In Progress",
                        "statusCategory": {"id": 4, "key": "indeterminate"},
                    },
                    "assignee": {
                        "accountId": "a-1",
                        "emailAddress": "dev@example.com",
                        "displayName": "Dev",
                    },
                    "resolution": {"name": "Fixed"},
                    "fixVersions": [{"id": "1", "name": "2.3.0"}, {"id": "2", "name": "2.4.0"}],
                    "labels": ["syncengine", "sg-123"],
                    "updated": "2026-01-02T10:00:00.000+0100",
                    "project": {"key": "CRASH"},
                    "issuetype": {"name": "Bug"},
                },
                "properties": {"syncengine.group": {"id": "g"}},
            },
        )
    )
    issue = await client_factory().get_issue(
        "CRASH-1", fields=["summary", "status"], properties=["syncengine.group"]
    )
    assert route.calls[0].request.url.params["fields"] == "summary,status"
    assert route.calls[0].request.url.params["properties"] == "syncengine.group"
    assert issue.status is not None
    assert (
        issue.status.id,
        issue.status.name,
        issue.status.category_key,
    ) == ("3", "In Progress", "indeterminate")
    assert issue.assignee is not None
    assert (issue.assignee.account_id, issue.assignee.email) == (
        "a-1",
        "dev@example.com",
    )
    assert issue.resolution == "Fixed"
    assert issue.fix_versions == ("2.3.0", "2.4.0")
    assert issue.labels == ("syncengine", "sg-123")
    assert issue.updated == datetime(2026, 1, 2, 9, 0, tzinfo=UTC)
    assert issue.updated is not None
    assert issue.updated.utcoffset() == timedelta(hours=1)
    assert issue.properties == {"syncengine.group": {"id": "g"}}


async def test_get_issue_404_names_the_issue(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(f"{API3}/issue/CRASH-9").mock(
        return_value=httpx.Response(
            404,
            json={
                "errorMessages": ["Issue does not exist or you do not have permission to see it."],
                "errors": {},
            },
        )
    )
    with pytest.raises(JiraNotFound, match="Issue CRASH-9 does not exist"):
        await client_factory().get_issue("CRASH-9")


async def test_edit_transition_assign_comment(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    edit = respx_mock.put(f"{API3}/issue/C-1").mock(return_value=httpx.Response(204))
    trans = respx_mock.post(f"{API3}/issue/C-1/transitions").mock(return_value=httpx.Response(204))
    assign = respx_mock.put(f"{API3}/issue/C-1/assignee").mock(return_value=httpx.Response(204))
    comment = respx_mock.post(f"{API3}/issue/C-1/comment").mock(
        return_value=httpx.Response(
            201,
            json={
                "id": "100",
                "body": {
                    "type": "doc",
                    "version": 1,
                    "content": [
                        {
                            "type": "paragraph",
                            "content": [{"type": "text", "text": "Regressed in 2.4.0"}],
                        }
                    ],
                },
                "created": "2026-01-02T10:00:00.000+0000",
            },
        )
    )
    client = client_factory()
    await client.edit_issue(
        "C-1",
        fields={"fixVersions": [{"name": "2.4.0"}]},
        update={"labels": [{"add": "regression"}]},
        notify=False,
    )
    assert _body(edit) == {
        "fields": {"fixVersions": [{"name": "2.4.0"}]},
        "update": {"labels": [{"add": "regression"}]},
    }
    assert edit.calls[0].request.url.params["notifyUsers"] == "false"
    await client.transition_issue("C-1", "31", fields={"resolution": {"name": "Done"}})
    assert _body(trans) == {"transition": {"id": "31"}, "fields": {"resolution": {"name": "Done"}}}
    await client.assign_issue("C-1", "a-1")
    await client.assign_issue("C-1", None)
    assert [_body(assign, n) for n in range(2)] == [{"accountId": "a-1"}, {"accountId": None}]
    made = await client.add_comment("C-1", "Regressed in 2.4.0")
    assert made.text == "Regressed in 2.4.0"
    assert made.id == "100"
    assert _body(comment)["body"]["type"] == "doc"


async def test_assign_on_data_center_uses_the_user_name(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    assign = respx_mock.put(f"{DC_API}/issue/C-1/assignee").mock(return_value=httpx.Response(204))
    await client_factory(site=DC, deployment="datacenter", api_version=2).assign_issue(
        "C-1", "jdoe"
    )
    assert _body(assign) == {"name": "jdoe"}


async def test_transitions_expand_fields(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(f"{API3}/issue/C-1/transitions").mock(
        return_value=httpx.Response(
            200,
            json={
                "transitions": [
                    {
                        "id": "31",
                        "name": "Done",
                        "to": {"id": "10002", "name": "Done", "statusCategory": {"key": "done"}},
                        "fields": {"resolution": {"required": True, "name": "Resolution"}},
                    }
                ]
            },
        )
    )
    (done,) = await client_factory().transitions("C-1")
    assert route.calls[0].request.url.params["expand"] == "transitions.fields"
    assert done.required_fields == ("resolution",)
    assert done.to_status is not None
    assert done.to_status.category_key == "done"


async def test_comments_are_read_page_after_page(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    def page(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params["startAt"])
        items = [{"id": str(n), "body": f"c{n}"} for n in range(start, min(start + 100, 230))]
        return httpx.Response(
            200, json={"startAt": start, "maxResults": 100, "total": 230, "comments": items}
        )

    route = respx_mock.get(f"{API3}/issue/C-1/comment").mock(side_effect=page)
    comments = await client_factory().comments("C-1")
    assert [c.id for c in comments] == [str(n) for n in range(230)]
    assert route.call_count == 3


async def test_attachment_is_multipart_with_the_xsrf_header(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{API3}/issue/C-1/attachments").mock(
        return_value=httpx.Response(
            200,
            json=[
                {
                    "id": "7",
                    "filename": "minidump.dmp",
                    "size": 4,
                    "mimeType": "application/octet-stream",
                }
            ],
        )
    )
    (stored,) = await client_factory().add_attachment("C-1", "minidump.dmp", b"MDMP")
    request = route.calls[0].request
    assert request.headers["X-Atlassian-Token"] == "no-check"
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'name="file"; filename="minidump.dmp"' in request.content
    assert b"MDMP" in request.content
    assert stored.filename == "minidump.dmp"


async def test_issue_properties(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    url = f"{API3}/issue/C-1/properties/syncengine.group"
    respx_mock.get(url).mock(
        side_effect=[
            httpx.Response(200, json={"key": "syncengine.group", "value": {"id": "g-1"}}),
            httpx.Response(
                404,
                json={
                    "errorMessages": ["The property with key 'syncengine.group' does not exist."]
                },
            ),
            httpx.Response(
                404,
                json={
                    "errorMessages": [
                        "Issue does not exist or you do not have permission to see it."
                    ]
                },
            ),
        ]
    )
    put = respx_mock.put(url).mock(return_value=httpx.Response(200))
    client = client_factory()
    assert await client.get_issue_property("C-1", "syncengine.group") == {"id": "g-1"}
    assert await client.get_issue_property("C-1", "syncengine.group") is None
    with pytest.raises(JiraNotFound, match="Issue C-1"):
        await client.get_issue_property("C-1", "syncengine.group")
    await client.set_issue_property("C-1", "syncengine.group", {"id": "g-2"})
    assert _body(put) == {"id": "g-2"}


async def test_remote_links(client_factory: ClientFactory, respx_mock: respx.MockRouter) -> None:
    post = respx_mock.post(f"{API3}/issue/C-1/remotelink").mock(
        side_effect=[
            httpx.ReadTimeout("slow"),
            httpx.Response(201, json={"id": 10000, "self": "x"}),
        ]
    )
    respx_mock.get(f"{API3}/issue/C-1/remotelink").mock(
        return_value=httpx.Response(
            200,
            json=[
                {
                    "id": 10000,
                    "globalId": "syncengine:g-1",
                    "object": {"url": "https://se/g/1", "title": "Group 1"},
                }
            ],
        )
    )
    client = client_factory()
    # With a globalId Jira updates in place, so a lost answer may be retried.
    assert (
        await client.create_remote_link(
            "C-1", url="https://se/g/1", title="Group 1", global_id="syncengine:g-1"
        )
        == 10000
    )
    assert post.call_count == 2
    assert _body(post) == {
        "object": {"url": "https://se/g/1", "title": "Group 1"},
        "globalId": "syncengine:g-1",
    }
    (link,) = await client.remote_links("C-1")
    assert (link.id, link.url, link.global_id) == (10000, "https://se/g/1", "syncengine:g-1")


async def test_user_search_parameter_follows_the_flavour(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    cloud = respx_mock.get(f"{API3}/user/search").mock(
        return_value=httpx.Response(200, json=[{"accountId": "a"}])
    )
    dc = respx_mock.get(f"{DC_API}/user/assignable/search").mock(
        return_value=httpx.Response(200, json=[{"name": "jdoe"}])
    )
    await client_factory().search_users("dev@example.com")
    assert cloud.calls[0].request.url.params["query"] == "dev@example.com"
    (user,) = await client_factory(
        site=DC, deployment="datacenter", api_version=2
    ).search_assignable_users("CRASH", "jdoe")
    assert dc.calls[0].request.url.params["username"] == "jdoe"
    assert dc.calls[0].request.url.params["project"] == "CRASH"
    assert user.identifier == "jdoe"


async def test_cloud_search_pages_with_next_page_token(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    def page(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        token = body.get("nextPageToken")
        n = 0 if token is None else int(token)
        issues = [{"id": str(i), "key": f"C-{i}", "fields": {}} for i in range(n, n + 2)]
        answer: dict[str, object] = {"issues": issues, "isLast": n >= 2}
        if n < 2:
            answer["nextPageToken"] = str(n + 2)
        return httpx.Response(200, json=answer)

    route = respx_mock.post(f"{API3}/search/jql").mock(side_effect=page)
    keys = [
        i.key
        async for i in client_factory().search("project = C", fields=["status"], page_size=500)
    ]
    assert keys == ["C-0", "C-1", "C-2", "C-3"]
    first = _body(route, 0)
    assert first == {"jql": "project = C", "fields": ["status"], "maxResults": 100}
    assert _body(route, 1)["nextPageToken"] == "2"


async def test_data_center_search_pages_with_start_at(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    def page(request: httpx.Request) -> httpx.Response:
        start = json.loads(request.content)["startAt"]
        issues = [
            {"id": str(i), "key": f"C-{i}", "fields": {}} for i in range(start, min(start + 2, 5))
        ]
        return httpx.Response(
            200, json={"startAt": start, "maxResults": 2, "total": 5, "issues": issues}
        )

    route = respx_mock.post(f"{DC_API}/search").mock(side_effect=page)
    client = client_factory(site=DC, deployment="datacenter", api_version=2)
    keys = [i.key async for i in client.search("project = C", page_size=2)]
    assert keys == [f"C-{i}" for i in range(5)]
    assert [_body(route, n)["startAt"] for n in range(3)] == [0, 2, 4]


async def test_cloud_webhook_refusal_says_how_to_register_by_hand(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(f"{API3}/webhook").mock(
        return_value=httpx.Response(
            403, json={"errorMessages": ["Only Connect and OAuth 2.0 apps can use this operation."]}
        )
    )
    with pytest.raises(JiraPermissionError) as caught:
        await client_factory().register_webhook(
            "https://se.example/jira/webhook", events=["jira:issue_updated"], jql="project = CRASH"
        )
    assert "System → WebHooks" in caught.value.user_message()
    assert "https://se.example/jira/webhook" in caught.value.user_message()


async def test_data_center_webhook_registration(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{DC}/rest/webhooks/1.0/webhook").mock(
        return_value=httpx.Response(
            201, json={"name": "syncengine", "self": f"{DC}/rest/webhooks/1.0/webhook/7"}
        )
    )
    client = client_factory(site=DC, deployment="datacenter", api_version=2)
    registered = await client.register_webhook(
        "https://se/wh", events=["jira:issue_updated"], jql="project = CRASH"
    )
    assert registered.ids == ("7",)  # the id, to remove or list it by later
    assert _body(route) == {
        "name": "syncengine",
        "url": "https://se/wh",
        "events": ["jira:issue_updated"],
        "excludeBody": False,
        "filters": {"issue-related-events-section": "project = CRASH"},
    }


async def test_an_html_answer_where_json_belongs_is_explained(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(f"{API3}/myself").mock(
        return_value=httpx.Response(
            200, text="<html>Log in</html>", headers={"content-type": "text/html"}
        )
    )
    with pytest.raises(JiraUnexpectedResponse, match="text/html, not JSON"):
        await client_factory().myself()


async def test_the_token_never_reaches_errors_or_logs(
    client_factory: ClientFactory, respx_mock: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # A hostile or buggy proxy echoing the Authorization header back in its error body.
    respx_mock.get(f"{API3}/myself").mock(
        side_effect=lambda request: httpx.Response(
            401, text=f"denied for {request.headers['Authorization']} token {TOKEN}"
        )
    )
    respx_mock.get(f"{API3}/issue/C-1").mock(
        side_effect=httpx.ConnectError(f"cannot connect with {TOKEN}")
    )
    client = client_factory(max_retries=1)
    errors: list[JiraError] = []
    for call in (client.myself(), client.get_issue("C-1")):
        with pytest.raises(JiraError) as caught:
            await call
        errors.append(caught.value)
    assert caplog.records, "the client logs its requests"
    for error in errors:
        for shown in (str(error), repr(error), error.user_message(), repr(error.args)):
            assert TOKEN not in shown
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
    basic = httpx.BasicAuth("bot@example.com", TOKEN)._auth_header.split()[1]
    assert basic not in errors[0].user_message()
    assert TOKEN not in repr(client.config)
    assert TOKEN not in str(client.config)


async def test_dates_keep_their_offset(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(f"{API3}/issue/C-1").mock(
        return_value=httpx.Response(
            200,
            json={"id": "1", "key": "C-1", "fields": {"updated": "2020-12-03T14:05:20.974-0500"}},
        )
    )
    issue = await client_factory().get_issue("C-1")
    assert issue.updated == datetime(
        2020, 12, 3, 14, 5, 20, 974000, tzinfo=timezone(timedelta(hours=-5))
    )


async def test_a_redirect_is_explained_not_followed(
    client_factory: ClientFactory, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(f"{API3}/myself").mock(
        return_value=httpx.Response(302, headers={"Location": "https://sso.example/login"})
    )
    with pytest.raises(JiraPermanentError) as caught:
        await client_factory().myself()
    assert route.call_count == 1
    assert "https://sso.example/login" in str(caught.value)
    assert "SSO proxy" in caught.value.user_message()


def test_page_sizes_follow_jira_limits() -> None:
    from syncengine.jira.search import SearchRequest

    assert SearchRequest(jql="x", page_size=500).body("cloud", None)["maxResults"] == 100
    ids = SearchRequest(jql="x", fields=("id", "key"), page_size=9000).body("cloud", "t")
    assert (ids["maxResults"], ids["nextPageToken"]) == (5000, "t")
    dc = SearchRequest(jql="x", page_size=5000).body("datacenter", "200")
    assert (dc["maxResults"], dc["startAt"]) == (1000, 200)
