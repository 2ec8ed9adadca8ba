"""OAuth against the simulator's OAuth servers: connect, create a ticket, refresh, revoke.

Every kind the engine speaks besides Basic and PAT: OAuth 1.0a application links (Data
Center, RSA-SHA1 verified by the simulator against the pasted public key), OAuth 2.0 with
PKCE on Data Center (incoming link) and on Cloud (3LO through the API gateway). The
"browser" is an httpx client that opens the authorize URL and presses Allow, as an
administrator would.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from syncengine.bootstrap import Container, bootstrap
from syncengine.errors import ConfigError, InvalidInput
from syncengine.jira.errors import JiraAuthError
from syncengine.jira.oauth import OAuthGrantRevoked
from syncengine.jira.simulator import ManualClock, Simulator, create_simulator
from syncengine.settings import Settings
from syncengine.store.database import async_url

CLIENT_ID, CLIENT_SECRET = "syncengine-app", "app-secret-71c3"
CALLBACK = "https://crash.example/integration/shop/oauth/callback"
BUG = {
    "project": {"key": "CRASH"},
    "issuetype": {"name": "Bug"},
    "summary": "Crash in checkout",
    "customfield_10050": {"value": "Major"},
}


def _jira(kind: str, site: str, **extra: Any) -> dict[str, Any]:
    jira: dict[str, Any] = {
        "url": site,
        "auth": kind,
        "project_key": "CRASH",
        "custom_fields": {"customfield_10050": "Major"},
        "oauth_callback_url": CALLBACK,
    }
    if kind == "oauth2":
        jira |= {"oauth_client_id": CLIENT_ID, "oauth_client_secret": CLIENT_SECRET}
    return jira | extra


async def _engine(
    database_url: str, sim: Simulator, jira: dict[str, Any], tmp_path: Path
) -> Container:
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        ingest={"batch_max_delay_ms": 1},
        projects={"shop": {"jira": jira}},
    )
    return await bootstrap(settings, migrate=False, jira_transport=sim.transport())


async def _browser_allows(sim: Simulator, url: str) -> httpx.Response:
    """Open the authorize URL, then press Allow on the consent page (signed in as the bot)."""
    async with httpx.AsyncClient(transport=sim.transport(), follow_redirects=False) as browser:
        page = await browser.get(url)
        assert page.status_code == 200, page.text
        form = dict(re.findall(r"name='([^']+)' value='([^']*)'", page.text))
        action = re.search(r"action='([^']+)'", page.text)
        assert action is not None
        target = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}{action.group(1)}"
        return await browser.post(target, data=form | {"decision": "allow", "user": ""})


@pytest.fixture
def dc() -> Simulator:
    return create_simulator("datacenter", base_url="http://jira.local")


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("SYNCENGINE_SECRET_KEY", key)
    return key


async def _create(container: Container) -> str:
    created = await container.jira.for_project("shop").create_issue(BUG)
    return created.key


async def test_oauth1_application_link_end_to_end(
    database_url: str, dc: Simulator, tmp_path: Path
) -> None:
    container = await _engine(database_url, dc, _jira("oauth1", "http://jira.local"), tmp_path)
    try:
        connector = container.connector
        assert connector is not None
        # Before the application link exists Jira refuses the request token: say so.
        first = await connector.start("shop")
        assert first.link_missing
        assert not first.authorize_url
        assert first.consumer_key == "syncengine"
        assert "BEGIN PUBLIC KEY" in first.public_key
        # The administrator pastes the consumer key and public key into Jira.
        dc.oauth.add_app_link(first.consumer_key, first.public_key)
        start = await connector.start("shop")
        assert start.public_key == first.public_key  # the key pair is kept, not remade
        assert start.authorize_url.startswith("http://jira.local/plugins/servlet/oauth/authorize")
        allowed = await _browser_allows(dc, start.authorize_url)
        assert allowed.status_code == 302
        query = parse_qs(urlsplit(allowed.headers["location"]).query)
        assert allowed.headers["location"].startswith(CALLBACK)
        state = await connector.complete(
            "shop",
            oauth_token=query["oauth_token"][0],
            verifier=query["oauth_verifier"][0],
        )
        assert state.connected
        assert state.expires_at is not None
        key = await _create(container)
        bot = next(u for u in dc.state.users.values() if u.admin)
        assert dc.issue(key).creator == bot.account_id  # signed as the user who allowed it
    finally:
        await container.aclose()


async def test_oauth1_signatures_are_checked(dc: Simulator) -> None:
    from syncengine.jira.oauth import OAuth1Signer, generate_rsa_key_pair

    private, public = generate_rsa_key_pair()
    other, _ = generate_rsa_key_pair()
    dc.oauth.add_app_link("syncengine", public)
    async with httpx.AsyncClient(
        transport=dc.transport(), auth=OAuth1Signer("syncengine", other, "no-such-token")
    ) as http:
        answer = await http.get("http://jira.local/rest/api/2/myself")
    assert answer.status_code == 401
    async with httpx.AsyncClient(
        transport=dc.transport(), auth=OAuth1Signer("syncengine", private, "no-such-token")
    ) as http:
        answer = await http.post("http://jira.local/plugins/servlet/oauth/access-token")
    assert answer.status_code == 401
    assert "oauth_problem=token_rejected" in answer.text


async def _connect_oauth2(container: Container, sim: Simulator) -> None:
    connector = container.connector
    assert connector is not None
    start = await connector.start("shop")
    allowed = await _browser_allows(sim, start.authorize_url)
    assert allowed.status_code == 302, allowed.text
    redirect = allowed.headers["location"]
    assert redirect.startswith(CALLBACK)
    # The administrator pastes the whole URL the browser was sent to.
    state = await connector.complete("shop", code=redirect)
    assert state.connected


@contextlib.asynccontextmanager
async def _two_engines_connected(
    database_url: str, sim: Simulator, tmp_path: Path
) -> AsyncIterator[tuple[Container, Container]]:
    """Two engines on one database (two processes' worth), the first connected by OAuth 2.0."""
    sim.oauth.add_client(CLIENT_ID, CLIENT_SECRET, CALLBACK)
    jira = _jira("oauth2", "http://jira.local")
    first = await _engine(database_url, sim, jira, tmp_path)
    second = await _engine(database_url, sim, jira, tmp_path)
    try:
        await _connect_oauth2(first, sim)
        yield first, second
    finally:
        await first.aclose()
        await second.aclose()


async def test_oauth2_data_center_connect_create_refresh(
    database_url: str, dc: Simulator, tmp_path: Path
) -> None:
    dc.oauth.add_client(CLIENT_ID, CLIENT_SECRET, CALLBACK)
    container = await _engine(database_url, dc, _jira("oauth2", "http://jira.local"), tmp_path)
    try:
        await _connect_oauth2(container, dc)
        await _create(container)
        assert dc.oauth.refreshes == 0
        dc.oauth.expire_access_tokens()  # an hour later: Jira refuses the old access token
        await _create(container)
        assert dc.oauth.refreshes == 1
        assert dc.oauth.refused_refreshes == 0
        await _create(container)
        assert dc.oauth.refreshes == 1  # the new token is used, not refreshed again
    finally:
        await container.aclose()


async def test_oauth2_state_must_match(database_url: str, dc: Simulator, tmp_path: Path) -> None:
    dc.oauth.add_client(CLIENT_ID, CLIENT_SECRET, CALLBACK)
    container = await _engine(database_url, dc, _jira("oauth2", "http://jira.local"), tmp_path)
    try:
        assert container.connector is not None
        start = await container.connector.start("shop")
        allowed = await _browser_allows(dc, start.authorize_url)
        code = parse_qs(urlsplit(allowed.headers["location"]).query)["code"][0]
        with pytest.raises(InvalidInput, match="state"):
            await container.connector.complete("shop", code=code, state="forged")
        assert not (await container.connector.state("shop")).connected
    finally:
        await container.aclose()


async def test_oauth2_cloud_through_the_gateway(database_url: str, tmp_path: Path) -> None:
    site = "https://acme.atlassian.net"
    cloud = create_simulator("cloud", base_url=site, clock=ManualClock())
    cloud.oauth.add_client(CLIENT_ID, CLIENT_SECRET, CALLBACK)
    seen: list[str] = []

    class Recording(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(str(request.url))
            return await cloud.transport().handle_async_request(request)

    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        projects={"shop": {"jira": _jira("oauth2", site, api_version=3)}},
    )
    container = await bootstrap(settings, migrate=False, jira_transport=Recording())
    try:
        assert container.connector is not None
        start = await container.connector.start("shop")
        assert start.authorize_url.startswith("https://auth.atlassian.com/authorize?")
        assert "audience=api.atlassian.com" in start.authorize_url
        await _connect_oauth2(container, cloud)
        seen.clear()
        await _create(container)
        issue_calls = [u for u in seen if "/rest/api/" in u]
        assert issue_calls
        gateway = f"https://api.atlassian.com/ex/jira/{cloud.state.cloud_id}/"
        assert all(u.startswith(gateway) for u in issue_calls)
        # On the site itself a 3LO token is refused, as on Cloud.
        token = (await container.connector.credentials.connected("shop")).secrets["access_token"]
        async with httpx.AsyncClient(transport=cloud.transport()) as http:
            direct = await http.get(
                f"{site}/rest/api/3/myself", headers={"Authorization": f"Bearer {token}"}
            )
        assert direct.status_code == 401
    finally:
        await container.aclose()


async def test_revoked_grant_is_a_clear_error_not_a_retry_storm(
    database_url: str, dc: Simulator, tmp_path: Path
) -> None:
    dc.oauth.add_client(CLIENT_ID, CLIENT_SECRET, CALLBACK)
    container = await _engine(database_url, dc, _jira("oauth2", "http://jira.local"), tmp_path)
    try:
        await _connect_oauth2(container, dc)
        dc.oauth.revoke_user(next(u.account_id for u in dc.state.users.values() if u.admin))
        for _ in range(3):
            with pytest.raises(JiraAuthError) as raised:
                await _create(container)
            assert "connect" in raised.value.fix
        # One refresh was tried, then the refusal is remembered: no loop of them.
        assert dc.oauth.refreshes == 1
        assert dc.oauth.refused_refreshes == 1
    finally:
        await container.aclose()


async def test_two_processes_refresh_at_once_and_both_keep_working(
    database_url: str, dc: Simulator, tmp_path: Path
) -> None:
    async with _two_engines_connected(database_url, dc, tmp_path) as (first, second):
        await asyncio.gather(_create(first), _create(second))
        dc.oauth.expire_access_tokens()
        await asyncio.gather(_create(first), _create(second))
        # Both may have tried; at most one refresh was refused (the loser's), and it then
        # used the winner's token. The stored refresh token is the live one:
        dc.oauth.expire_access_tokens()
        await asyncio.gather(_create(first), _create(second))
        assert dc.oauth.refreshes - dc.oauth.refused_refreshes == 2


async def test_a_process_that_slept_through_rotations_adopts_then_refreshes(
    database_url: str, dc: Simulator, tmp_path: Path
) -> None:
    async with _two_engines_connected(database_url, dc, tmp_path) as (first, second):
        await asyncio.gather(_create(first), _create(second))
        dc.oauth.expire_access_tokens()
        await _create(first)  # the first rotates the grant; the second keeps its old token
        dc.oauth.expire_access_tokens()  # and then Jira refuses the first's token too
        # The second's token is refused; the stored one it adopts is refused as well; it
        # then refreshes with the stored (live) refresh token instead of giving up.
        await _create(second)
        assert dc.oauth.refreshes - dc.oauth.refused_refreshes == 2
        assert dc.oauth.refused_refreshes == 0


async def test_no_secret_in_clear_in_the_database(
    database_url: str, dc: Simulator, tmp_path: Path
) -> None:
    dc.oauth.add_client(CLIENT_ID, CLIENT_SECRET, CALLBACK)
    container = await _engine(database_url, dc, _jira("oauth2", "http://jira.local"), tmp_path)
    try:
        await _connect_oauth2(container, dc)
        assert container.connector is not None
        held = (await container.connector.credentials.connected("shop")).secrets
    finally:
        await container.aclose()
    engine = create_async_engine(async_url(database_url))
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT * FROM jira_credentials"))).all()
    finally:
        await engine.dispose()
    dump = repr(rows)
    assert rows
    for secret in (held["access_token"], held["refresh_token"], CLIENT_SECRET):
        assert secret not in dump


async def test_basic_auth_disabled_says_what_to_use(dc: Simulator) -> None:
    from pydantic import SecretStr

    from syncengine.jira import JiraClient, JiraConfig
    from syncengine.jira.simulator import DEFAULT_LOGIN, DEFAULT_TOKEN

    dc.oauth.basic_auth_enabled = False
    config = JiraConfig(
        site="http://jira.local",
        deployment="datacenter",
        user=DEFAULT_LOGIN,
        token=SecretStr(DEFAULT_TOKEN),
        max_retries=0,
    )
    async with JiraClient.open(config, transport=dc.transport()) as client:
        with pytest.raises(JiraAuthError) as raised:
            await client.myself()
    assert "disabled" in str(raised.value)
    assert "bearer" in raised.value.fix
    assert "oauth" in raised.value.fix


def test_oauth_config_is_checked(tmp_path: Path) -> None:
    from syncengine.bootstrap.jira_clients import jira_configs

    settings = Settings(
        data_dir=tmp_path,
        projects={
            "a": {"jira": _jira("oauth1", "https://acme.atlassian.net")},
            "b": {"jira": _jira("oauth2", "http://jira.local", oauth_client_id="")},
        },
    )
    configs = jira_configs(settings)
    assert isinstance(configs["a"], ConfigError)
    assert "Data Center" in str(configs["a"])
    assert isinstance(configs["b"], ConfigError)
    assert "oauth_client_id" in str(configs["b"])


def test_grant_revoked_is_permanent() -> None:
    assert not OAuthGrantRevoked("x").transient


async def test_connect_from_the_integration_page(
    database_url: str, dc: Simulator, tmp_path: Path
) -> None:
    from syncengine.bootstrap import prepare_projects
    from syncengine.web import create_app
    from tests.integration.web.conftest import csrf_of, sign_in, web_settings_data

    dc.oauth.add_client(CLIENT_ID, CLIENT_SECRET, CALLBACK)
    data = web_settings_data(database_url)
    data["projects"]["shop"] = {"jira": _jira("oauth2", "http://jira.local")}
    settings = Settings(**data | {"data_dir": tmp_path})
    container = await bootstrap(settings, migrate=False, jira_transport=dc.transport())
    try:
        await prepare_projects(container, lambda _line: None)
        app = httpx.ASGITransport(app=create_app(container.web))
        async with httpx.AsyncClient(transport=app, base_url="http://testserver") as browser:
            await sign_in(browser, "root")
            page = await browser.get("/admin/integration")
            assert "Not connected" in page.text
            assert "Connect to Jira" in page.text
            # Connect's answer redirects to Jira: the page's policy lets the form go there.
            policy = page.headers["content-security-policy"]
            assert "form-action 'self' http://jira.local" in policy
            started = await browser.post(
                "/admin/integration/shop/connect", data={"csrf_token": csrf_of(page.text)}
            )
            assert started.status_code == 303
            allowed = await _browser_allows(dc, started.headers["location"])
            back = urlsplit(allowed.headers["location"])
            # A forged state is refused and connects nothing.
            forged = await browser.get(f"{back.path}?code=x&state=forged")
            assert forged.status_code == 400
            assert "state" in forged.text
            done = await browser.get(f"{back.path}?{back.query}")
            assert done.status_code == 303, done.text
            page = await browser.get("/admin/integration")
            assert "Connected; renew by" in page.text
            assert "access_token" not in page.text
        await _create(container)
    finally:
        await container.aclose()


async def test_doctor_says_connect_then_warns_before_the_grant_expires(
    database_url: str, dc: Simulator, tmp_path: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    dc.oauth.add_client(CLIENT_ID, CLIENT_SECRET, CALLBACK)
    moment = [datetime.now(UTC)]
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        projects={"shop": {"jira": _jira("oauth2", "http://jira.local")}},
    )
    container = await bootstrap(
        settings, migrate=False, jira_transport=dc.transport(), clock=lambda: moment[0]
    )
    try:
        checks = {c.name: c for c in await container.doctor.run("shop")}
        assert not checks["OAuth connection"].ok
        assert "jira connect shop" in checks["OAuth connection"].fix
        await _connect_oauth2(container, dc)
        checks = {c.name: c for c in await container.doctor.run("shop")}
        assert checks["OAuth connection"].ok
        assert "renew by" in checks["OAuth connection"].detail
        moment[0] += timedelta(days=65)  # 90-day idle lifetime, warned 30 days ahead
        checks = {c.name: c for c in await container.doctor.run("shop")}
        assert not checks["OAuth connection"].ok
        assert "expires on" in checks["OAuth connection"].detail
    finally:
        await container.aclose()


async def test_doctor_warns_before_a_cloud_api_token_expires(
    database_url: str, tmp_path: Path
) -> None:
    from datetime import UTC, date, datetime

    cloud = create_simulator("cloud", base_url="https://acme.atlassian.net")
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        projects={
            "shop": {
                "jira": {
                    "url": "https://acme.atlassian.net",
                    "user": "bot@example.com",
                    "api_token": "sim-api-token",
                    "api_token_expires": "2027-01-10",
                }
            }
        },
    )
    now = datetime(2026, 12, 20, tzinfo=UTC)
    container = await bootstrap(
        settings, migrate=False, jira_transport=cloud.transport(), clock=lambda: now
    )
    try:
        checks = {c.name: c for c in await container.doctor.run("shop")}
        assert not checks["token expiry"].ok
        assert date(2027, 1, 10).isoformat() in checks["token expiry"].detail
        assert "api_token_expires" in checks["token expiry"].fix
    finally:
        await container.aclose()


