"""The periodic cheap checks: a revoked grant, Basic auth disabled and an unreachable Jira
each become a failing check, shown on the integration page and as a 0 in /metrics."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from syncengine.bootstrap import bootstrap, prepare_projects
from syncengine.jira.simulator import Simulator, create_simulator
from syncengine.settings import Settings
from syncengine.web import create_app
from tests.integration.jira.test_oauth import (
    CALLBACK,
    CLIENT_ID,
    CLIENT_SECRET,
    _connect_oauth2,
    _jira,
)


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.fernet import Fernet

    monkeypatch.setenv("SYNCENGINE_SECRET_KEY", Fernet.generate_key().decode())


@pytest.fixture
def dc() -> Simulator:
    sim = create_simulator("datacenter", base_url="http://jira.local")
    sim.oauth.add_client(CLIENT_ID, CLIENT_SECRET, CALLBACK)
    return sim


def _failing(results: dict[str, list[object]]) -> dict[str, object]:
    return {r.name: r for r in results.get("shop", []) if not r.ok}  # type: ignore[attr-defined]


async def test_a_revoked_grant_is_a_failing_check_on_the_page_and_in_metrics(
    database_url: str, dc: Simulator, tmp_path: Path
) -> None:
    from tests.integration.web.conftest import sign_in, web_settings_data

    data = web_settings_data(database_url)
    data["projects"]["shop"] = {"jira": _jira("oauth2", "http://jira.local")}
    container = await bootstrap(
        Settings(**data | {"data_dir": tmp_path}), migrate=False, jira_transport=dc.transport()
    )
    try:
        await prepare_projects(container, lambda _line: None)
        checks = container.connection_checks
        assert checks is not None
        assert any(j.name == "jira.checks" for j in container.jobs)
        assert await checks.run() == 2  # not connected yet: nor can it reach Jira as anyone
        assert "OAuth connection" in _failing(await checks.latest())
        await _connect_oauth2(container, dc)
        assert await checks.run() == 0
        dc.oauth.revoke_user(next(u.account_id for u in dc.state.users.values() if u.admin))
        dc.oauth.expire_access_tokens()
        for _ in range(3):
            assert await checks.run() == 1
        failing = _failing(await checks.latest())
        assert "connect" in failing["Jira credentials"].fix  # type: ignore[attr-defined]
        assert dc.oauth.refreshes == 1  # the refusal is remembered: no storm of refreshes
        app = httpx.ASGITransport(app=create_app(container.web))
        async with httpx.AsyncClient(transport=app, base_url="http://testserver") as browser:
            await sign_in(browser, "root")
            page = await browser.get("/admin/integration")
            assert "health-failing" in page.text
            assert "Jira credentials" in page.text
            metrics = (await browser.get("/metrics")).text
        assert 'syncengine_jira_check_ok{check="Jira credentials",project="shop"} 0.0' in metrics
        assert 'syncengine_jira_check_ok{check="Jira reachable",project="shop"} 1.0' in metrics
    finally:
        await container.aclose()


async def test_basic_auth_disabled_and_an_unreachable_jira(
    database_url: str, dc: Simulator, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        projects={
            "shop": {
                "jira": {
                    "url": "http://jira.local",
                    "user": "bot",
                    "api_token": "sim-api-token",
                    "max_retries": 0,
                }
            }
        },
    )
    container = await bootstrap(settings, migrate=False, jira_transport=dc.transport())
    try:
        await prepare_projects(container, lambda _line: None)
        checks = container.connection_checks
        assert checks is not None
        dc.oauth.basic_auth_enabled = False
        assert await checks.run() == 1
        failing = _failing(await checks.latest())
        assert "bearer" in failing["basic auth"].fix  # type: ignore[attr-defined]
        dc.oauth.basic_auth_enabled = True
        dc.add_fault(kind="timeout", route="GET /myself", seconds=30)
        checks.deadline_seconds = 0.3
        assert await checks.run() == 1
        assert "Jira reachable" in _failing(await checks.latest())
        # Passive means passive: no check calls Jira.
        await container.web.integration.set_active("shop", False, actor="test")
        before = dc.calls()
        assert await checks.run() == 0
        assert dc.calls() == before
    finally:
        await container.aclose()
