"""Ticket creation: Jira calls per created ticket, and crash-to-ticket latency.

    .venv/bin/python bench/tickets.py [--backlog N] [--rounds R]

Runs the real engine (bootstrap, SQLite in a temporary folder) against the
in-process Jira simulator with Cloud's limits on, and counts every request the
simulator answers.

- **backlog**: N new groups (default 1,000) are ingested with the worker stopped,
  then drained; reported as Jira calls per created ticket (target ≤ 0.05, i.e.
  bulk create) beside the reference of one ``POST /issue`` per ticket.
- **latency**: with the worker running, one crash report of a new group is
  ingested and the time until its issue is linked is measured (target ≤ 1 s);
  the reference is one bare ``POST /issue`` round trip to the same simulator,
  measured in the same run. Median of R rounds.
- **linked groups**: G groups (default 20) are linked to existing issues with impact fields
  mapped, then R reports (default 20,000) arrive over 30 simulated minutes with the impact
  refresh running each simulated minute; reported as Jira calls per 1,000 reports on linked
  groups, against the reference of one edit per group per minute (an uncoalesced refresh),
  and checked against the budget (``budget_share`` of ``requests_per_second``).
- **outage** (``--outage-minutes M``, default 30; 0 skips it): G new groups (default 200,
  ``--outage-groups``) are due tickets while Jira answers every request 503 for M simulated
  minutes (the worker runs every simulated second, so the items back off as in production),
  then Jira answers again. Reported: simulated seconds until every ticket exists (exactly
  one each), against the reference measured in the same run: how long the backoffs standing
  at that moment would hold the last ticket back without anything waking them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import SecretStr

from syncengine.bootstrap import Container, bootstrap
from syncengine.bootstrap.jira_clients import SimulatedJira
from syncengine.domain.reports import CrashReport, Frame
from syncengine.jira.config import JiraConfig
from syncengine.jira.simulator import DEFAULT_LOGIN, DEFAULT_TOKEN, Simulator, create_simulator
from syncengine.settings import Settings


def report(fingerprint: str) -> CrashReport:
    return CrashReport(
        project="bench",
        timestamp=datetime.now(UTC),
        fingerprint=fingerprint,
        classifier="KeyError",
        message=f"missing key in {fingerprint}",
        frames=(Frame(function="charge", module="billing", filename="billing.py"),),
        attributes={"version": "2.3.0", "hostname": "web-1", "os": "linux"},
        version="2.3.0",
    )


async def engine(
    folder: Path, *, clock: Any = None, jira: dict[str, Any] | None = None, **project: Any
) -> tuple[Container, Simulator]:
    sim = create_simulator("cloud", seed=True)
    config = JiraConfig(
        site="http://jira.local",
        deployment="cloud",
        user=DEFAULT_LOGIN,
        token=SecretStr(DEFAULT_TOKEN),
        requests_per_second=1000,
        **({"max_retries": jira["max_retries"]} if jira and "max_retries" in jira else {}),
    )
    settings = Settings(
        data_dir=folder,
        ingest={"batch_max_delay_ms": 5},
        projects={
            "bench": {
                "jira": {
                    "project_key": "CRASH",
                    "custom_fields": {"customfield_10050": "Major"},
                    **(jira or {}),
                },
                **project,
            }
        },
    )
    container = await bootstrap(
        settings,
        simulator=(sim, SimulatedJira(config=config, transport=sim.transport())),
        **({"clock": clock} if clock is not None else {}),
    )
    await container.projects.ensure(
        "bench", name="Bench", integration_active=True, now=container.clock()
    )
    return container, sim


async def backlog(folder: Path, size: int) -> tuple[float, int, float]:
    container, sim = await engine(folder)
    try:
        project = await container.projects.get("bench")
        assert project is not None
        for start in range(0, size, 500):
            await container.ingest.submit(
                project.id, [report(f"backlog-{n}") for n in range(start, min(start + 500, size))]
            )
        before = sim.calls()
        started = time.perf_counter()
        await container.worker.drain()
        elapsed = time.perf_counter() - started
        created = len(sim.issues("CRASH"))
        assert created == size, f"{created} issues for {size} groups"
        return (sim.calls() - before) / size, sim.calls() - before, elapsed
    finally:
        await container.aclose()


async def latency(folder: Path, rounds: int) -> tuple[float, float]:
    container, sim = await engine(folder)
    container.start_background()
    try:
        project = await container.projects.get("bench")
        assert project is not None
        # Warm-up: the first create reads server info and the create screen once.
        await container.ingest.submit(project.id, [report("warm-up")])
        await _linked(container, "warm-up")
        engine_times, reference_times = [], []
        async with sim.client(login=DEFAULT_LOGIN, token=DEFAULT_TOKEN) as jira:
            for n in range(rounds):
                started = time.perf_counter()
                await jira.post(
                    "/rest/api/2/issue",
                    json={
                        "fields": {
                            "project": {"key": "CRASH"},
                            "issuetype": {"name": "Task"},
                            "summary": f"reference {n}",
                        }
                    },
                )
                reference_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                accepted = await container.ingest.submit(project.id, [report(f"new-{n}")])
                await _linked(container, accepted[0].group_id)
                engine_times.append(time.perf_counter() - started)
        return statistics.median(engine_times), statistics.median(reference_times)
    finally:
        await container.aclose()


IMPACT = {
    "occurrences": "Occurrences",
    "affected_users": "Affected users",
    "last_seen": "Last seen",
    "versions_affected": "Versions affected",
}


class _Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def linked(folder: Path, groups: int, reports: int) -> dict[str, float]:
    """Jira calls for ``reports`` spread over 30 simulated minutes on ``groups`` linked groups."""
    clock = _Clock()
    container, sim = await engine(
        folder, clock=clock, rules={"enabled": False}, impact={"fields": IMPACT}
    )
    try:
        project = await container.projects.get("bench")
        assert project is not None
        bot = container.jira.for_project("bench")
        ids = []
        for n in range(groups):
            created = await bot.create_issue(
                {
                    "project": {"key": "CRASH"},
                    "issuetype": {"name": "Bug"},
                    "summary": f"filed by hand {n}",
                    "customfield_10050": {"value": "Major"},
                }
            )
            accepted = await container.ingest.submit(project.id, [report(f"linked-{n}")])
            await container.manual.link_existing(accepted[0].group_id, created.key, actor="bench")
            ids.append(created.key)
        await container.worker.drain()  # the back-links
        before = sim.calls()
        edits_before = {key: sim.issue(key).writes for key in ids}
        steps, seconds = 60, 30
        per_step = reports // steps
        for step in range(steps):
            batch = [report(f"linked-{(step * per_step + n) % groups}") for n in range(per_step)]
            await container.ingest.submit(project.id, batch)
            if step % 2 == 0:
                await container.sync.impact.run("bench")
            await container.worker.drain()
            clock.now += timedelta(seconds=seconds)
        calls = sim.calls() - before
        most = max(sim.issue(key).writes - edits_before[key] for key in ids)
        rate = container.settings.projects["bench"].jira.requests_per_second
        share = container.settings.projects["bench"].impact.budget_share
        budget = share * rate * steps * seconds
        return {
            "per_thousand": calls * 1000 / (per_step * steps),
            "reference": groups * (steps // 2) * 1000 / (per_step * steps),
            "calls": calls,
            "budget": budget,
            "most_writes": most,
        }
    finally:
        await container.aclose()


async def outage(folder: Path, groups: int, minutes: float) -> tuple[float, float]:
    """Simulated seconds from Jira answering again until every ticket exists, and the
    reference: the longest backoff standing then (what the last ticket would wait alone)."""
    clock = _Clock()
    # No retries inside a call (they sleep in real time); the outbox's backoff is what counts.
    container, sim = await engine(folder, clock=clock, jira={"max_retries": 0})
    try:
        project = await container.projects.get("bench")
        assert project is not None
        sim.add_fault(kind="error", status=503, rate=1.0, route="/rest/api/*")
        await container.ingest.submit(project.id, [report(f"outage-{n}") for n in range(groups)])
        down_until = clock.now + timedelta(minutes=minutes)
        while clock.now < down_until:
            await container.worker.drain()
            clock.now += timedelta(seconds=1)
        sim.clear_faults()
        back = clock.now
        owed = await container.outbox.list(project_id=project.id, limit=groups * 2)
        standing = max(item.next_attempt_at for item in owed) - back
        for _ in range(24 * 3600):
            await container.worker.drain()
            if len(sim.issues("CRASH")) >= groups and not await container.outbox.list(
                project_id=project.id, states=("pending", "running"), limit=1
            ):
                break
            clock.now += timedelta(seconds=1)
        created = len(sim.issues("CRASH"))
        assert created == groups, f"{created} issues for {groups} groups"
        return (clock.now - back).total_seconds(), standing.total_seconds()
    finally:
        await container.aclose()


async def _linked(container: Container, group: int | str) -> None:
    if isinstance(group, str):
        project = await container.projects.get("bench")
        assert project is not None
        page = await container.groups.page(project.id, limit=5)
        group = next(g.id for g in page.groups if g.fingerprint == group)
    for _ in range(2000):
        if await container.links.for_group(group) is not None:
            return
        await asyncio.sleep(0.002)
    raise AssertionError(f"group {group} got no ticket within 4 s")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--backlog",
        default="1000",
        help="backlog sizes, comma-separated (e.g. 1000,10000: drain time per ticket against"
        " the smallest's, flat = linear)",
    )
    parser.add_argument(
        "--backlog-only", action="store_true", help="skip the latency and linked-group parts"
    )
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--linked-groups", type=int, default=20)
    parser.add_argument("--linked-reports", type=int, default=20_000)
    parser.add_argument("--outage-minutes", type=float, default=30.0)
    parser.add_argument("--outage-groups", type=int, default=200)
    parser.add_argument("--outage-only", action="store_true", help="only the outage part")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.outage_minutes > 0:
            took, standing = await outage(
                Path(tmp) / "outage", args.outage_groups, args.outage_minutes
            )
            print(
                f"after {args.outage_minutes:g} simulated minutes of Jira answering 503, the "
                f"{args.outage_groups} tickets owed all exist {took:.0f} s after Jira answers "
                f"again (one each); reference: the backoffs standing then held the last one "
                f"{standing:.0f} s (ratio {took / max(standing, 1):.3f})"
            )
        if args.outage_only:
            return
        first_rate = None
        for size in (int(n) for n in args.backlog.split(",")):
            per_ticket, calls, elapsed = await backlog(Path(tmp) / f"backlog-{size}", size)
            rate = elapsed / size
            first_rate = first_rate or rate
            print(
                f"backlog of {size} new groups: {calls} Jira calls, "
                f"{per_ticket:.3f} per ticket (target <= 0.05; reference: 1.000, one POST /issue "
                f"per ticket; ratio {per_ticket:.3f}); drained in {elapsed:.2f} s, "
                f"{rate * 1000:.2f} ms per ticket ({rate / first_rate:.2f} x the smallest "
                f"backlog's; linear = 1); load {' '.join(map(str, os.getloadavg()))}"
            )
        if args.backlog_only:
            return
        engine_s, reference_s = await latency(Path(tmp) / "latency", args.rounds)
        print(
            f"crash-to-ticket latency (median of {args.rounds}): {engine_s * 1000:.1f} ms "
            f"(target <= 1000 ms); reference POST /issue round trip {reference_s * 1000:.2f} ms; "
            f"ratio {engine_s / reference_s:.1f}x"
        )
        figures = await linked(Path(tmp) / "linked", args.linked_groups, args.linked_reports)
        within = figures["calls"] <= figures["budget"]
        ratio = figures["per_thousand"] / figures["reference"]
        print(
            f"Jira calls per 1,000 reports on linked groups ({args.linked_groups} groups, "
            f"{args.linked_reports} reports over 30 simulated minutes): "
            f"{figures['per_thousand']:.2f} (reference: an edit per group per minute, "
            f"{figures['reference']:.2f}; ratio {ratio:.3f}); "
            f"{figures['calls']:.0f} calls against a budget of {figures['budget']:.0f} "
            f"({'within' if within else 'OVER'}); at most {figures['most_writes']:.0f} writes "
            "to one issue"
        )
        if not within:
            raise SystemExit("impact refresh went over its Jira budget")


if __name__ == "__main__":
    asyncio.run(main())