class _Dripping(httpx.AsyncByteStream):
    """A 64 MiB body in 64 KiB chunks, counting what is pulled from it."""

    def __init__(self) -> None:
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunk = b"x" * 65536
        for _ in range(1024):
            self.pulled += len(chunk)
            yield chunk


async def test_a_refused_token_answer_is_read_through_the_cap(
    database_url: str, dc: Simulator, tmp_path: Path
) -> None:
    """The 401 that makes the client refresh is read capped, not whole by httpx's auth flow."""
    dc.oauth.add_client(CLIENT_ID, CLIENT_SECRET, CALLBACK)
    streams: list[_Dripping] = []

    class Huge401(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            answer = await dc.transport().handle_async_request(request)
            if answer.status_code != 401:
                return answer
            await answer.aread()
            streams.append(_Dripping())
            return httpx.Response(401, headers=answer.headers, stream=streams[-1])

    jira = _jira("oauth2", "http://jira.local", max_response_bytes=256 * 1024)
    settings = Settings(
        database_url=database_url, data_dir=tmp_path, projects={"shop": {"jira": jira}}
    )
    container = await bootstrap(settings, migrate=False, jira_transport=Huge401())
    try:
        await _connect_oauth2(container, dc)
        dc.oauth.expire_access_tokens()
        await _create(container)  # refused, refreshed, sent again
        assert dc.oauth.refreshes == 1
        assert len(streams) == 1
        assert streams[0].pulled <= 256 * 1024 + 65536
    finally:
        await container.aclose()
