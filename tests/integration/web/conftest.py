"""The web app on each store backend, reached through httpx's ASGI transport."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from syncengine.bootstrap import Container, bootstrap, prepare_projects
from syncengine.settings import Settings
from syncengine.web import create_app
from tests.fake_support_jira import FakeSupportJira
from tests.passwords import cheap_hash

ADMIN_TOKEN = "admin-token-for-tests-0123456789"
PASSWORDS = {"alice": "alice-pw-1", "bob": "bob-pw-22", "root": "root-pw-333"}
_HASHES: dict[str, str] = {}


def _hash(name: str) -> str:
    if name not in _HASHES:
        _HASHES[name] = cheap_hash(PASSWORDS[name])
    return _HASHES[name]


def web_settings(database_url: str, *, active: bool = True) -> Settings:
    return Settings(**web_settings_data(database_url, active=active))


def web_settings_data(database_url: str, *, active: bool = True) -> dict[str, Any]:
    """The keyword arguments of :func:`web_settings`, for tests that change some."""
    return {
        "database_url": database_url,
        "admin_token": ADMIN_TOKEN,
        "web": {
            "session_secret": "s" * 40,
            "users": {
                "alice": {"password_hash": _hash("alice"), "role": "portal"},
                "bob": {"password_hash": _hash("bob"), "role": "portal"},
                "root": {"password_hash": _hash("root"), "role": "admin"},
            },
        },
        "projects": {
            "api": {
                "name": "API Portal",
                "integration_active": active,
                "jira": {"project_key": "SUP"},
                "support": {
                    "enabled": True,
                    "labels": ["Bug", "Question"],
                    "categories": ["Payment", "Customer"],
                    "api_products": ["Payments API"],
                    "category_field": "customfield_10070",
                    "max_attachment_bytes": 2000,
                },
            }
        },
    }


@dataclass
class Web:
    container: Container
    jira: FakeSupportJira
    app_transport: httpx.ASGITransport

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=self.app_transport, base_url="http://testserver", follow_redirects=False
        )


async def make_web(database_url: str, *, active: bool = True) -> Web:
    settings = web_settings(database_url, active=active)
    jira = FakeSupportJira()
    container = await bootstrap(settings, migrate=False, support_jira={"api": jira})
    await prepare_projects(container, lambda _line: None)
    app = create_app(container.web)
    return Web(container=container, jira=jira, app_transport=httpx.ASGITransport(app=app))


@pytest.fixture
async def web(database_url: str) -> AsyncIterator[Web]:
    made = await make_web(database_url)
    try:
        yield made
        assert made.container.db.checked_out() == 0
    finally:
        await made.container.aclose()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, name: str, password: str | None = None) -> str:
    """Sign in through the form; returns the session's CSRF token."""
    page = await client.get("/login")
    token = csrf_of(page.text)
    answer = await client.post(
        "/login",
        data={
            "username": name,
            "password": PASSWORDS[name] if password is None else password,
            "csrf_token": token,
        },
    )
    assert answer.status_code == 303, answer.text
    home = await client.get("/projects/api/support")
    return csrf_of(home.text)
