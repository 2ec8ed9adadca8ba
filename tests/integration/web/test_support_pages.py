"""The support pages through the real app: filing, lists, isolation, escaping, downloads."""

from __future__ import annotations

import re

import httpx

from tests.integration.web.conftest import Web, csrf_of, make_web, sign_in

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


async def _file(
    client: httpx.AsyncClient, csrf: str, summary: str = "Refunds fail", **extra: str
) -> httpx.Response:
    data = {
        "csrf_token": csrf,
        "label": "Bug",
        "summary": summary,
        "description": "It fails.",
        "category": "Payment",
        "api_product": "Payments API",
        "endpoint": "/payments/v1/refunds",
        **extra,
    }
    files = [("attachments", ("trace.txt", b"line 1\n", "text/plain"))]
    return await client.post("/projects/api/support", data=data, files=files)


async def test_portal_user_files_a_request_and_sees_it_sent(web: Web) -> None:
    async with web.client() as client:
        csrf = await sign_in(client, "alice")
        new = await client.get("/projects/api/support/new")
        assert new.status_code == 200
        assert "<option>Bug</option>" in new.text
        assert "<option>Payments API</option>" in new.text
        answer = await _file(client, csrf)
        assert answer.status_code == 303
        detail_url = answer.headers["location"]
        page = await client.get(detail_url)
        assert "not sent" in page.text
        assert "was filed" in page.text  # the flash message
        assert "trace.txt" in page.text

        await web.container.worker.drain()
        [issue] = web.jira.issues.values()
        assert issue.fields["customfield_10070"] == "Payment"
        page = await client.get(detail_url)
        assert issue.key in page.text
        assert "To Do" in page.text

        listing = await client.get("/projects/api/support")
        row = re.search(r"<tr>\s*<td class=\"key\">.*?</tr>", listing.text, re.S)
        assert row is not None
        for cell in (issue.key, "Refunds fail", "To Do", "Bug", "Payment", "Payments API"):
            assert cell in row.group(0)
        assert "/payments/v1/refunds" in row.group(0)


async def test_invalid_form_is_shown_again_with_field_messages(web: Web) -> None:
    async with web.client() as client:
        csrf = await sign_in(client, "alice")
        answer = await client.post(
            "/projects/api/support",
            data={"csrf_token": csrf, "label": "Bug", "summary": "Keep me", "endpoint": "no path"},
            files=[("attachments", ("big.txt", b"x" * 2001, "text/plain"))],
        )
        assert answer.status_code == 400
        assert "describe the request" in answer.text
        assert "URL path starting with" in answer.text
        assert "at most 2.0 KB" in answer.text
        assert 'value="Keep me"' in answer.text
        project = await web.container.projects.get("api")
        assert project is not None
        assert (await web.container.support.requests.page(project_id=project.id))[1] == 0


async def test_portal_users_see_only_their_own_requests(web: Web) -> None:
    async with web.client() as alice:
        csrf = await sign_in(alice, "alice")
        mine = (await _file(alice, csrf, summary="Alice secret")).headers["location"]
    attachment_path = None
    async with web.client() as alice:
        await sign_in(alice, "alice")
        page = await alice.get(mine)
        attachment_path = re.search(r'href="([^"]+/attachments/\d+)"', page.text).group(1)  # type: ignore[union-attr]
    async with web.client() as bob:
        await sign_in(bob, "bob")
        listing = await bob.get("/projects/api/support")
        assert "Alice secret" not in listing.text
        assert "No support requests yet" in listing.text
        assert (await bob.get(mine)).status_code == 404
        assert (await bob.get(attachment_path)).status_code == 404
        request_id = mine.rsplit("/", 1)[1]
        api = await bob.get(f"/api/v1/projects/api/support-requests/{request_id}")
        assert api.status_code == 404
        assert (await bob.get("/api/v1/projects/api/support-requests")).json()["total"] == 0
    async with web.client() as root:
        await sign_in(root, "root")
        assert "Alice secret" in (await root.get("/projects/api/support")).text
        assert (await root.get(mine)).status_code == 200


