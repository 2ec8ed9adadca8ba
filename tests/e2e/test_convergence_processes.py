"""Two-way sync converges with three real processes on PostgreSQL (issue 19).

Three ``syncengine serve`` processes share one PostgreSQL database; a load balancer
(:class:`RoundRobin`) spreads Jira's webhook deliveries over them; the Jira simulator
runs as its own server. 200 groups are linked to Jira issues. Then, over two rounds,
people change state and assignee at once in the engine (each request to a random
process, through the JSON API) and in Jira (a person's REST calls), while the
simulator fails 30 % of requests (500s, 429s, writes whose answer is lost) and its
webhook deliveries overtake each other, arrive twice, or never. Last, some Jira
changes whose deliveries Jira gave up on: only a poll can bring those in.

The faults stop. Within a few poll cycles (the processes poll every 10 s here, as
webhooks arrive) every link agrees on state (in meaning) and assignee; a quiet
period (three poll cycles) makes no Jira write (no echo); every conflict has its audit
line, and no person's engine change is lost without one. The in-process variants
(``tests/integration/sync/test_convergence.py``) check the same on virtual time, with
one poll cycle exactly; this one checks that real processes, pools and locks do it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from syncengine.domain.groups import GroupState
from syncengine.domain.statuses import JiraStatus, StatusMapping, satisfies
from syncengine.store.database import sync_url
from tests.audit_checks import lost_without_audit
from tests.conftest import _truncate_postgres
from tests.e2e.browser import JiraSim
from tests.e2e.conftest import Server
from tests.e2e.round_robin import RoundRobin

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
LINKS, ROUNDS = 200, 2
SUBMIT, ADMIN, SECRET = "converge-submission-0001", "converge-admin-token-0001", "hook-secret-1"
BOT, HUMAN = ("bot@example.com", "sim-api-token"), ("admin@example.com", "sim-admin-token")
PEOPLE = ("alice@example.com", "bob@example.com", None)
POLL_SECONDS = 10  # webhook_silence_seconds: how often a process polls while webhooks arrive
SETTLE_SECONDS = 120.0  # bound for a loaded machine: it converges in ~2 poll cycles alone
# An echo (a process writing back to Jira what it read from Jira) shows at the first poll
# after the faults stopped; three cycles more without a write rule it out.
QUIET_SECONDS = 3 * POLL_SECONDS + 1


def _config(tmp: Path, database_url: str, sim: JiraSim) -> Path:
    config = tmp / "engine.toml"
    config.write_text(
        f'database_url = "{database_url}"\ndata_dir = "{tmp}/data"\nlog_level = "warning"\n'
        f'admin_token = "{ADMIN}"\noutbox_lease_seconds = 10\nstop_grace_seconds = 5\n'
        f"[projects.shop]\nsubmission_tokens = ['{SUBMIT}']\n"
        f'[projects.shop.jira]\nurl = "{sim.url}"\nuser = "{BOT[0]}"\napi_token = "{BOT[1]}"\n'
        f'project_key = "CRASH"\nwebhook_secret = "{SECRET}"\n'
        "requests_per_second = 300\ntimeout_seconds = 5\nsearch_lag_seconds = 1\nmax_retries = 0\n"
        'custom_fields = { customfield_10050 = "Minor" }\n'
        '[projects.shop.sync]\nmode = "two_way"\npoll_interval_seconds = 5\n'
        f"webhook_silence_seconds = {POLL_SECONDS}\n",
        encoding="utf-8",
    )
    return config


def _wait(check: Callable[[], bool], seconds: float) -> bool:
    """Whether ``check()`` came true within ``seconds``."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


