"""The support portal follows Jira's webhooks: a status change or a comment made in Jira
shows on the request within 2 s, with the pull-back round an hour away.

One ``syncengine serve`` and one ``syncengine jira-sim`` process; the simulator delivers
signed webhooks to the server as Jira Cloud does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.browser import JiraSim, started
from tests.e2e.conftest import Server

pytestmark = pytest.mark.slow

ADMIN = "portal-webhooks-admin-token-0123456789"
SECRET = "portal-webhook-secret-0123456789"
# What the issue asks of a webhook-driven change (the poll, without webhooks, took 22-60 s).
SHOWS_WITHIN = 2.0


def _config(tmp: Path, sim_url: str) -> Path:
    config = tmp / "syncengine.toml"
    config.write_text(
        f'''data_dir = "{tmp}/data"
admin_token = "{ADMIN}"

[projects.portal.jira]
url = "{sim_url}"
deployment = "cloud"
user = "bot@example.com"
api_token = "sim-api-token"
project_key = "SUP"
webhook_secret = "{SECRET}"

[projects.portal.sync]
poll_interval_seconds = 3600

[projects.portal.support]
enabled = true
labels = ["Question"]
categories = ["Billing"]
category_field = "customfield_10070"
'''
    )
    return config


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[JiraSim]:
    simulator = JiraSim(tmp_path)
    yield simulator
    simulator.stop()


@pytest.fixture
def server(tmp_path: Path, sim: JiraSim) -> Iterator[Server]:
    yield from started(Server(_config(tmp_path, sim.url)))


def _until(check: Callable[[], Any], *, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within:g} s")
        time.sleep(0.05)


def test_a_jira_status_change_and_comment_show_on_the_request_within_2_s(
    sim: JiraSim, server: Server
) -> None:
    with (
        httpx.Client(
            base_url=f"{server.url}/api/v1/projects/portal",
            headers={"Authorization": f"Bearer {ADMIN}"},
        ) as api,
        sim.client() as jira,
    ):
        hook = jira.post(
            "/_sim/webhooks",
            json={"url": f"{server.url}/api/v1/jira/webhooks/portal", "secret": SECRET},
        )
        assert hook.status_code == 201, hook.text
        filed = api.post(
            "/support-requests",
            data={
                "label": "Question",
                "category": "Billing",
                "summary": "Refunds answer 500",
                "description": "Since 9",
            },
        )
        assert filed.status_code == 201, filed.text
        url = f"/support-requests/{filed.json()['id']}"

        def detail() -> dict[str, Any]:
            answer: dict[str, Any] = api.get(url).json()
            return answer

        key = _until(lambda: detail()["jira_issue_key"], within=30, what="the request's Jira issue")
        _until(lambda: detail()["status"] == "To Do", within=30, what="its first status")

        moves = jira.get(f"/rest/api/2/issue/{key}/transitions").json()["transitions"]
        start = next(t["id"] for t in moves if t["to"]["name"] == "In Progress")
        assert jira.post(
            f"/rest/api/2/issue/{key}/transitions", json={"transition": {"id": start}}
        ).is_success
        _until(lambda: detail()["status"] == "In Progress", within=SHOWS_WITHIN, what="status")

        answer = jira.post(f"/rest/api/2/issue/{key}/comment", json={"body": "Looking now."})
        assert answer.status_code == 201
        _until(lambda: detail()["comments"], within=SHOWS_WITHIN, what="the Jira comment")
        assert [c["body"] for c in detail()["comments"]] == ["Looking now."]

        def answered() -> list[dict[str, Any]] | None:
            # Every delivery answered (one may still be on its way when the page shows both).
            found: list[dict[str, Any]] = jira.get("/_sim/webhooks").json()["deliveries"]
            return found if found and all(d["outcomes"] for d in found) else None

        deliveries = _until(answered, within=30, what="every delivery's answer")
    assert all(d["outcomes"] == ["200"] for d in deliveries), deliveries
