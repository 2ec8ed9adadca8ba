"""CLI commands in demo mode act on the Jira the server uses: its persisted simulator.

A ``serve`` holding the bundled simulator's file is stood in for by a simulator
opened here on the same file (it takes the file's lock, as ``serve`` does); the
commands then read that site instead of building an empty one of their own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncengine.bootstrap import bundled_simulator
from syncengine.entrypoints.cli import main
from syncengine.jira.simulator import DEFAULT_LOGIN, DEFAULT_TOKEN, Simulator
from syncengine.settings import load_settings

DEMO = """[projects.demo]
generate_token = true
[projects.demo.jira]
project_key = "CRASH"
custom_fields = { customfield_10050 = "Major" }
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(f'data_dir = "{tmp_path}/data"\n{DEMO}', encoding="utf-8")
    return path


@pytest.fixture
def served(config: Path) -> Iterator[Simulator]:
    """The running server's simulator: it holds the file."""
    sim, _ = bundled_simulator(load_settings(config))
    assert sim.state_file is not None
    assert sim.state_file.writable
    yield sim
    sim.close()


async def _file_an_issue(sim: Simulator, summary: str) -> str:
    fields = {
        "project": {"key": "CRASH"},
        "issuetype": {"name": "Bug"},
        "summary": summary,
        "customfield_10050": {"value": "Major"},
    }
    async with sim.client(login=DEFAULT_LOGIN, token=DEFAULT_TOKEN) as jira:
        answer = await jira.post("/rest/api/2/issue", json={"fields": fields})
    assert answer.status_code == 201, answer.text
    key: str = answer.json()["key"]
    return key


def _one_group(tmp_path: Path, config: Path) -> None:
    reports = tmp_path / "reports.jsonl"
    reports.write_text(json.dumps({"classifier": "KeyError", "message": "cart is empty"}) + "\n")
    assert main(["--config", str(config), "ingest", str(reports)]) == 0


def test_the_first_command_prints_the_token_it_generates(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "doctor"]) == 0
    first = capsys.readouterr().out
    assert "project demo: generated submission token" in first
    assert "shown once" in first
    assert main(["--config", str(config), "integration", "status"]) == 0
    assert "generated submission token" not in capsys.readouterr().out


def test_ticket_link_reads_the_issue_from_the_servers_simulator(
    tmp_path: Path, config: Path, served: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    key = asyncio.run(_file_an_issue(served, "Filed by hand in Jira"))
    _one_group(tmp_path, config)
    capsys.readouterr()
    assert main(["--config", str(config), "ticket", "link", "1", key]) == 0
    assert f"group 1 is linked to {key}" in capsys.readouterr().out
    assert main(["--config", str(config), "ticket", "link", "1", "CRASH-99"]) == 1


def test_doctor_checks_the_servers_simulator_while_it_runs(
    config: Path, served: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_file_an_issue(served, "Made by the server"))
    assert main(["--config", str(config), "doctor"]) == 0
    out = capsys.readouterr().out
    assert "✗" not in out
    assert "bundled Jira simulator" in out
    # The doctor's copy only read: the server's site is as it was.
    assert [i.key for i in served.issues()] == ["CRASH-1"]