class World:
    """The processes, the simulator and what people do on both sides (seeded)."""

    def __init__(self, sim: JiraSim, servers: list[Server], database_url: str) -> None:
        self.sim, self.servers = sim, servers
        self.store = create_engine(sync_url(database_url))  # one pool for every check
        self.rng = random.Random(19)
        # Idle connections are dropped before a server closes them (uvicorn: 5 s, httpx's
        # default expiry too): one reused just as the server closed it was reset mid-request,
        # which is the keep-alive race, not an engine refusing a change.
        pool = httpx.Limits(keepalive_expiry=2.0)
        self.jira = httpx.Client(base_url=sim.url, auth=HUMAN, timeout=30, limits=pool)
        self.engines = [
            httpx.Client(
                base_url=s.url,
                headers={"Authorization": f"Bearer {ADMIN}"},
                timeout=30,
                limits=pool,
            )
            for s in servers
        ]
        self.accounts = {
            email: self.jira.get("/rest/api/2/user/search", params={"query": email}).json()[0][
                "accountId"
            ]
            for email in PEOPLE
            if email
        }
        self.refused = 0

    def close(self) -> None:
        for client in (self.jira, *self.engines):
            client.close()
        self.store.dispose()

    def query(self, sql: str) -> list[Any]:
        with self.store.connect() as conn:
            return list(conn.execute(text(sql)).all())

    def links(self) -> dict[int, str]:
        rows = self.query("SELECT group_id, jira_issue_key FROM issue_links")
        return {int(gid): str(key) for gid, key in rows}

    # ---- what people do (their choices drawn before the threads run) ---------------------
    def engine_change(self, gid: int) -> Callable[[], None]:
        engine = self.rng.choice(self.engines)  # whichever process the balancer picked
        if self.rng.random() < 0.5:
            path, body = "state", {"state": self.rng.choice(list(GroupState)).value}
        else:
            path, body = "assignee", {"assignee": self.rng.choice(PEOPLE)}

        def change() -> None:
            answer = engine.post(f"/api/v1/projects/shop/groups/{gid}/{path}", json=body)
            assert answer.status_code == 200, answer.text  # the engine takes every change

        return change

    def jira_change(self, key: str) -> Callable[[], None]:
        transition, pick = self.rng.random() < 0.5, self.rng.random()
        who = self.rng.choice(PEOPLE)

        def change() -> None:
            try:
                if transition:
                    offered = self.jira.get(f"/rest/api/2/issue/{key}/transitions").json()
                    choices = offered.get("transitions") or []
                    if not choices:
                        self.refused += 1
                        return
                    chosen = choices[int(pick * len(choices))]
                    body: dict[str, Any] = {"transition": {"id": chosen["id"]}}
                    if chosen["name"] in ("Done", "Won't Do"):
                        body["fields"] = {"resolution": {"name": chosen["name"]}}
                    answer = self.jira.post(f"/rest/api/2/issue/{key}/transitions", json=body)
                else:
                    account = self.accounts[who] if who else None
                    answer = self.jira.put(
                        f"/rest/api/2/issue/{key}/assignee", json={"accountId": account}
                    )
                if answer.status_code >= 300:
                    self.refused += 1  # Jira failed the person's click (the faults)
            except (httpx.TransportError, ValueError):
                self.refused += 1  # the answer was lost, or was no JSON

        return change

    def run(self, changes: list[Callable[[], None]]) -> None:
        with ThreadPoolExecutor(16) as pool:
            for future in [pool.submit(change) for change in changes]:
                future.result()

    # ---- what both sides say ------------------------------------------------------------
    def disagreements(self, links: dict[int, str]) -> list[str]:
        groups = self.final()
        issues: dict[str, dict[str, Any]] = {}
        body: dict[str, Any] = {
            "jql": "project = CRASH",
            "fields": ["status", "resolution", "assignee"],
            "maxResults": 500,
        }
        while True:
            page = self.jira.post("/rest/api/2/search/jql", json=body).json()
            issues.update({i["key"]: i["fields"] for i in page["issues"]})
            if not page.get("nextPageToken"):
                break
            body["nextPageToken"] = page["nextPageToken"]
        found = []
        for gid, key in links.items():
            state, assignee = groups[gid]["state"], groups[gid]["assignee"]
            fields = issues[key]
            status = JiraStatus(
                id=fields["status"]["id"],
                name=fields["status"]["name"],
                category=fields["status"]["statusCategory"]["key"],
            )
            resolution = (fields.get("resolution") or {}).get("name")
            if not satisfies(status, resolution, GroupState(state), StatusMapping()):
                found.append(f"{key}: group {state}, Jira {status.name} ({resolution})")
            wanted = self.accounts.get(assignee.removeprefix("jira:")) if assignee else None
            jira_user = (fields.get("assignee") or {}).get("accountId")
            if jira_user != wanted:
                found.append(f"{key}: group assignee {assignee}, Jira {jira_user}")
        return found

    def writes(self) -> int:
        """Requests that changed Jira (searches are POSTs that only read); nobody but the
        engines sends any while the test waits."""
        counts = self.sim_get("/_sim/counters")["operations"]
        return sum(
            sum(by_status.values())
            for operation, by_status in counts.items()
            if not operation.startswith("GET") and "search" not in operation
        )

    def sim_post(self, path: str, body: object) -> None:
        assert httpx.post(f"{self.sim.url}{path}", json=body).status_code < 300

    def sim_get(self, path: str) -> Any:
        return httpx.get(f"{self.sim.url}{path}").json()

    def outbox(self) -> list[Any]:
        """The unfinished outbox items (for a failure's message)."""
        return self.query(
            "SELECT id, kind, state, attempts, last_error FROM outbox "
            "WHERE state <> 'done' ORDER BY id LIMIT 10",
        )

    def final(self) -> dict[int, dict[str, Any]]:
        """Each group's state and assignee as they are now."""
        rows = self.query("SELECT id, state, assignee FROM error_groups")
        return {int(gid): {"state": state, "assignee": assignee} for gid, state, assignee in rows}

    def quiet(self) -> bool:
        """No outbox work left (dead items stay for the operator) and no delivery owed."""
        (open_items,) = self.query(
            "SELECT count(*) FROM outbox WHERE state IN ('pending','running')"
        )[0]
        owed = [
            d
            for d in self.sim_get("/_sim/webhooks")["deliveries"]
            if not d["done"] and not d["failed"]
        ]
        return int(open_items) == 0 and not owed


