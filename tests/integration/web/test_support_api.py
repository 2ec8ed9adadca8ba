"""The JSON API: token and session access, multipart create, problems, OpenAPI."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.web.conftest import ADMIN_TOKEN, Web, sign_in

TOKEN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
BASE = "/api/v1/projects/api/support-requests"


def _form(**extra: str) -> dict[str, str]:
    return {"label": "Question", "summary": "How to page?", "description": "Docs unclear.", **extra}


async def test_token_creates_lists_gets_and_downloads(web: Web) -> None:
    async with web.client() as client:
        created = await client.post(
            BASE,
            headers=TOKEN,
            data=_form(reporter="carol", endpoint="/accounts/v2"),
            files=[("attachments", ("shot.png", b"\x89PNG....", "image/png"))],
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["reporter"] == "carol"
        assert body["status"] == "not sent"
        assert body["jira_issue_key"] is None
        [attachment] = body["attachments"]
        assert attachment["in_jira"] is False

        await web.container.worker.drain()
        got = (await client.get(f"{BASE}/{body['id']}", headers=TOKEN)).json()
        assert got["jira_issue_key"] == "SUP-1"
        assert got["status"] == "To Do"
        assert got["attachments"][0]["in_jira"] is True
        download = await client.get(attachment["download_url"], headers=TOKEN)
        assert download.content == b"\x89PNG...."

        listed = (await client.get(BASE, headers=TOKEN, params={"q": "SUP-1"})).json()
        assert listed["total"] == 1
        assert listed["items"][0]["endpoint"] == "/accounts/v2"


async def test_bad_input_answers_400_with_problems(web: Web) -> None:
    async with web.client() as client:
        answer = await client.post(BASE, headers=TOKEN, data=_form(label="Rant", endpoint="x"))
        assert answer.status_code == 400
        problems = answer.json()["problems"]
        assert set(problems) == {"label", "endpoint"}
        assert (await client.post(BASE, headers=TOKEN, data={"label": "Bug"})).status_code == 422


async def test_api_needs_token_or_session_and_session_needs_csrf(web: Web) -> None:
    async with web.client() as client:
        assert (await client.get(BASE)).status_code == 401
        wrong = await client.get(BASE, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        csrf = await sign_in(client, "alice")
        assert (await client.get(BASE)).status_code == 200
        assert (await client.post(BASE, data=_form())).status_code == 403
        filed = await client.post(BASE, data=_form(), headers={"X-CSRF-Token": csrf})
        assert filed.status_code == 201
        assert filed.json()["reporter"] == "alice"
        assert filed.json()["last_error"] is None
        on_behalf = await client.post(
            BASE, data=_form(reporter="bob"), headers={"X-CSRF-Token": csrf}
        )
        assert on_behalf.status_code == 403


async def test_integration_switch_api_is_audited(web: Web) -> None:
    async with web.client() as client:
        url = "/api/v1/projects/api/integration"
        assert (await client.get(url, headers=TOKEN)).json() == {"project": "api", "active": True}
        answer = await client.put(url, headers=TOKEN, json={"active": False})
        assert answer.json() == {"project": "api", "active": False}
        project = await web.container.projects.get("api")
        assert project is not None
        assert not project.integration_active
        from syncengine.store.audit import AuditRepository

        [entry] = await AuditRepository(web.container.db).recent(project_id=project.id)
        assert (entry.actor, entry.action) == ("api", "integration.deactivate")
        assert (
            await client.get("/api/v1/projects/nope/integration", headers=TOKEN)
        ).status_code == 404


async def test_openapi_describes_every_support_operation(web: Web) -> None:
    async with web.client() as client:
        spec: dict[str, Any] = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    collection = paths["/api/v1/projects/{project}/support-requests"]
    assert set(collection) == {"get", "post"}
    create = collection["post"]
    assert "multipart/form-data" in create["requestBody"]["content"]
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SupportRequestDetail"
    }
    for code in ("400", "401", "403", "404"):
        assert create["responses"][code]["content"]["application/problem+json"]["schema"] == {
            "$ref": "#/components/schemas/ProblemDetails"
        }
    item = paths["/api/v1/projects/{project}/support-requests/{request_id}"]["get"]
    assert item["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "SupportRequestDetail"
    )
    download = paths[
        "/api/v1/projects/{project}/support-requests/{request_id}/attachments/{attachment_id}"
    ]["get"]
    assert "application/octet-stream" in download["responses"]["200"]["content"]
    schemas = spec["components"]["schemas"]
    assert {"jira_issue_key", "status", "attachments", "comments"} <= set(
        schemas["SupportRequestDetail"]["properties"]
    )
    # Pages are not API: they stay out of the document.
    assert not any(p.startswith(("/login", "/projects/", "/admin")) for p in paths)


async def test_openapi_describes_every_request_body(web: Web) -> None:
    import jsonschema

    async with web.client() as client:
        spec: dict[str, Any] = (await client.get("/openapi.json")).json()
    writes = [
        (path, method, op)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if method in {"post", "put", "patch"}
    ]
    assert len(writes) >= 15
    undocumented = [f"{m.upper()} {p}" for p, m, op in writes if "requestBody" not in op]
    assert not undocumented
    reports = spec["paths"]["/api/v1/projects/{project}/reports"]["post"]["requestBody"]
    assert {"application/json", "application/x-ndjson"} <= set(reports["content"])
    schema = reports["content"]["application/json"]["schema"]
    report = {"classifier": "E", "frames": [{"function": "f", "line": 3}], "attributes": {}}
    jsonschema.validate(report, schema)
    jsonschema.validate([report, report], schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"clasifier": "typo"}, schema)  # unknown fields are refused
    webhook = spec["paths"]["/api/v1/jira/webhooks/{project}"]["post"]["requestBody"]
    assert "application/json" in webhook["content"]
    backtrace = spec["paths"]["/post"]["post"]["requestBody"]
    assert "upload_file" in backtrace["content"]["multipart/form-data"]["schema"]["properties"]
    assert "$defs" not in str(spec)  # every schema resolves inside the document


async def test_nul_in_a_field_is_400_naming_the_field_on_every_backend(web: Web) -> None:
    # SQLite stored NUL and PostgreSQL refused it with 500; now both answer 400.
    async with web.client() as client:
        answer = await client.post(
            BASE,
            headers=TOKEN,
            files=[
                ("label", (None, b"Question")),
                ("summary", (None, b"Paging \x00")),
                ("description", (None, b"Docs \x00 unclear.")),
                ("endpoint", (None, b"")),
            ],
        )
        assert answer.status_code == 400, answer.text
        problems = answer.json()["problems"]
        assert set(problems) == {"summary", "description"}
        assert "NUL" in problems["summary"]
        good = await client.post(BASE, headers=TOKEN, data=_form())
        assert good.status_code == 201


async def test_a_reply_through_the_api_is_kept_then_sent(web: Web) -> None:
    async with web.client() as client:
        csrf = await sign_in(client, "alice")
        filed = (await client.post(BASE, data=_form(), headers={"X-CSRF-Token": csrf})).json()
        url = f"{BASE}/{filed['id']}/comments"
        answer = await client.post(
            url, json={"body": "More detail."}, headers={"X-CSRF-Token": csrf}
        )
        assert answer.status_code == 201, answer.text
        assert answer.json()["pending"] is True
        assert answer.json()["author"] == "alice"
        assert (
            await client.post(url, json={"body": ""}, headers={"X-CSRF-Token": csrf})
        ).status_code == 422
        await web.container.worker.drain()
        got = (await client.get(f"{BASE}/{filed['id']}")).json()
        [comment] = got["comments"]
        assert (comment["from_portal"], comment["pending"], comment["body"]) == (
            True,
            False,
            "More detail.",
        )
        assert comment["id"]
