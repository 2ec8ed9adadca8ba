"""``serve --workers N``: one port served by several forked processes on SQLite.

The real ``syncengine serve`` with ``workers = 3`` against a ``syncengine jira-sim``
process: reports posted over fresh connections (the kernel hands them to any worker)
are all stored, exactly; a worker killed with SIGKILL is replaced and the port keeps
answering; every group gets exactly one ticket; SIGTERM to the supervisor stops every
worker and exits 0. And the two refusals: workers with the bundled simulator, and a
worker that cannot start (the supervisor exits with its failure, none left running).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from syncengine.bootstrap.values import WORKER_REQUESTS_PER_CONNECTION
from tests.e2e.browser import JiraSim
from tests.e2e.conftest import READY_SECONDS, STOP_SECONDS, Server, free_port

pytestmark = pytest.mark.slow
TOKEN = "workers-token-0123456789"
WORKERS, GROUPS, BATCHES, PER_BATCH = 3, 40, 30, 20
TICKET_SECONDS = 120.0  # a bound for a loaded machine: 40 tickets take a few seconds alone


def _config(tmp: Path, jira_url: str | None) -> Path:
    jira = (
        f'url = "{jira_url}"\nuser = "bot@example.com"\napi_token = "sim-api-token"\n'
        "requests_per_second = 100\n"
        if jira_url
        else ""
    )
    config = tmp / "engine.toml"
    config.write_text(
        f'data_dir = "{tmp}/data"\nlog_level = "info"\nworkers = {WORKERS}\n'
        "stop_grace_seconds = 5\n"
        f"[projects.shop]\nsubmission_tokens = ['{TOKEN}']\n"
        f'[projects.shop.jira]\n{jira}custom_fields = {{ customfield_10050 = "Minor" }}\n',
        encoding="utf-8",
    )
    return config


def _workers(supervisor: int) -> list[int]:
    """The supervisor's child processes (its workers), from /proc."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text()
    return [int(pid) for pid in children.split()]


def _post_batches(url: str, first: int, count: int) -> None:
    """``count`` batches, each on a connection of its own (so any worker may take it)."""
    for number in range(first, first + count):
        lines = "\n".join(
            f'{{"fingerprint": "w-{(number * PER_BATCH + i) % GROUPS:03d}", '
            f'"classifier": "KeyError", "attributes": {{"version": "1.{number}"}}}}'
            for i in range(PER_BATCH)
        )
        answer = httpx.post(
            f"{url}/api/v1/projects/shop/reports",
            content=lines,
            headers={
                "Authorization": f"Bearer {TOKEN}",
                "Content-Type": "application/x-ndjson",
                "Connection": "close",
            },
            timeout=60,
        )
        assert answer.status_code == 202, answer.text