def test_three_processes_converge_after_concurrent_changes_and_faults(
    tmp_path: Path, postgres_url: str
) -> None:
    _truncate_postgres(postgres_url)
    sim = JiraSim(tmp_path)
    servers: list[Server] = []
    balancer: RoundRobin | None = None
    world: World | None = None
    try:
        config = _config(tmp_path, postgres_url, sim)
        servers = [Server(config) for _ in range(3)]
        for server in servers:
            server.wait_ready()
        balancer = RoundRobin([("127.0.0.1", s.port) for s in servers])
        world = World(sim, servers, postgres_url)
        world.sim_post("/_sim/site", {"rate_limits": False})  # the faults are all the failing
        world.sim_post(
            "/_sim/webhooks",
            {"url": f"{balancer.url}/api/v1/jira/webhooks/shop", "secret": SECRET},
        )
        reports = [
            {"fingerprint": f"converge-{n:04d}", "classifier": "KeyError", "message": f"m{n}"}
            for n in range(LINKS)
        ]
        posted = httpx.post(
            f"{servers[0].url}/api/v1/projects/shop/reports",
            json=reports,
            headers={"Authorization": f"Bearer {SUBMIT}"},
            timeout=60,
        )
        assert posted.status_code == 202, posted.text
        assert _wait(lambda: len(world.links()) == LINKS and world.quiet(), 120), world.outbox()
        links = world.links()
        assert world.disagreements(links) == []

        for rule in (
            {"kind": "error", "status": 500, "rate": 0.15, "route": "/rest/api/*"},
            {
                "kind": "error",
                "status": 429,
                "rate": 0.05,
                "retry_after": 1,
                "route": "/rest/api/*",
            },
            {"kind": "commit_then_fail", "drop": True, "rate": 0.1, "route": "/rest/api/*"},
        ):
            world.sim_post("/_sim/faults", rule)
        world.sim_post(
            "/_sim/webhooks/faults", {"delay_seconds": 2, "duplicate": 0.15, "drop": 0.1}
        )
        for _ in range(ROUNDS):
            changes: list[Callable[[], None]] = []
            for gid, key in links.items():
                roll = world.rng.random()
                if roll < 0.4:
                    changes += [world.engine_change(gid), world.jira_change(key)]  # both at once
                elif roll < 0.6:
                    changes.append(world.engine_change(gid))
                elif roll < 0.8:
                    changes.append(world.jira_change(key))
            world.rng.shuffle(changes)
            world.run(changes)
        # The last Jira changes: Jira gives up on their deliveries, only a poll sees them.
        world.sim_post("/_sim/webhooks/faults", {"drop": 1.0})
        lost = world.rng.sample(sorted(links.values()), LINKS // 10)
        world.run([world.jira_change(key) for key in lost])
        assert world.refused  # the faults did fail people's clicks
        httpx.delete(f"{sim.url}/_sim/faults")
        httpx.delete(f"{sim.url}/_sim/webhooks/faults")

        # The faults stopped: within a few poll cycles both sides agree on every link.
        stopped = time.monotonic()
        _wait(lambda: world.quiet() and not world.disagreements(links), SETTLE_SECONDS)
        took = f"{time.monotonic() - stopped:.0f} s after the faults stopped"
        assert world.disagreements(links) == [], took
        assert world.quiet(), f"{took}: {world.outbox()}"
        # A quiet period (three poll cycles): nothing is written to Jira (no echo).
        before = world.writes()
        time.sleep(QUIET_SECONDS)
        assert world.quiet()
        assert world.writes() == before
        assert world.disagreements(links) == []

        audit = world.query(
            "SELECT id, group_id, actor, action, detail FROM audit_log ORDER BY id",
        )
        conflicts = [row for row in audit if row.action == "sync.conflict"]
        assert conflicts, "the run made no conflict: it tests nothing"
        assert all(row.detail["winner"] in ("engine", "jira") for row in conflicts)
        # The JSON API's admin token acts as "api": its changes must each stand or be explained.
        assert sum(row.actor == "api" for row in audit) > LINKS // 2
        assert lost_without_audit(audit, world.final(), actor="api") == []
        delivered = world.sim_get("/_sim/webhooks")["deliveries"]
        assert any(d["failed"] for d in delivered)  # given up on: the poll repaired those
        assert any(len(d["outcomes"]) > 1 and d["done"] for d in delivered)  # sent twice
        for server in servers:
            assert server.stop() == 0, server.log.read_text()[-2000:]
        for server in servers:
            assert "Traceback" not in server.log.read_text(), server.log.read_text()[-3000:]
    finally:
        if world is not None:
            world.close()
        if balancer is not None:
            balancer.stop()
        for server in servers:
            server.kill()
        sim.stop()
