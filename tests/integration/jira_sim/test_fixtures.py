"""The simulator's answers carry the keys recorded real Jira answers carry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from syncengine.jira.simulator import Simulator
from tests.integration.jira_sim.conftest import create

VENDOR = Path(__file__).resolve().parents[2] / "vendor" / "jira" / "fixtures"


def _recorded(name: str) -> Any:
    return json.loads((VENDOR / name).read_text())


async def test_server_info_keys(client: httpx.AsyncClient, dc_client: httpx.AsyncClient) -> None:
    recorded = set(_recorded("jira-cli-serverinfo.json"))
    cloud = set((await client.get("/rest/api/2/serverInfo")).json())
    # Cloud's spec (additionalProperties: false) has no defaultLocale, though live Cloud sends it.
    assert recorded - {"defaultLocale"} <= cloud
    assert recorded <= set((await dc_client.get("/rest/api/2/serverInfo")).json())


async def test_dc_createmeta_page_keys(dc_client: httpx.AsyncClient) -> None:
    recorded = _recorded("jira-cli-createmetav9.json")
    ours = (await dc_client.get("/rest/api/2/issue/createmeta/CRASH/issuetypes")).json()
    assert set(recorded) == set(ours)
    assert set(recorded["values"][0]) <= set(ours["values"][0])


async def test_transition_keys(sim: Simulator, client: httpx.AsyncClient) -> None:
    recorded = _recorded("go-jira-transitions.json")
    key = (await create(client))["key"]
    ours = (
        await client.get(
            f"/rest/api/2/issue/{key}/transitions", params={"expand": "transitions.fields"}
        )
    ).json()
    assert set(recorded) == set(ours)
    done = next(t for t in ours["transitions"] if t["name"] == "Done")
    assert set(recorded["transitions"][0]) <= set(done)
    assert set(recorded["transitions"][0]["to"]) <= set(done["to"])
