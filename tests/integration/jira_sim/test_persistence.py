"""The simulator kept in a file: a restart changes nothing; one writer, readers refuse writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from syncengine.jira.simulator import DEFAULT_LOGIN, DEFAULT_TOKEN, Simulator, create_simulator
from syncengine.jira.simulator.model import Version
from tests.integration.jira_sim.conftest import BUG

SITE = "http://127.0.0.1:8080/jira"


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[list[Simulator]]:
    sims: list[Simulator] = []
    yield sims
    for sim in sims:
        sim.close()


def _open(tmp_path: Path, opened: list[Simulator]) -> Simulator:
    sim = create_simulator("cloud", base_url=SITE, state_path=tmp_path / "jira-sim")
    opened.append(sim)
    return sim


def _client(sim: Simulator) -> httpx.AsyncClient:
    return sim.client(login=DEFAULT_LOGIN, token=DEFAULT_TOKEN)


async def _create(client: httpx.AsyncClient, summary: str) -> str:
    answer = await client.post("/rest/api/2/issue", json={"fields": {**BUG, "summary": summary}})
    assert answer.status_code == 201, answer.text
    key: str = answer.json()["key"]
    return key


async def test_a_restart_keeps_issues_and_their_parts_and_numbers_on(
    tmp_path: Path, opened: list[Simulator]
) -> None:
    first = _open(tmp_path, opened)
    async with _client(first) as jira:
        assert await _create(jira, "Checkout crashes") == "CRASH-1"
        await _create(jira, "Gone soon")
        assert (
            await jira.post("/rest/api/2/issue/CRASH-1/comment", json={"body": "seen"})
        ).is_success
        prop = await jira.put("/rest/api/2/issue/CRASH-1/properties/syncengine", json={"group": 7})
        assert prop.is_success
        moved = await jira.post(
            "/rest/api/2/issue/CRASH-1/transitions", json={"transition": {"id": "11"}}
        )
        assert moved.status_code == 204, moved.text
    first.delete_issue("CRASH-2")
    crash = first.state.projects["CRASH"]
    crash.versions.append(Version(id="19999", name="9.9.9", project_id=crash.id))
    first.close()
    opened.remove(first)

    again = _open(tmp_path, opened)
    async with _client(again) as jira:
        issue = (await jira.get("/rest/api/2/issue/CRASH-1?properties=syncengine")).json()
        assert issue["fields"]["summary"] == "Checkout crashes"
        assert issue["fields"]["status"]["name"] == "In Progress"
        assert [c["body"] for c in issue["fields"]["comment"]["comments"]] == ["seen"]
        assert issue["properties"] == {"syncengine": {"group": 7}}
        assert (await jira.get("/rest/api/2/issue/CRASH-2")).status_code == 404
        # Numbers go on from where they were: a new issue never takes an old key.
        assert await _create(jira, "After the restart") == "CRASH-3"
        versions = (await jira.get("/rest/api/2/project/CRASH/versions")).json()
        assert "9.9.9" in [v["name"] for v in versions]
        changelog = (await jira.get("/rest/api/2/issue/CRASH-1/changelog")).json()
        assert changelog["values"], "the issue's history survives too"


async def test_a_second_process_reads_the_site_and_refuses_to_change_it(
    tmp_path: Path, opened: list[Simulator]
) -> None:
    writer = _open(tmp_path, opened)
    reader = _open(tmp_path, opened)  # the lock is taken: this copy only reads
    assert writer.state_file is not None
    assert writer.state_file.writable
    assert reader.state_file is not None
    assert not reader.state_file.writable
    async with _client(writer) as jira, _client(reader) as copy:
        await _create(jira, "Made by the server")
        seen = await copy.get("/rest/api/2/issue/CRASH-1")
        assert seen.json()["fields"]["summary"] == "Made by the server"
        found = await copy.post("/rest/api/2/search/jql", json={"jql": "project = CRASH"})
        assert found.status_code == 200
        refused = await copy.post("/rest/api/2/issue", json={"fields": BUG})
        assert refused.status_code == 503
        assert "another syncengine process" in refused.json()["errorMessages"][0]
    assert [i.key for i in writer.issues()] == ["CRASH-1"]
    assert reader.issue_page("CRASH-1") is not None


async def test_the_file_is_written_before_the_answer_leaves(
    tmp_path: Path, opened: list[Simulator]
) -> None:
    sim = _open(tmp_path, opened)
    async with _client(sim) as jira:
        await _create(jira, "Told to the client")
    # No close(): a process killed now has already saved what it answered.
    reader = _open(tmp_path, opened)
    assert [i.key for i in reader.issues()] == ["CRASH-1"]