async def test_html_in_summary_description_and_comments_is_text(web: Web) -> None:
    async with web.client() as client:
        csrf = await sign_in(client, "alice")
        url = (await _file(client, csrf, summary=XSS, description=XSS)).headers["location"]
        await web.container.worker.drain()
        [issue] = web.jira.issues.values()
        web.jira.comment(issue.id, "<b>Sam</b>", XSS)
        await web.container.support_puller.poll()
        for page in (await client.get(url), await client.get("/projects/api/support")):
            assert "<script>" not in page.text
            assert "<img src=x" not in page.text
            assert "&lt;script&gt;" in page.text
        detail = await client.get(url)
        assert "&lt;b&gt;Sam&lt;/b&gt;" in detail.text
        assert "script-src 'none'" in detail.headers["content-security-policy"]


async def test_attachment_download_is_never_rendered_inline(web: Web) -> None:
    async with web.client() as client:
        csrf = await sign_in(client, "alice")
        url = (await _file(client, csrf)).headers["location"]
        page = await client.get(url)
        href = re.search(r'href="([^"]+/attachments/\d+)"', page.text)
        assert href is not None
        download = await client.get(href.group(1))
        assert download.content == b"line 1\n"
        assert download.headers["content-disposition"].startswith("attachment;")
        assert download.headers["x-content-type-options"] == "nosniff"


async def test_passive_project_shows_not_sent_and_admin_switch_sends(database_url: str) -> None:
    web = await make_web(database_url, active=False)
    try:
        async with web.client() as client:
            csrf = await sign_in(client, "root")
            await _file(client, csrf, summary="First")
            await _file(client, csrf, summary="Second")
            await web.container.worker.drain()
            assert web.jira.calls == []
            listing = await client.get("/projects/api/support")
            assert listing.text.count(">not sent<") == 2
            assert "integration is <strong>passive</strong>" in listing.text

            page = await client.get("/admin/integration")
            assert "Passive" in page.text
            answer = await client.post(
                "/admin/integration/api", data={"active": "true", "csrf_token": csrf_of(page.text)}
            )
            assert answer.status_code == 303
            await web.container.worker.drain()
            assert [i.fields["summary"] for i in web.jira.issues.values()] == ["First", "Second"]
            page = await client.get("/admin/integration")
            assert "root: activated" in page.text
    finally:
        await web.container.aclose()


async def test_jira_error_is_shown_to_admins_not_portal_users(web: Web) -> None:
    from syncengine.errors import JiraPermanentError

    web.jira.fail["create_issue"] = [
        JiraPermanentError("404 from Jira: project SUP does not exist", status=404)
    ]
    async with web.client() as alice:
        csrf = await sign_in(alice, "alice")
        url = (await _file(alice, csrf)).headers["location"]
        await web.container.worker.drain()
        page = await alice.get(url)
        assert "not sent" in page.text
        assert "project SUP does not exist" not in page.text
    async with web.client() as root:
        await sign_in(root, "root")
        page = await root.get(url)
        assert "Last Jira error: 404 from Jira: project SUP does not exist" in page.text
        assert "project SUP does not exist" in (await root.get("/admin/integration")).text


