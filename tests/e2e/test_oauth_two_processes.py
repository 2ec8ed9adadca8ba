"""Two ``syncengine serve`` processes on PostgreSQL share one OAuth 2.0 grant (issue 16).

Connected once with ``syncengine jira connect`` against a ``jira-sim --flavour
datacenter`` process (an incoming OAuth 2.0 link with rotating refresh tokens),
both processes file tickets. Jira then refuses every access token at once and both
are given work together: they refresh the same grant at the same moment. Jira
refuses a rotated refresh token when it is used again, so a process that lost the
rotated token would fail from then on. Afterwards each process, alone (the other
paused), still files tickets, and only one rotation per expiry went through.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from syncengine.store.database import sync_url
from tests.conftest import _truncate_postgres
from tests.e2e.browser import JiraSim, wait_until
from tests.e2e.conftest import Server, free_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
TOKEN = "oauth-two-processes-token-01"
CLIENT_ID, CLIENT_SECRET = "syncengine-two", "two-process-secret-8e2f"


def _config(folder: Path, database_url: str, public_url: str, sim: JiraSim) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "syncengine.toml"
    config.write_text(
        f'''database_url = "{database_url}"
data_dir = "{folder}/data"
public_url = "{public_url}"
log_level = "warning"
outbox_lease_seconds = 10
stop_grace_seconds = 5

[projects.shop]
submission_tokens = ["{TOKEN}"]

[projects.shop.jira]
url = "{sim.url}"
deployment = "datacenter"
auth = "oauth2"
oauth_client_id = "{CLIENT_ID}"
oauth_client_secret = "{CLIENT_SECRET}"
project_key = "CRASH"
issue_type = "Task"
''',
        encoding="utf-8",
    )
    return config


def _cli(config: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "syncengine", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _allow(authorize_url: str) -> str:
    """The administrator opens the URL and presses Allow; returns where Jira sends them."""
    with httpx.Client(follow_redirects=False, timeout=30) as browser:
        page = browser.get(authorize_url)
        assert page.status_code == 200, page.text
        form = dict(re.findall(r"name='([^']+)' value='([^']*)'", page.text))
        action = re.search(r"action='([^']+)'", page.text)
        assert action is not None
        parts = urlsplit(authorize_url)
        allowed = browser.post(
            f"{parts.scheme}://{parts.netloc}{action.group(1)}",
            data=form | {"decision": "allow", "user": ""},
        )
    assert allowed.status_code == 302, allowed.text
    return allowed.headers["location"]


def _report(server: Server, name: str) -> None:
    answer = httpx.post(
        f"{server.url}/api/v1/projects/shop/reports",
        json={"fingerprint": name, "classifier": "KeyError", "message": name},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=60,
    )
    assert answer.status_code == 202, answer.text


def _linked(database_url: str) -> tuple[int, int]:
    """(groups linked to an issue, outbox items not done)."""
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            (links,) = conn.execute(text("SELECT count(*) FROM issue_links")).one()
            (open_items,) = conn.execute(
                text("SELECT count(*) FROM outbox WHERE state IN ('pending','running','dead')")
            ).one()
        return int(links), int(open_items)
    finally:
        engine.dispose()


def _oauth(sim: JiraSim, **change: bool) -> dict[str, int]:
    answer = httpx.post(f"{sim.url}/_sim/oauth/settings", json=change)
    assert answer.status_code == 200, answer.text
    settings: dict[str, int] = answer.json()
    return settings


def test_two_processes_refresh_one_grant_at_once_and_both_keep_working(
    tmp_path: Path, postgres_url: str
) -> None:
    _truncate_postgres(postgres_url)
    sim = JiraSim(tmp_path, "--flavour", "datacenter")
    env = {"SYNCENGINE_SECRET_KEY": Fernet.generate_key().decode()}
    servers: list[Server] = []
    try:
        ports = [free_port(), free_port()]
        configs = [
            _config(tmp_path / f"p{n}", postgres_url, f"http://127.0.0.1:{port}", sim)
            for n, port in enumerate(ports)
        ]
        callback = f"http://127.0.0.1:{ports[0]}/integration/shop/oauth/callback"
        answer = httpx.post(
            f"{sim.url}/_sim/oauth/clients",
            json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uri": callback},
        )
        assert answer.status_code == 204, answer.text

        # Connect once, from the command line, as an administrator would.
        started = _cli(configs[0], env, "jira", "connect", "shop")
        authorize = re.search(r"^\s+(http\S+authorize\S+)$", started, re.MULTILINE)
        assert authorize is not None, started
        connected = _cli(configs[0], env, "jira", "connect", "shop", "--code", _allow(authorize[1]))
        assert "connected to Jira" in connected
        assert CLIENT_SECRET not in started + connected

        pairs = zip(configs, ports, strict=True)
        servers = [Server(config, env, port=port) for config, port in pairs]
        for server in servers:
            server.wait_ready()
        filed = 0

        def file_tickets(targets: list[Server], count: int) -> None:
            nonlocal filed
            for n in range(count):
                _report(targets[n % len(targets)], f"oauth-{filed + n:03d}")
            filed += count
            wait_until(
                lambda: _linked(postgres_url) == (filed, 0),
                timeout=120,
                what=f"{filed} tickets filed and an empty outbox",
            )

        file_tickets(servers, 6)
        assert _oauth(sim)["refreshes"] == 0
        # Jira refuses every access token at once; both processes get work together.
        _oauth(sim, expire_access_tokens=True)
        file_tickets(servers, 10)
        # Each process alone (the other paused) still files tickets with the live grant.
        for alone, paused in ((servers[0], servers[1]), (servers[1], servers[0])):
            os.kill(paused.proc.pid, signal.SIGSTOP)
            try:
                _oauth(sim, expire_access_tokens=True)
                file_tickets([alone], 3)
            finally:
                os.kill(paused.proc.pid, signal.SIGCONT)
        oauth = _oauth(sim)
        # One rotation went through per expiry; a loser's refresh (at most one per race)
        # was refused by Jira and the loser used the winner's token instead.
        assert oauth["refreshes"] - oauth["refused_refreshes"] == 3, oauth
        logs = ""
        for server in servers:
            assert server.stop() == 0, server.log.read_text()[-3000:]
            logs += server.log.read_text()
        assert CLIENT_SECRET not in logs
        assert "revoked" not in logs.lower(), logs[-3000:]
    finally:
        for server in servers:
            if server.proc.poll() is None:
                os.kill(server.proc.pid, signal.SIGCONT)
                server.proc.kill()
                server.proc.wait()
            server.close()
        sim.stop()
