"""Who reads /readyz's details, /metrics and the API documentation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from syncengine.bootstrap import Container, bootstrap, prepare_projects
from syncengine.settings import Settings
from syncengine.sync.scheduler import OUTBOX_LOOP
from syncengine.web import create_app
from tests.integration.web.conftest import ADMIN_TOKEN, sign_in, web_settings_data

STATUS_TOKEN = "status-token-for-tests-0123"
JIRA_TEXT = "GET /rest/api/2/issue/SUP-1: 503 secret-looking detail"


async def _built(tmp_path: Path, **web: Any) -> Container:
    data = web_settings_data(f"sqlite+aiosqlite:///{tmp_path}/store.db")
    data["web"].update(web)
    container = await bootstrap(Settings(**data), support_jira={})
    await prepare_projects(container, lambda _line: None)
    container.metrics.last_jira_error["api"] = (datetime.now(UTC), JIRA_TEXT)
    return container


@pytest.fixture
async def closed(tmp_path: Path) -> AsyncIterator[Container]:
    container = await _built(tmp_path, status_token=STATUS_TOKEN, metrics="token", api_docs="admin")
    try:
        yield container
    finally:
        await container.aclose()


def _client(container: Container) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(container.web))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_by_default_anyone_reads_states_but_no_jira_error_text(tmp_path: Path) -> None:
    container = await _built(tmp_path)
    try:
        async with _client(container) as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["checks"]["integrations"]["api"] == {
                "status": "active",
                "jira": "failing",
            }
            assert "503" not in ready.text
            assert "secret-looking" not in ready.text
            assert (await client.get("/metrics")).status_code == 200
            assert (await client.get("/openapi.json")).status_code == 200
            assert (await client.get("/docs")).status_code == 200
            # The admin token shows the details.
            full = await client.get("/readyz", headers=_bearer(ADMIN_TOKEN))
            assert full.json()["checks"]["integrations"]["api"]["last_jira_error"]["error"] == (
                JIRA_TEXT
            )
    finally:
        await container.aclose()


async def test_a_status_token_closes_metrics_and_opens_the_details(closed: Container) -> None:
    async with _client(closed) as client:
        refused = await client.get("/metrics")
        assert refused.status_code == 401
        assert "web.status_token" in refused.json()["detail"]
        assert (await client.get("/metrics", headers=_bearer("wrong"))).status_code == 401
        assert (await client.get("/metrics", headers=_bearer(STATUS_TOKEN))).status_code == 200
        assert (await client.get("/metrics", headers=_bearer(ADMIN_TOKEN))).status_code == 200
        # Probes still get the status code without a token.
        anonymous = await client.get("/readyz")
        assert anonymous.status_code == 200
        assert JIRA_TEXT not in anonymous.text
        detailed = await client.get("/readyz", headers=_bearer(STATUS_TOKEN))
        assert JIRA_TEXT in detailed.text


async def test_api_docs_for_admins_only(closed: Container) -> None:
    async with _client(closed) as client:
        for path in ("/openapi.json", "/docs", "/redoc"):
            assert (await client.get(path)).status_code == 401, path
            assert (await client.get(path, headers=_bearer(STATUS_TOKEN))).status_code == 401
            assert (await client.get(path, headers=_bearer(ADMIN_TOKEN))).status_code == 200
        await sign_in(client, "alice")  # a portal user
        assert (await client.get("/openapi.json")).status_code == 403
    async with _client(closed) as admin:
        await sign_in(admin, "root")
        spec = await admin.get("/openapi.json")
        assert spec.status_code == 200
        assert "/api/v1/projects/{project}/reports" in spec.json()["paths"]


async def test_api_docs_can_be_off(tmp_path: Path) -> None:
    container = await _built(tmp_path, api_docs="off")
    try:
        async with _client(container) as client:
            for path in ("/openapi.json", "/docs", "/redoc"):
                answer = await client.get(path, headers=_bearer(ADMIN_TOKEN))
                assert answer.status_code == 404, path
    finally:
        await container.aclose()


async def test_a_dead_worker_makes_readyz_not_ready_and_shows_anyone_only_its_state(
    tmp_path: Path,
) -> None:
    container = await _built(tmp_path)
    try:
        container.start_background()
        runtime = container.runtime
        assert runtime is not None
        async with _client(container) as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["checks"]["background"]["outbox"] == "ok"
            # A crash whose text must stay hidden, then the loop's task dies outright.
            runtime.supervision.crashed(OUTBOX_LOOP, RuntimeError("secret-looking detail"))
            task = runtime._worker_task  # the test kills what supervision guards
            assert task is not None
            task.cancel()
            await asyncio.wait({task})
            dead = await client.get("/readyz")
            assert dead.status_code == 503
            assert dead.json()["status"] == "not ready"
            assert dead.json()["checks"]["background"]["outbox"] == "dead"
            assert "secret-looking" not in dead.text
            full = await client.get("/readyz", headers=_bearer(ADMIN_TOKEN))
            outbox = full.json()["checks"]["background"]["outbox"]
            assert outbox["state"] == "dead"
            assert outbox["crashes"] == 1
            assert outbox["last_error"] == "RuntimeError: secret-looking detail"
    finally:
        await container.aclose()


async def test_readyz_says_when_this_process_runs_no_background_work(tmp_path: Path) -> None:
    container = await _built(tmp_path)
    try:
        async with _client(container) as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["checks"]["background"] == "off"
    finally:
        await container.aclose()
