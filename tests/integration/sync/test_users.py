"""Engine users ↔ Jira users: pinned map, search by e-mail (cached), round trips."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from syncengine.jira.client import JiraClient
from syncengine.jira.config import JiraConfig
from syncengine.jira.models import JiraUser
from syncengine.jira.simulator import DEFAULT_LOGIN, DEFAULT_TOKEN, Simulator, create_simulator
from syncengine.jira.simulator.seed import SeedUsers
from syncengine.sync.users import UnmappedUser, UserDirectory


@pytest.fixture
async def jira() -> AsyncIterator[tuple[Simulator, JiraClient]]:
    sim = create_simulator("cloud", seed=True)
    config = JiraConfig(
        site="http://jira.local",
        deployment="cloud",
        user=DEFAULT_LOGIN,
        token=SecretStr(DEFAULT_TOKEN),
    )
    client = JiraClient.open(config, transport=sim.transport())
    yield sim, client
    await client.aclose()


async def test_pinned_map_wins_and_costs_nothing(jira: tuple[Simulator, JiraClient]) -> None:
    sim, client = jira
    users = UserDirectory("shop", {"Ann@X.io": "acc-ann"})
    before = sim.calls()
    assert await users.jira_id(client, "ann@x.io") == "acc-ann"
    assert await users.jira_id(client, None) is None
    assert await users.jira_id(client, "jira:acc-raw") == "acc-raw"
    assert sim.calls() == before
    assert users.engine_user(JiraUser(account_id="acc-ann")) == "Ann@X.io"


async def test_search_by_email_is_cached(jira: tuple[Simulator, JiraClient]) -> None:
    sim, client = jira
    users = UserDirectory("shop", {})
    bob = sim.user(SeedUsers.bob)
    assert await users.jira_id(client, SeedUsers.bob) == bob.account_id
    calls = sim.calls()
    assert await users.jira_id(client, SeedUsers.bob.upper()) == bob.account_id
    assert sim.calls() == calls
    assert users.engine_user(JiraUser(account_id=bob.account_id)) == SeedUsers.bob


async def test_unknown_user_names_the_setting_to_add(jira: tuple[Simulator, JiraClient]) -> None:
    _, client = jira
    users = UserDirectory("shop", {})
    with pytest.raises(UnmappedUser) as caught:
        await users.jira_id(client, "nobody@x.io")
    assert "nobody@x.io" in caught.value.user_message()
    assert "projects.shop.jira.user_map" in caught.value.user_message()
    assert not caught.value.transient


def test_inbound_users_without_email_round_trip() -> None:
    users = UserDirectory("shop", {})
    hidden = JiraUser(account_id="acc-hidden")
    assert users.engine_user(hidden) == "jira:acc-hidden"
    assert users.engine_user(None) is None
    assert users.engine_user(JiraUser(name="carol", email="carol@x.io")) == "carol@x.io"
