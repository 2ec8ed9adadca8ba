"""No OAuth secret in clear: not in any table of the database, not in the logs of a
connect, refresh and webhook registration, not in ``config check``."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from syncengine.bootstrap import bootstrap, prepare_projects
from syncengine.entrypoints.config_display import display_settings
from syncengine.jira.simulator import ManualClock, create_simulator
from syncengine.settings import Settings
from syncengine.store.database import async_url
from tests.integration.jira.test_oauth import (
    BUG,
    CALLBACK,
    CLIENT_ID,
    CLIENT_SECRET,
    _connect_oauth2,
    _jira,
)

SITE = "https://acme.atlassian.net"


async def test_no_secret_in_the_database_the_logs_or_config_check(
    database_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    monkeypatch.setenv("SYNCENGINE_SECRET_KEY", key)
    caplog.set_level(logging.DEBUG)
    sim = create_simulator("cloud", base_url=SITE, clock=ManualClock())
    sim.oauth.add_client(CLIENT_ID, CLIENT_SECRET, CALLBACK)
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        projects={"shop": {"jira": _jira("oauth2", SITE, api_version=3)}},
    )
    container = await bootstrap(
        settings, migrate=False, jira_transport=sim.transport(), clock=sim.clock.now
    )
    try:
        await prepare_projects(container, lambda _line: None)
        await _connect_oauth2(container, sim)
        assert container.webhook_registrar is not None
        await container.webhook_registrar.register("shop")
        await container.jira.for_project("shop").create_issue(BUG)
        sim.oauth.expire_access_tokens()
        await container.jira.for_project("shop").create_issue(BUG)
        assert container.connector is not None
        held = (await container.connector.credentials.connected("shop")).secrets
        assert container.connection_checks is not None
        await container.connection_checks.run()
    finally:
        await container.aclose()
    secrets = [held["access_token"], held["refresh_token"], CLIENT_SECRET, key]
    engine = create_async_engine(async_url(database_url))
    dump = []
    try:
        async with engine.connect() as conn:
            for table in ("jira_credentials", "jira_webhooks", "health_checks", "audit_log"):
                dump.append(repr((await conn.execute(text(f"SELECT * FROM {table}"))).all()))
    finally:
        await engine.dispose()
    logs = caplog.text
    shown = json.dumps(display_settings(settings), default=str)
    assert dump[1] != "[]"  # the webhook row is there, without a secret
    for secret in secrets:
        assert secret not in "".join(dump)
        assert secret not in logs
        assert secret not in shown
