"""Metrics and readiness reflect what the engine did: reports, groups, Jira calls, errors."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from pydantic import SecretStr

from syncengine.errors import JiraTransientError
from syncengine.web import create_app
from tests.integration.lifecycle_harness import Clock, crash, engine, ingest

STATUS = SecretStr("status-token-for-tests")
BEARER = {"Authorization": f"Bearer {STATUS.get_secret_value()}"}


async def test_metrics_and_readyz_after_tickets(database_url: str) -> None:
    container, sim = await engine(database_url, Clock())
    try:
        await ingest(container, [crash("m1"), crash("m2"), crash("m1")])
        await container.worker.drain()
        sim.add_fault(kind="error", status=503, route="GET /issue/*")
        client = container.jira.for_project("shop")
        with pytest.raises(JiraTransientError):
            await client.get_issue(sim.issues("CRASH")[0].key)
        web = replace(container.web, config=replace(container.web.config, status_token=STATUS))
        app = create_app(web)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as http:
            text = (await http.get("/metrics")).text
            anonymous = await http.get("/readyz")
            ready = (await http.get("/readyz", headers=BEARER)).json()
        # Anonymous callers see the state, never Jira's error text.
        assert anonymous.json()["checks"]["integrations"]["shop"] == {
            "status": "active",
            "jira": "failing",
        }
        assert "503" not in anonymous.text
        assert "GET" not in anonymous.text
        assert 'syncengine_groups{state="open"} 2.0' in text
        assert 'syncengine_jira_calls_total{operation="POST /issue/bulk",status="201"} 1.0' in text
        assert 'status="503"' in text
        assert "syncengine_jira_retries_total" in text
        shop = ready["checks"]["integrations"]["shop"]
        assert shop["last_successful_jira_call"] is not None
        assert "503" in shop["last_jira_error"]["error"]
    finally:
        await container.aclose()
