"""Sign-in, sessions, CSRF, roles and rate limiting through the real app."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.web.conftest import Web, csrf_of, sign_in


async def test_pages_need_sign_in(web: Web) -> None:
    async with web.client() as client:
        answer = await client.get("/projects/api/support?q=x")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=/projects/api/support%3Fq%3Dx"
        assert (await client.get("/admin/integration")).status_code == 303


async def test_sign_in_sets_a_safe_cookie_and_sign_out_ends_it(web: Web) -> None:
    async with web.client() as client:
        token = csrf_of((await client.get("/login")).text)
        answer = await client.post(
            "/login",
            data={
                "username": "alice",
                "password": "alice-pw-1",
                "csrf_token": token,
                "next": "/projects/api/support",
            },
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/projects/api/support"
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert "secure" not in cookie  # public_url is http here
        page = await client.get("/projects/api/support")
        assert page.status_code == 200
        assert "alice" in page.text
        csrf = csrf_of(page.text)
        assert csrf != token, "a sign-in starts a fresh session with a new token"
        assert (await client.post("/logout", data={"csrf_token": csrf})).status_code == 303
        assert (await client.get("/projects/api/support")).status_code == 303


async def test_wrong_password_and_unknown_user_are_refused_alike(web: Web) -> None:
    async with web.client() as client:
        token = csrf_of((await client.get("/login")).text)
        for name in ("alice", "nobody"):
            answer = await client.post(
                "/login", data={"username": name, "password": "wrong", "csrf_token": token}
            )
            assert answer.status_code == 401
            assert "Wrong user name or password." in answer.text
        assert (await client.get("/projects/api/support")).status_code == 303


async def test_sign_in_is_rate_limited_per_user(web: Web) -> None:
    # Time stands still: on a loaded machine five password checks can outlast the first
    # one-second wait, and the sixth attempt would rightly be let through.
    app: Any = web.app_transport.app
    app.state.login_throttle.clock = lambda: 1000.0
    async with web.client() as client:
        token = csrf_of((await client.get("/login")).text)
        for _ in range(5):
            await client.post(
                "/login", data={"username": "bob", "password": "guess", "csrf_token": token}
            )
        answer = await client.post(
            "/login", data={"username": "bob", "password": "bob-pw-22", "csrf_token": token}
        )
        assert answer.status_code == 429
        assert "Too many failed sign-ins" in answer.text
        # Another user from the same address is not locked out by bob's failures.
        await sign_in(client, "alice")


async def test_open_redirect_after_sign_in_is_refused(web: Web) -> None:
    async with web.client() as client:
        token = csrf_of((await client.get("/login")).text)
        answer = await client.post(
            "/login",
            data={
                "username": "alice",
                "password": "alice-pw-1",
                "csrf_token": token,
                "next": "//evil.example/x",
            },
        )
        assert answer.headers["location"] == "/"


async def test_every_form_post_needs_the_csrf_token(web: Web) -> None:
    async with web.client() as client:
        assert (
            await client.post("/login", data={"username": "alice", "password": "alice-pw-1"})
        ).status_code == 403
        csrf = await sign_in(client, "root")
        for path, data in (
            ("/logout", {}),
            ("/admin/integration/api", {"active": "false"}),
            ("/projects/api/support", {"label": "Bug", "summary": "s", "description": "d"}),
        ):
            refused = await client.post(path, data=data)
            assert refused.status_code == 403, path
            assert "security token" in refused.text
            wrong = await client.post(path, data={**data, "csrf_token": csrf[:-2] + "xx"})
            assert wrong.status_code == 403, path
        project = await web.container.projects.get("api")
        assert project is not None
        assert project.integration_active, "a refused post changed nothing"
        assert (await web.container.support.requests.page(project_id=project.id))[1] == 0


async def test_portal_user_cannot_open_admin_pages(web: Web) -> None:
    async with web.client() as client:
        csrf = await sign_in(client, "alice")
        assert (await client.get("/admin/integration")).status_code == 403
        answer = await client.post(
            "/admin/integration/api", data={"active": "false", "csrf_token": csrf}
        )
        assert answer.status_code == 403
        api = await client.get("/api/v1/projects/api/integration")
        assert api.status_code == 403


async def test_session_of_removed_user_ends(web: Web) -> None:
    from syncengine.bootstrap import bootstrap
    from syncengine.web import create_app

    async with web.client() as signed_in:
        await sign_in(signed_in, "alice")
        settings = web.container.settings
        users = {k: v for k, v in settings.web.users.items() if k != "alice"}
        # The engine started again with alice removed from the configuration.
        restarted = await bootstrap(
            settings.model_copy(update={"web": settings.web.model_copy(update={"users": users})}),
            migrate=False,
            support_jira={},
        )
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_app(restarted.web)),
                base_url="http://testserver",
                cookies=signed_in.cookies,
            ) as client:
                assert (await client.get("/projects/api/support")).status_code == 303
        finally:
            await restarted.aclose()


async def test_cookie_is_secure_behind_https(database_url: str) -> None:
    from syncengine.bootstrap import bootstrap
    from syncengine.web import create_app
    from tests.integration.web.conftest import web_settings

    settings = web_settings(database_url).model_copy(update={"public_url": "https://se.example"})
    container = await bootstrap(settings, migrate=False, support_jira={})
    try:
        app = create_app(container.web)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://se.example"
        ) as client:
            page = await client.get("/login")
            assert "secure" in page.headers["set-cookie"].lower()
    finally:
        await container.aclose()


async def test_unset_session_secret_is_generated_and_logged(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from syncengine.bootstrap import bootstrap
    from syncengine.web import create_app
    from tests.integration.web.conftest import web_settings

    base = web_settings(database_url)
    settings = base.model_copy(update={"web": base.web.model_copy(update={"session_secret": None})})
    container = await bootstrap(settings, migrate=False, support_jira={})
    try:
        with caplog.at_level("WARNING"):
            first, second = (
                create_app(container.web),
                create_app(container.web),
            )
        assert "sign-in ends when the process restarts" in caplog.text
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=first), base_url="http://t"
        ) as one:
            await sign_in(one, "alice")
            cookies = one.cookies
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=second), base_url="http://t", cookies=cookies
        ) as two:
            # Another start, another secret: the old cookie no longer signs anyone in.
            assert (await two.get("/projects/api/support")).status_code == 303
    finally:
        await container.aclose()


async def test_a_non_ascii_security_token_is_a_403_not_a_500(web: Web) -> None:
    async with web.client() as client:
        await client.get("/login")  # the session now holds a security token
        form = await client.post(
            "/login", data={"username": "alice", "password": "x", "csrf_token": "é"}
        )
        assert form.status_code == 403
        await sign_in(client, "alice")
        api = await client.post(
            "/api/v1/projects/api/support-requests/1/comments",
            json={"body": "hi"},
            headers={"X-CSRF-Token": "caf\xe9".encode("latin-1")},
        )
        assert api.status_code == 403
