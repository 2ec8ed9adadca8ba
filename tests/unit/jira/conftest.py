"""Shared pieces of the Jira client tests: a fake clock, configs, recorded fixtures."""

from __future__ import annotations

import ast
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from syncengine.jira import JiraClient, JiraConfig
from syncengine.jira.config import ApiVersion, Deployment

VENDOR = Path(__file__).resolve().parents[2] / "vendor" / "jira"
TOKEN = "tok-SECRET-9f8e7d6c5b4a"
SITE = "https://acme.atlassian.net"


def load_json(relative: str) -> Any:
    return json.loads((VENDOR / "fixtures" / relative).read_text(encoding="utf-8"))


def load_pydict(relative: str) -> dict[Any, Any]:
    """The ``responses[key] = value`` assignments of an atlassian-python-api fixture."""
    names = {"null": None, "true": True, "false": False}

    class _Literals(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            return ast.Constant(names[node.id]) if node.id in names else node

    tree = _Literals().visit(ast.parse((VENDOR / "fixtures" / relative).read_text()))
    result: dict[Any, Any] = {}
    for node in tree.body:
        assert isinstance(node, ast.Assign)
        target = node.targets[0]
        assert isinstance(target, ast.Subscript)
        result[ast.literal_eval(target.slice)] = ast.literal_eval(node.value)
    return result


@dataclass
class FakeTime:
    """A monotonic clock that only moves when something sleeps."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)
    wall: datetime = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.wall += timedelta(seconds=seconds)

    def clock(self) -> float:
        return self.now

    def utcnow(self) -> datetime:
        return self.wall


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def make_config(
    *,
    deployment: Deployment = "cloud",
    api_version: ApiVersion = 3,
    site: str = SITE,
    **kwargs: Any,
) -> JiraConfig:
    options: dict[str, Any] = {
        "user": "bot@example.com",
        "token": SecretStr(TOKEN),
        "requests_per_second": 1000.0,
        "max_retries": 3,
    }
    options.update(kwargs)
    return JiraConfig(site=site, deployment=deployment, api_version=api_version, **options)


ClientFactory = Callable[..., JiraClient]


@pytest.fixture
async def client_factory(fake_time: FakeTime) -> AsyncIterator[ClientFactory]:
    made: list[JiraClient] = []

    def build(**kwargs: Any) -> JiraClient:
        session_options = {k: kwargs.pop(k) for k in ("transport", "random") if k in kwargs}
        client = JiraClient.open(
            make_config(**kwargs),
            sleep=fake_time.sleep,
            clock=fake_time.clock,
            now=fake_time.utcnow,
            **session_options,
        )
        made.append(client)
        return client

    yield build
    for client in made:
        await client.aclose()