def _wait_for(condition, seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {seconds} s")
        time.sleep(0.2)


@pytest.mark.skipif(sys.platform != "linux", reason="reads the workers from /proc")
def test_workers_share_the_port_store_everything_once_and_stop_together(tmp_path: Path) -> None:
    counting = set(Path(tempfile.gettempdir()).glob("syncengine-metrics-*"))
    sim = JiraSim(tmp_path)
    server = Server(_config(tmp_path, sim.url))
    try:
        server.wait_ready()
        _wait_for(lambda: "listening" in server.log.read_text(), READY_SECONDS, "listening")
        log = server.log.read_text()
        assert "(3 workers)" in log
        assert log.count("project shop: id") == 1  # worker 0 says it; the others keep still
        workers = _workers(server.proc.pid)
        assert len(workers) == WORKERS

        _post_batches(server.url, 0, BATCHES // 2)
        os.kill(workers[1], signal.SIGKILL)
        _wait_for(
            lambda: (
                len(_workers(server.proc.pid)) == WORKERS
                and workers[1] not in _workers(server.proc.pid)
            ),
            READY_SECONDS,
            "a worker in place of the killed one",
        )
        assert "was ended by signal SIGKILL; starting another" in server.log.read_text()
        _post_batches(server.url, BATCHES // 2, BATCHES - BATCHES // 2)

        database = tmp_path / "data" / "syncengine.db"

        def ticketed() -> int:
            with sqlite3.connect(database) as conn:
                return int(conn.execute("SELECT COUNT(*) FROM issue_links").fetchone()[0])

        _wait_for(lambda: ticketed() >= GROUPS, TICKET_SECONDS, "a ticket for every group")
        time.sleep(1)  # a duplicate would show by now: creates are exactly once
        with sqlite3.connect(database) as conn:
            groups, reports = conn.execute(
                "SELECT COUNT(*), SUM(count) FROM error_groups"
            ).fetchone()
            links = conn.execute(
                "SELECT COUNT(*), COUNT(DISTINCT group_id), COUNT(DISTINCT jira_issue_key) "
                "FROM issue_links"
            ).fetchone()
        assert (groups, reports) == (GROUPS, BATCHES * PER_BATCH)
        assert links == (GROUPS, GROUPS, GROUPS)

        # Whichever worker answers a scrape counts for all of them, the killed one too.
        ingested = f'syncengine_reports_ingested_total{{project="shop"}} {BATCHES * PER_BATCH}.0'
        for _ in range(2 * WORKERS):
            scrape = httpx.get(f"{server.url}/metrics", headers={"Connection": "close"})
            assert scrape.status_code == 200
            assert ingested in scrape.text.splitlines()
        page = httpx.post(
            f"{sim.url}/rest/api/2/search/jql",
            json={"jql": "project = CRASH", "fields": ["summary"], "maxResults": 5000},
            auth=("bot@example.com", "sim-api-token"),
            timeout=60,
        ).json()
        assert len(page["issues"]) == GROUPS
        assert not page.get("nextPageToken")

        # A connection is closed after 16 answers, so that a client's next one may reach
        # another worker (a few keep-alive clients would otherwise stay where they landed).
        with httpx.Client(base_url=server.url, timeout=30) as client:
            answers = [client.get("/healthz") for _ in range(WORKER_REQUESTS_PER_CONNECTION)]
        closing = [answer.headers.get("connection") == "close" for answer in answers]
        assert closing == [False] * (WORKER_REQUESTS_PER_CONNECTION - 1) + [True]

        running = _workers(server.proc.pid)
        assert server.stop() == 0
        for pid in running:
            assert not Path(f"/proc/{pid}").exists() or _zombie(pid), f"worker {pid} still runs"
        assert server.log.read_text().rstrip().endswith("syncengine stopped")
        # The folder the workers counted in is gone with them.
        assert set(Path(tempfile.gettempdir()).glob("syncengine-metrics-*")) == counting
    finally:
        server.kill()
        sim.stop()


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except (FileNotFoundError, IndexError):
        return True


def _run(config: Path, port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syncengine", "--config", str(config), "serve", "--port", str(port)],
        capture_output=True,
        text=True,
        check=False,
        timeout=READY_SECONDS + STOP_SECONDS,
    )


def test_workers_with_the_bundled_simulator_are_refused_before_anything_binds(
    tmp_path: Path,
) -> None:
    port = free_port()
    done = _run(_config(tmp_path, None), port)
    assert done.returncode == 1
    assert "bundled Jira simulator, which lives in one process" in done.stderr
    assert "jira.url" in done.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was made


def test_a_worker_that_cannot_start_stops_the_server_with_its_failure(tmp_path: Path) -> None:
    config = _config(tmp_path, "http://127.0.0.1:9")
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the database's folder should be", encoding="utf-8")
    config.write_text(
        f'database_url = "sqlite:///{blocked}/engine.db"\n' + config.read_text("utf-8"),
        encoding="utf-8",
    )
    done = _run(config, free_port())
    assert done.returncode != 0
    assert "worker 0" in done.stdout
    assert "before it was listening" in done.stdout
    assert "listening on" not in done.stdout


def test_a_workers_count_out_of_range_says_what_is_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from syncengine.entrypoints.cli import main

    config = _config(tmp_path, "http://127.0.0.1:9")
    assert main(["--config", str(config), "serve", "--workers", "0"]) == 1
    assert "--workers must be 1 to 64, not 0" in capsys.readouterr().err
    config.write_text(config.read_text("utf-8").replace("workers = 3", "workers = 65"), "utf-8")
    assert main(["--config", str(config), "serve"]) == 2  # a config error, as for any key
    assert "workers" in capsys.readouterr().err