async def test_several_support_projects_are_offered_and_kept_apart(database_url: str) -> None:
    from syncengine.bootstrap import bootstrap, prepare_projects
    from syncengine.web import create_app
    from tests.integration.web.conftest import web_settings

    base = web_settings(database_url)
    data = base.model_dump()
    data["projects"]["shop"] = {
        "name": "Shop",
        "support": {"enabled": True, "labels": ["Bug"], "categories": []},
    }
    data["projects"]["crash"] = {"name": "Crashes"}  # no support requests here
    settings = type(base).model_validate(data)
    container = await bootstrap(settings, migrate=False, support_jira={})
    try:
        await prepare_projects(container, lambda _line: None)
        app = create_app(container.web)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            csrf = await sign_in(client, "alice")
            chooser = await client.get("/support")
            assert chooser.status_code == 200
            assert 'href="/projects/api/support"' in chooser.text
            assert 'href="/projects/shop/support"' in chooser.text
            assert "crash" not in chooser.text
            filed = await client.post(
                "/projects/shop/support",
                data={"csrf_token": csrf, "label": "Bug", "summary": "In shop", "description": "d"},
            )
            assert filed.status_code == 303
            assert "In shop" in (await client.get("/projects/shop/support")).text
            assert "In shop" not in (await client.get("/projects/api/support")).text
            assert (await client.get("/projects/crash/support")).status_code == 404
            wrong_project = filed.headers["location"].replace("/shop/", "/api/")
            assert (await client.get(wrong_project)).status_code == 404
    finally:
        await container.aclose()


async def test_oversized_upload_is_refused_before_parsing(web: Web) -> None:
    limit = 2000 * 10 + 1024 * 1024  # max_attachment_bytes x 10 files + form room
    async with web.client() as client:
        csrf = await sign_in(client, "alice")
        answer = await client.post(
            "/projects/api/support",
            data={"csrf_token": csrf, "label": "Bug", "summary": "s", "description": "d"},
            files=[("attachments", ("big.bin", b"x" * (limit + 1), "text/plain"))],
        )
        assert answer.status_code == 413
        assert "attach fewer or smaller files" in answer.text
        api = await client.post(
            "/api/v1/projects/api/support-requests",
            headers={"X-CSRF-Token": csrf},
            data={"label": "Bug", "summary": "s", "description": "d"},
            files=[("attachments", ("big.bin", b"x" * (limit + 1), "text/plain"))],
        )
        assert api.status_code == 413
        assert "larger than" in api.json()["detail"]
        project = await web.container.projects.get("api")
        assert project is not None
        assert (await web.container.support.requests.page(project_id=project.id))[1] == 0


async def test_the_requester_replies_from_the_page_and_jira_gets_it_attributed(web: Web) -> None:
    async with web.client() as client:
        csrf = await sign_in(client, "alice")
        detail_url = (await _file(client, csrf)).headers["location"]
        await web.container.worker.drain()
        page = await client.get(detail_url)
        assert 'name="reply"' in page.text
        answer = await client.post(
            f"{detail_url}/reply", data={"csrf_token": csrf_of(page.text), "reply": XSS}
        )
        assert answer.status_code == 303
        page = await client.get(answer.headers["location"])
        assert "Your reply was added" in page.text
        assert "not sent to Jira yet" in page.text
        assert "<script>" not in page.text
        assert "&lt;script&gt;" in page.text

        await web.container.worker.drain()
        [issue] = web.jira.issues.values()
        [comment] = issue.comments
        assert comment.body.startswith("alice wrote in the support portal, reply 1:")
        page = await client.get(detail_url)
        assert "not sent to Jira yet" not in page.text
        assert "from the portal" in page.text
        # An empty reply is refused with a message; nothing is kept, nothing is sent.
        empty = await client.post(
            f"{detail_url}/reply", data={"csrf_token": csrf_of(page.text), "reply": "  "}
        )
        assert "write a reply first" in (await client.get(empty.headers["location"])).text
        assert len(issue.comments) == 1
        # Without the CSRF token nothing happens; someone else's request stays hidden.
        assert (await client.post(f"{detail_url}/reply", data={"reply": "x"})).status_code == 403
    async with web.client() as other:
        csrf = await sign_in(other, "bob")
        hidden = await other.post(f"{detail_url}/reply", data={"csrf_token": csrf, "reply": "hi"})
        assert hidden.status_code == 404
