"""Sessions are server-side: sign-out and a new password end them, whoever holds the cookie."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from syncengine.bootstrap import Container, bootstrap
from syncengine.entrypoints.cli import main
from syncengine.settings import Settings
from syncengine.web import create_app
from tests.integration.web.conftest import PASSWORDS, Web, sign_in, web_settings_data
from tests.passwords import cheap_hash

API = "/api/v1/projects/api/support-requests"


def _replaying(container: Container, cookies: httpx.Cookies) -> httpx.AsyncClient:
    """Another client (an attacker, another process) with a copy of the cookie."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(container.web)),
        base_url="http://testserver",
        cookies=cookies,
    )


async def test_a_cookie_replayed_after_sign_out_gets_401(web: Web) -> None:
    async with web.client() as client:
        csrf = await sign_in(client, "alice")
        assert (await client.get(API)).status_code == 200
        copied = httpx.Cookies(client.cookies)
        assert (await client.post("/logout", data={"csrf_token": csrf})).status_code == 303
    async with _replaying(web.container, copied) as replay:
        api = await replay.get(API)
        assert api.status_code == 401
        assert "sign in" in api.json()["detail"]
        assert (await replay.get("/projects/api/support")).status_code == 303


async def test_signing_in_again_ends_the_previous_session(web: Web) -> None:
    async with web.client() as client:
        csrf = await sign_in(client, "alice")
        first = httpx.Cookies(client.cookies)
        # Signed in as alice, the browser signs in as bob.
        answer = await client.post(
            "/login", data={"username": "bob", "password": PASSWORDS["bob"], "csrf_token": csrf}
        )
        assert answer.status_code == 303
        mine = await client.get("/api/v1/projects/api/support-requests")
        assert mine.status_code == 200
    async with _replaying(web.container, first) as replay:
        assert (await replay.get(API)).status_code == 401


async def _restarted(settings: Settings, users: dict[str, str]) -> Container:
    """The engine started again with these users' password hashes."""
    changed = settings.web.model_copy(
        update={
            "users": {
                name: user.model_copy(update={"password_hash": users.get(name, user.password_hash)})
                for name, user in settings.web.users.items()
            }
        }
    )
    return await bootstrap(
        settings.model_copy(update={"web": changed}), migrate=False, support_jira={}
    )


async def test_a_changed_password_ends_that_users_sessions_only(web: Web) -> None:
    async with web.client() as alice, web.client() as bob:
        await sign_in(alice, "alice")
        await sign_in(bob, "bob")
        restarted = await _restarted(
            web.container.settings, {"alice": cheap_hash("a-new-password-1")}
        )
        try:
            # At start-up, the stale sessions are ended in the store...
            assert await restarted.web.sessions.end_stale() == 1
            # ...and on use in any process that still has the old sessions' rows.
            async with _replaying(restarted, alice.cookies) as old_alice:
                assert (await old_alice.get(API)).status_code == 401
            async with _replaying(restarted, bob.cookies) as still_bob:
                assert (await still_bob.get(API)).status_code == 200
        finally:
            await restarted.aclose()


async def test_a_changed_password_is_refused_on_use_even_without_the_start_up_sweep(
    web: Web,
) -> None:
    async with web.client() as alice:
        await sign_in(alice, "alice")
        restarted = await _restarted(
            web.container.settings, {"alice": cheap_hash("a-new-password-2")}
        )
        try:
            async with _replaying(restarted, alice.cookies) as old_alice:
                assert (await old_alice.get(API)).status_code == 401
            # The row is gone: the old process refuses it too now.
            async with _replaying(web.container, alice.cookies) as same:
                assert (await same.get(API)).status_code == 401
        finally:
            await restarted.aclose()


async def test_end_all_signs_a_user_out_everywhere(web: Web) -> None:
    async with web.client() as one, web.client() as two, web.client() as other:
        await sign_in(one, "alice")
        await sign_in(two, "alice")
        await sign_in(other, "bob")
        assert await web.container.web.sessions.end_all("alice") == 2
        assert (await one.get(API)).status_code == 401
        assert (await two.get(API)).status_code == 401
        assert (await other.get(API)).status_code == 200


async def test_the_session_table_holds_no_token(web: Web) -> None:
    from sqlalchemy import select

    from syncengine.store.tables import WebSession

    async with web.client() as client:
        await sign_in(client, "alice")
        cookie = client.cookies.get("syncengine_session") or ""
    async with web.container.db.session() as session:
        rows = (await session.scalars(select(WebSession))).all()
    assert [row.user_name for row in rows] == ["alice"]
    assert rows[0].token_digest not in cookie
    assert PASSWORDS["alice"] not in rows[0].password_fingerprint


def test_the_sign_out_command_ends_a_users_sessions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    data = web_settings_data(f"sqlite+aiosqlite:///{tmp_path}/store.db")
    users = "".join(
        f'[web.users.{name}]\npassword_hash = "{user["password_hash"]}"\n'
        for name, user in data["web"]["users"].items()
    )
    config = tmp_path / "c.toml"
    config.write_text(
        f'database_url = "{data["database_url"]}"\n[web]\nsession_secret = "{"s" * 40}"\n{users}',
        encoding="utf-8",
    )

    async def sign_in_twice() -> None:
        from syncengine.settings import load_settings

        container = await bootstrap(load_settings(config), support_jira={})
        try:
            await container.web.sessions.start("alice")
            await container.web.sessions.start("alice")
        finally:
            await container.aclose()

    asyncio.run(sign_in_twice())
    assert main(["--config", str(config), "user", "sign-out", "alice"]) == 0
    assert "alice: 2 session(s) ended" in capsys.readouterr().out
    assert main(["--config", str(config), "user", "sign-out", "alice"]) == 0
    assert "alice: 0 session(s) ended" in capsys.readouterr().out
