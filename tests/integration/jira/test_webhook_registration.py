"""Webhooks registered in Jira by API: Cloud OAuth 2.0 apps' dynamic webhooks (30 days,
extended by the periodic job, deliveries signed with the app's JWT) and Data Center admin
webhooks (signed with the webhook secret); where the auth cannot, a clear answer."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from syncengine.bootstrap import Container, bootstrap, prepare_projects
from syncengine.errors import InvalidInput
from syncengine.jira.simulator import ManualClock, Simulator, create_simulator
from syncengine.settings import Settings
from syncengine.web import create_app
from tests.integration.jira.test_oauth import (
    BUG,
    CALLBACK,
    CLIENT_ID,
    CLIENT_SECRET,
    _connect_oauth2,
    _jira,
)

SITE = "https://acme.atlassian.net"
PUBLIC = "https://crash.example"
pytestmark = pytest.mark.usefixtures("_secret_key")


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.fernet import Fernet

    monkeypatch.setenv("SYNCENGINE_SECRET_KEY", Fernet.generate_key().decode())


class _Engine(httpx.AsyncBaseTransport):
    """Jira's deliveries go to the engine's web app, in-process."""

    def __init__(self) -> None:
        self.app: httpx.ASGITransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert self.app is not None
        return await self.app.handle_async_request(request)


async def _engine(
    database_url: str, sim: Simulator, jira: dict[str, Any], tmp_path: Path, engine: _Engine
) -> Container:
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        public_url=PUBLIC,
        projects={"shop": {"jira": jira}},
    )
    container = await bootstrap(
        settings, migrate=False, jira_transport=sim.transport(), clock=sim.clock.now
    )
    await prepare_projects(container, lambda _line: None)
    engine.app = httpx.ASGITransport(app=create_app(container.web))
    return container


@pytest.fixture
def cloud() -> tuple[Simulator, _Engine]:
    engine = _Engine()
    sim = create_simulator(
        "cloud", base_url=SITE, clock=ManualClock(), webhook_transport=engine, webhook_mode="manual"
    )
    sim.oauth.add_client(CLIENT_ID, CLIENT_SECRET, CALLBACK)
    return sim, engine


async def _last_webhook(container: Container) -> object:
    record = await container.projects.get("shop")
    assert record is not None
    return (await container.cursors.get(record.id)).last_webhook_at


async def test_cloud_oauth2_registers_a_dynamic_webhook_and_keeps_it_alive(
    database_url: str, cloud: tuple[Simulator, _Engine], tmp_path: Path
) -> None:
    sim, engine = cloud
    jira = _jira("oauth2", SITE, api_version=3)
    container = await _engine(database_url, sim, jira, tmp_path, engine)
    try:
        registrar = container.webhook_registrar
        assert registrar is not None
        await _connect_oauth2(container, sim)
        hooks = await registrar.register("shop")
        assert len(hooks) == 1
        registered = sim.webhooks.webhooks[int(hooks[0].webhook_id)]
        assert registered.owner == CLIENT_ID
        assert registered.url == f"{PUBLIC}/api/v1/jira/webhooks/shop"
        assert registered.jql == 'project = "CRASH"'
        assert hooks[0].expires_at == sim.clock.now() + timedelta(days=30)
        assert (await registrar.registered("shop"))[0].expires_at == hooks[0].expires_at

        # Jira delivers to it, with a JWT signed by the app's secret: accepted.
        await container.jira.for_project("shop").create_issue(BUG)
        assert await sim.deliver_pending() == 1
        assert sim.webhooks.deliveries[-1].outcomes == ["200"]
        assert await _last_webhook(container) is not None

        # Not due yet: nothing is extended. Within the last week: extended 30 days.
        assert await registrar.refresh_due() == 0
        sim.clock.advance(timedelta(days=25).total_seconds())
        assert await registrar.refresh_due() == 1
        stored = (await registrar.registered("shop"))[0]
        assert stored.expires_at == sim.clock.now() + timedelta(days=30)
        assert stored.refreshed_at == sim.clock.now()
        assert registered.expires_at == stored.expires_at

        # Left alone past its expiry, Jira stops sending it (polling carries on).
        sim.clock.advance(timedelta(days=31).total_seconds())
        await container.jira.for_project("shop").create_issue(BUG)
        assert await sim.deliver_pending() == 0
    finally:
        await container.aclose()


async def test_a_delivery_with_a_forged_app_token_is_refused(
    database_url: str, cloud: tuple[Simulator, _Engine], tmp_path: Path
) -> None:
    sim, engine = cloud
    container = await _engine(
        database_url, sim, _jira("oauth2", SITE, api_version=3), tmp_path, engine
    )
    try:
        async with httpx.AsyncClient(transport=engine, base_url=PUBLIC) as http:
            answer = await http.post(
                "/api/v1/jira/webhooks/shop",
                content=b'{"webhookEvent": "jira:issue_updated"}',
                headers={"Authorization": "Bearer not.a.jwt"},
            )
        assert answer.status_code == 401
        assert "token" in answer.text
    finally:
        await container.aclose()


async def test_cloud_with_an_api_token_cannot_register_and_says_how(
    database_url: str, cloud: tuple[Simulator, _Engine], tmp_path: Path
) -> None:
    sim, engine = cloud
    jira = {"url": SITE, "user": "bot@example.com", "api_token": "sim-api-token"}
    container = await _engine(database_url, sim, jira, tmp_path, engine)
    try:
        registrar = container.webhook_registrar
        assert registrar is not None
        plan = registrar.plan("shop")
        assert plan is not None
        assert plan.api is None
        assert 'auth = "oauth2"' in plan.why_not
        with pytest.raises(InvalidInput, match=r"OAuth 2\.0 apps"):
            await registrar.register("shop")
        # And Jira itself refuses an API-token caller, as Cloud does.
        async with httpx.AsyncClient(transport=sim.transport()) as http:
            refused = await http.post(
                f"{SITE}/rest/api/3/webhook",
                json={"url": "https://x.example/h", "webhooks": []},
                auth=("bot@example.com", "sim-api-token"),
            )
        assert refused.status_code == 403
    finally:
        await container.aclose()


async def test_data_center_admin_webhook_is_signed_with_the_secret(
    database_url: str, tmp_path: Path
) -> None:
    engine = _Engine()
    sim = create_simulator(
        "datacenter",
        base_url="http://jira.local",
        clock=ManualClock(),
        webhook_transport=engine,
        webhook_mode="manual",
    )
    jira = {
        "url": "http://jira.local",
        "user": "admin",
        "api_token": "sim-admin-token",
        "webhook_secret": "dc-webhook-secret-1",
        "project_key": "CRASH",
        "custom_fields": {"customfield_10050": "Major"},
    }
    container = await _engine(database_url, sim, jira, tmp_path, engine)
    try:
        registrar = container.webhook_registrar
        assert registrar is not None
        hooks = await registrar.register("shop")
        assert hooks[0].api == "admin"
        assert hooks[0].expires_at is None
        hook = sim.webhooks.webhooks[int(hooks[0].webhook_id)]
        assert hook.secret == "dc-webhook-secret-1"
        await container.jira.for_project("shop").create_issue(BUG)
        assert await sim.deliver_pending() == 1
        assert sim.webhooks.deliveries[-1].outcomes == ["200"]
        # Registering again replaces the old webhook rather than adding a second one.
        await registrar.register("shop")
        assert len(sim.webhooks.webhooks) == 1
        assert await registrar.refresh_due() == 0  # admin webhooks do not lapse
    finally:
        await container.aclose()


async def test_a_registration_whose_answer_was_lost_leaves_one_webhook_in_jira(
    database_url: str, tmp_path: Path
) -> None:
    engine = _Engine()
    sim = create_simulator(
        "datacenter",
        base_url="http://jira.local",
        clock=ManualClock(),
        webhook_transport=engine,
        webhook_mode="manual",
    )
    jira = {
        "url": "http://jira.local",
        "user": "admin",
        "api_token": "sim-admin-token",
        "webhook_secret": "dc-webhook-secret-1",
        "project_key": "CRASH",
        "custom_fields": {"customfield_10050": "Major"},
    }
    container = await _engine(database_url, sim, jira, tmp_path, engine)
    try:
        registrar = container.webhook_registrar
        assert registrar is not None
        sim.add_fault(
            kind="commit_then_fail", route="*webhook*", method="POST", drop=True, remaining=1
        )
        [adopted] = await registrar.register("shop")  # Jira's list shows the one it made
        assert list(sim.webhooks.webhooks) == [int(adopted.webhook_id)]
        # One registered by hand to the same address (or never stored) is replaced too.
        sim.register_webhook(adopted.url, name="by hand", secret="dc-webhook-secret-1")
        assert len(sim.webhooks.webhooks) == 2
        [fresh] = await registrar.register("shop")
        assert list(sim.webhooks.webhooks) == [int(fresh.webhook_id)]
        assert await registrar.unregister("shop") == 1
        assert sim.webhooks.webhooks == {}
    finally:
        await container.aclose()


async def test_the_integration_page_registers_and_shows_the_webhook(
    database_url: str, tmp_path: Path
) -> None:
    from tests.integration.web.conftest import csrf_of, sign_in, web_settings_data

    sim = create_simulator("cloud", base_url=SITE)  # the wall clock: sign-in sessions use it
    sim.oauth.add_client(CLIENT_ID, CLIENT_SECRET, CALLBACK)
    data = web_settings_data(database_url)
    data["projects"]["shop"] = {"jira": _jira("oauth2", SITE, api_version=3)}
    settings = Settings(**data | {"data_dir": tmp_path})
    container = await bootstrap(
        settings, migrate=False, jira_transport=sim.transport(), clock=sim.clock.now
    )
    try:
        await prepare_projects(container, lambda _line: None)
        await _connect_oauth2(container, sim)
        app = httpx.ASGITransport(app=create_app(container.web))
        async with httpx.AsyncClient(transport=app, base_url="http://testserver") as browser:
            await sign_in(browser, "root")
            page = await browser.get("/admin/integration")
            assert "Register the webhook in Jira" in page.text
            done = await browser.post(
                "/admin/integration/shop/webhooks/register",
                data={"csrf_token": csrf_of(page.text)},
            )
            assert done.status_code == 303
            page = await browser.get("/admin/integration")
            assert "webhook registered in Jira" in page.text
            assert "dynamic, Cloud app" in page.text
            expires = (sim.clock.now() + timedelta(days=30)).date().isoformat()
            assert expires in page.text
            assert CLIENT_SECRET not in page.text
    finally:
        await container.aclose()
