"""``syncengine jira-sim`` as a real process: curl-style issue creation, faults over a socket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import SimProcess

AUTH = ("bot@example.com", "sim-api-token")
ISSUE = {
    "fields": {
        "project": {"key": "CRASH"},
        "issuetype": {"name": "Task"},
        "summary": "Checkout crashes",
    }
}


@pytest.fixture
def start(tmp_path: Path) -> Iterator[type[SimProcess]]:
    started: list[SimProcess] = []

    class Tracked(SimProcess):
        def __init__(self, *args: str) -> None:
            super().__init__(tmp_path, *args)
            started.append(self)

    yield Tracked
    for sim in started:
        if sim.proc.poll() is None:
            sim.stop()
        sim.close()


def test_curl_creates_an_issue_in_the_served_simulator(start: type[SimProcess]) -> None:
    sim = start()
    sim.wait_ready()
    answer = httpx.post(f"{sim.url}/rest/api/2/issue", json=ISSUE, auth=AUTH)
    assert answer.status_code == 201, answer.text
    assert answer.json()["key"] == "CRASH-1"
    assert answer.json()["self"] == f"{sim.url}/rest/api/2/issue/{answer.json()['id']}"
    fetched = httpx.get(f"{sim.url}/rest/api/3/issue/CRASH-1", auth=AUTH).json()
    assert fetched["fields"]["summary"] == "Checkout crashes"
    counters = httpx.get(f"{sim.url}/_sim/counters").json()
    assert counters["operations"]["POST /issue"] == {"201": 1}
    assert sim.stop() == 0
    log = sim.log.read_text()
    assert f"listening on {sim.url}" in log
    assert "sim-api-token" not in log  # the token is shown masked only


def test_commit_then_drop_over_a_real_socket(start: type[SimProcess]) -> None:
    sim = start("--flavour", "datacenter", "--user", "robot", "--token", "robot-token-123")
    sim.wait_ready()
    auth = ("robot", "robot-token-123")
    rule = {"kind": "commit_then_fail", "drop": True, "route": "POST /issue", "remaining": 1}
    assert httpx.post(f"{sim.url}/_sim/faults", json=rule).status_code == 201
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(f"{sim.url}/jira/rest/api/2/issue", json=ISSUE, auth=auth)
    found = httpx.get(
        f"{sim.url}/rest/api/2/search", params={"jql": "project = CRASH"}, auth=auth
    ).json()
    assert found["total"] == 1  # the write happened although the answer was lost
    assert sim.stop() == 0


def test_user_without_token_is_a_config_error(start: type[SimProcess]) -> None:
    sim = start("--user", "someone@example.com")
    assert sim.proc.wait(timeout=30) == 2
    assert "give --user and --token together" in sim.log.read_text()


def test_hang_fault_times_the_client_out_and_lets_the_server_stop(start: type[SimProcess]) -> None:
    sim = start()
    sim.wait_ready()
    rule = {"kind": "timeout", "route": "GET /myself", "seconds": 120}
    assert httpx.post(f"{sim.url}/_sim/faults", json=rule).status_code == 201
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{sim.url}/rest/api/2/myself", auth=AUTH, timeout=0.5)
    started = time.monotonic()
    assert sim.stop() == 0
    assert time.monotonic() - started < 10  # the hung request let go when its caller left


def test_empty_site_starts_and_says_so(start: type[SimProcess]) -> None:
    sim = start("--no-seed")
    sim.wait_ready()
    assert httpx.get(f"{sim.url}/rest/api/2/myself", auth=AUTH).status_code == 401
    assert sim.stop() == 0
    assert "empty site" in sim.log.read_text()


def test_search_lag_over_a_real_socket(start: type[SimProcess]) -> None:
    sim = start("--search-lag", "600")
    sim.wait_ready()
    created = httpx.post(f"{sim.url}/rest/api/2/issue", json=ISSUE, auth=AUTH).json()
    search = f"{sim.url}/rest/api/3/search/jql"
    body = {"jql": "project = CRASH", "fields": ["summary"]}
    assert httpx.post(search, json=body, auth=AUTH).json()["issues"] == []
    reconciled = {**body, "reconcileIssues": [int(created["id"])]}
    found = httpx.post(search, json=reconciled, auth=AUTH).json()["issues"]
    assert [i["key"] for i in found] == [created["key"]]
    assert httpx.get(f"{sim.url}/_sim/search-lag").json() == {"seconds": 600}
    assert sim.stop() == 0
    assert "JQL search shows writes 600s late" in sim.log.read_text()
