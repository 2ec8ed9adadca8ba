"""A worker paused while its creates are in flight (issue 14).

Two ``syncengine worker`` processes share one PostgreSQL database and a Jira
simulator that holds every create for a few seconds. Worker A sends the creates
of 20 new groups and is stopped with SIGSTOP while Jira is still working on them;
Jira commits them while A sleeps. Worker B takes the items over once A's lease
has run out, and A is resumed only once B has linked every group. At the end Jira
holds exactly one issue per group and each group is linked to it: neither the
take-over nor A's late answer made a second issue.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from syncengine.store.database import sync_url
from tests.conftest import _truncate_postgres
from tests.e2e.browser import JiraSim, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
GROUPS = 20
LOGIN, TOKEN = "bot@example.com", "sim-api-token"
HOLD_SECONDS = 4  # how long Jira works on a create before it commits and answers


def _config(tmp: Path, database_url: str, sim: JiraSim) -> Path:
    config = tmp / "engine.toml"
    config.write_text(
        f'database_url = "{database_url}"\ndata_dir = "{tmp}/data"\nlog_level = "info"\n'
        "outbox_lease_seconds = 5\nstop_grace_seconds = 5\n"
        "[projects.shop]\nsubmission_tokens = ['paused-submission-token-01']\n"
        "[projects.shop.jira]\n"
        f'url = "{sim.url}"\nuser = "{LOGIN}"\napi_token = "{TOKEN}"\n'
        'project_key = "CRASH"\ntimeout_seconds = 5\nsearch_lag_seconds = 1\n'
        "requests_per_second = 200\n"
        'custom_fields = { customfield_10050 = "Major" }\n',
        encoding="utf-8",
    )
    return config


def _reports(tmp: Path) -> Path:
    path = tmp / "reports.jsonl"
    lines = [
        json.dumps(
            {
                "fingerprint": f"paused-{n:03d}",
                "classifier": "KeyError",
                "message": f"crash {n}",
                "attributes": {"version": "1.0"},
            }
        )
        for n in range(GROUPS)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _engine(config: Path, *args: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "syncengine", "--config", str(config), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _rows(database_url: str, query: str) -> list[Any]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(query)))
    finally:
        engine.dispose()


def _in_flight(database_url: str) -> int:
    """Creates announced (``create_sent``) and not yet settled."""
    payloads = _rows(database_url, "SELECT CAST(payload AS TEXT) FROM outbox")
    return sum(1 for (payload,) in payloads if json.loads(payload or "{}").get("create_sent"))


def _state(database_url: str) -> tuple[int, int, int]:
    """(links, distinct linked issues, unfinished outbox items)."""
    ((links, issues),) = _rows(
        database_url, "SELECT count(*), count(DISTINCT jira_issue_id) FROM issue_links"
    )
    ((unfinished,),) = _rows(
        database_url,
        "SELECT count(*) FROM outbox WHERE state IN ('pending', 'running', 'dead')",
    )
    return int(links), int(issues), int(unfinished)


def _diagnosis(database_url: str) -> str:
    """The outbox, and who holds or waits for which lock: what a timed-out wait shows."""
    items = _rows(
        database_url,
        "SELECT id, group_id, state, attempts, CAST(next_attempt_at AS TEXT), claimed_by,"
        " CAST(claimed_until AS TEXT), left(last_error, 160), CAST(payload AS TEXT)"
        " FROM outbox ORDER BY id",
    )
    locks = _rows(
        database_url,
        "SELECT a.pid, a.state, a.wait_event_type, a.wait_event, l.locktype, l.mode,"
        " l.granted, left(a.query, 120) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
        " WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()"
        " ORDER BY a.pid",
    )
    lines = ["outbox:", *map(str, items), "locks:", *map(str, locks)]
    return "\n".join(lines)


def _jira_issue_count(sim: JiraSim) -> int:
    with sim.client() as jira:
        page = jira.post(
            "/rest/api/2/search/jql",
            json={"jql": "project = CRASH", "fields": ["labels"], "maxResults": 100},
        ).json()
    return len(page["issues"])


def test_a_worker_paused_mid_create_makes_no_second_issue(
    tmp_path: Path, postgres_url: str
) -> None:
    _truncate_postgres(postgres_url)
    sim = JiraSim(tmp_path)
    log = tmp_path / "engine.log"
    workers: list[subprocess.Popen[bytes]] = []
    try:
        config = _config(tmp_path, postgres_url, sim)
        ingest = _engine(config, "ingest", str(_reports(tmp_path)), "--project", "shop", log=log)
        assert ingest.wait(timeout=300) == 0, log.read_text()[-3000:]
        fault = {"kind": "latency", "seconds": HOLD_SECONDS, "route": "POST /issue*"}
        assert httpx.post(f"{sim.url}/_sim/faults", json=fault).status_code < 300

        first = _engine(config, "worker", log=log)
        workers.append(first)
        wait_until(lambda: _in_flight(postgres_url) > 0, timeout=90, what="creates in flight")
        os.kill(first.pid, signal.SIGSTOP)
        try:
            second = _engine(config, "worker", log=log)
            workers.append(second)
            # B takes A's items once their 5 s lease and the 6 s settle window have passed;
            # A sleeps on until B is done (a fixed 20 s pause was mostly waiting).
            try:
                wait_until(
                    lambda: _state(postgres_url) == (GROUPS, GROUPS, 0),
                    timeout=120,
                    what=f"{GROUPS} links and an empty outbox while A is stopped",
                )
            except AssertionError as exc:
                detail = f"{exc}: {_state(postgres_url)}\n{_diagnosis(postgres_url)}"
                raise AssertionError(f"{detail}\n{log.read_text()[-6000:]}") from None
        finally:
            os.kill(first.pid, signal.SIGCONT)
        # Give A's late answers time to arrive and be handled: nothing may change.
        time.sleep(HOLD_SECONDS + 2)
        httpx.delete(f"{sim.url}/_sim/faults")
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=60) == 0, log.read_text()[-3000:]
        assert _state(postgres_url) == (GROUPS, GROUPS, 0)
        assert _jira_issue_count(sim) == GROUPS, log.read_text()[-3000:]
    finally:
        for worker in workers:
            if worker.poll() is None:
                os.kill(worker.pid, signal.SIGCONT)
                worker.kill()
                worker.wait()
        sim.stop()
