"""Every auth kind against the simulator, the same walk: connect (OAuth), a crash report
becomes a ticket, resolving its group moves the issue through a transition (both by the
engine's own outbox work), a token refresh (OAuth 2.0), and a revoked credential that
becomes one clear failing check rather than a storm of retries."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from syncengine.bootstrap import bootstrap, prepare_projects
from syncengine.domain.groups import GroupState
from syncengine.domain.reports import CrashReport, Frame
from syncengine.jira.simulator import Simulator, create_simulator
from syncengine.settings import Settings
from tests.integration.jira.test_oauth import (
    BUG,
    CALLBACK,
    CLIENT_ID,
    CLIENT_SECRET,
    _browser_allows,
    _connect_oauth2,
    _jira,
)

CLOUD, DC = "https://acme.atlassian.net", "http://jira.local"
KINDS = ["basic-cloud", "pat-dc", "oauth1-dc", "oauth2-dc", "oauth2-cloud"]


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.fernet import Fernet

    monkeypatch.setenv("SYNCENGINE_SECRET_KEY", Fernet.generate_key().decode())


def _setup(kind: str) -> tuple[Simulator, dict[str, Any]]:
    cloud = kind.endswith("cloud")
    sim = create_simulator("cloud" if cloud else "datacenter", base_url=CLOUD if cloud else DC)
    sim.oauth.add_client(CLIENT_ID, CLIENT_SECRET, CALLBACK)
    extra = {"max_retries": 0, "custom_fields": {"customfield_10050": "Major"}}
    if kind == "basic-cloud":
        jira = {"url": CLOUD, "user": "bot@example.com", "api_token": "sim-api-token", **extra}
    elif kind == "pat-dc":
        jira = {"url": DC, "auth": "bearer", "api_token": "sim-api-token", **extra}
    elif kind == "oauth2-cloud":
        jira = _jira("oauth2", CLOUD, api_version=3, max_retries=0)
    else:
        jira = _jira(kind.split("-", maxsplit=1)[0], DC, max_retries=0)
    return sim, jira


@pytest.mark.parametrize("kind", KINDS)
async def test_each_auth_kind_connects_files_transitions_refreshes_and_fails_clearly(
    kind: str, database_url: str, tmp_path: Path
) -> None:
    sim, jira = _setup(kind)
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        ingest={"batch_max_delay_ms": 1},
        projects={"shop": {"jira": jira}},
    )
    container = await bootstrap(settings, migrate=False, jira_transport=sim.transport())
    try:
        await prepare_projects(container, lambda _line: None)
        if kind == "oauth1-dc":
            assert container.connector is not None
            first = await container.connector.start("shop")
            sim.oauth.add_app_link(first.consumer_key, first.public_key)
            start = await container.connector.start("shop")
            allowed = await _browser_allows(sim, start.authorize_url)
            await container.connector.complete("shop", verifier=allowed.headers["location"])
        elif kind.startswith("oauth2"):
            await _connect_oauth2(container, sim)
        # The engine files the ticket and, when the group is resolved, moves the issue.
        project = await container.projects.get("shop")
        assert project is not None
        report = CrashReport(
            project="shop",
            timestamp=datetime.now(UTC),
            fingerprint=f"auth-{kind}",
            classifier="KeyError",
            message="boom",
            frames=(Frame(function="charge", module="billing", filename="billing.py", line=1),),
            attributes={"version": "1.0"},
            version="1.0",
        )
        group_id = (await container.ingest.submit(project.id, [report]))[0].group_id
        await container.worker.drain()
        link = await container.links.for_group(group_id)
        assert link is not None, await container.outbox.list()
        status = sim.state.statuses[sim.issue(link.issue_key).status_id]
        assert status.category.key != "done"
        await container.changes.set_state(group_id, GroupState.RESOLVED, actor="ann@example.com")
        await container.worker.drain()
        issue = sim.issue(link.issue_key)
        assert sim.state.statuses[issue.status_id].category.key == "done"
        client = container.jira.for_project("shop")
        if kind.startswith("oauth2"):
            sim.oauth.expire_access_tokens()
            await client.create_issue(BUG)
            assert sim.oauth.refreshes == 1
        checks = container.connection_checks
        assert checks is not None
        assert await checks.run() == 0
        # The credential is revoked in Jira.
        bot = next(u for u in sim.state.users.values() if u.admin and u.active)
        if kind in ("basic-cloud", "pat-dc"):
            sim.revoke_token("sim-api-token")
        else:
            sim.oauth.revoke_user(bot.account_id)
            sim.oauth.expire_access_tokens()
        calls = sim.calls()
        for _ in range(3):
            assert await checks.run() == 1
        failing = {r.name: r for r in (await checks.latest())["shop"] if not r.ok}
        assert set(failing) == {"Jira credentials"}
        assert failing["Jira credentials"].fix
        # One call per run at most: a check, not a retry storm.
        assert sim.calls() - calls <= 3
        if kind.startswith("oauth2"):
            assert sim.oauth.refreshes == 2  # the refusal was asked once, then remembered
    finally:
        await container.aclose()
