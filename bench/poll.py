"""Jira calls per JQL poll cycle: 10,000 linked issues, of which 0, 10 and 1,000 changed.

Targets (issue 5): 1 call when nothing changed, at most 1 per 100 changed issues.
The reference, measured in the same run, is what a poll without a watermark pays
every cycle: searching all 10,000 linked issues again. Calls are the simulator's
request counter. Simulator and engine share one manual clock; each measured cycle
follows a quiet period longer than the poll's overlap (a change is otherwise read
once more by the next poll, then skipped as already seen).

Run: ``.venv/bin/python bench/poll.py [--links N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from syncengine.bootstrap import Container, bootstrap, prepare_projects
from syncengine.jira.simulator import DEFAULT_LOGIN, DEFAULT_TOKEN, ManualClock, create_simulator
from syncengine.jira.simulator import issues as sim_issues
from syncengine.jira.simulator import workflow as sim_workflow
from syncengine.jira.simulator.limits import LimitsConfig
from syncengine.jira.simulator.seed import SeedUsers
from syncengine.settings import Settings
from syncengine.store.tables import ErrorGroup, IssueLink
from syncengine.sync.link_values import ISSUE_FIELDS

QUIET = 600.0  # seconds between measured cycles: longer than the poll's overlap


async def _linked(container: Container, sim: object, count: int, now: datetime) -> list[str]:
    """``count`` issues in CRASH, each linked to a group; returns the issue ids."""
    state = sim.state  # type: ignore[attr-defined]
    admin = sim.user(SeedUsers.admin)  # type: ignore[attr-defined]
    created = [
        sim_issues.create_issue(
            state,
            admin,
            {
                "fields": {
                    "project": {"key": "CRASH"},
                    "issuetype": {"name": "Task"},
                    "summary": f"e{n}",
                }
            },
            api_version=2,
        )
        for n in range(count)
    ]
    project = await container.projects.get("shop")
    assert project is not None
    async with container.db.session() as session:
        await session.execute(
            insert(ErrorGroup),
            [
                {
                    "project_id": project.id,
                    "fingerprint": f"fp{n}",
                    "state": "open",
                    "count": 1,
                    "first_seen": now,
                    "last_seen": now,
                    "updated_at": now,
                    "regression_count": 0,
                }
                for n in range(count)
            ],
        )
    async with container.db.session() as session:
        ids = (
            (
                await session.execute(
                    ErrorGroup.__table__.select()
                    .with_only_columns(ErrorGroup.id)
                    .order_by(ErrorGroup.id)
                )
            )
            .scalars()
            .all()
        )
        await session.execute(
            insert(IssueLink),
            [
                {
                    "project_id": project.id,
                    "group_id": gid,
                    "jira_issue_id": issue.id,
                    "jira_issue_key": issue.key,
                    "snapshot_state": "open",
                    "snapshot_status": "To Do",
                    "snapshot_fix_versions": {"names": []},
                    "synced_at": now,
                    "created_at": now,
                }
                for gid, issue in zip(ids, created, strict=True)
            ],
        )
    return [i.id for i in created]


async def main(links: int) -> None:
    clock = ManualClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    # The manual clock stands still while calls are made: lift the per-second burst limits
    # (the 100-issues-a-page limit of a search with fields stays, as on Jira Cloud).
    limits = LimitsConfig(
        burst_per_second={"GET": 10**9, "POST": 10**9, "PUT": 10**9, "DELETE": 10**9},
        issue_write_windows=((10**9, 1.0),),
    )
    sim = create_simulator("cloud", seed=True, clock=clock, webhook_mode="manual", limits=limits)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}",
            data_dir=Path(tmp),
            projects={
                "shop": {
                    "jira": {
                        "url": "http://jira.local",
                        "deployment": "cloud",
                        "user": DEFAULT_LOGIN,
                        "api_token": DEFAULT_TOKEN,
                        "project_key": "CRASH",
                        "requests_per_second": 1000,
                    }
                }
            },
        )
        container = await bootstrap(
            settings, migrate=True, clock=clock.now, jira_transport=sim.transport()
        )
        try:
            await prepare_projects(container, lambda _line: None)
            assert container.sync is not None
            poller = container.sync.poller
            ids = await _linked(container, sim, links, clock.now())
            admin = sim.user(SeedUsers.admin)
            clock.advance(QUIET)
            before = sim.calls()
            await poller.run("shop", force=True)
            print(f"first poll (catch-up of {links} links): {sim.calls() - before} calls")

            # Reference: a poll without a watermark searches every linked issue each cycle.
            client = container.jira.for_project("shop")
            before = sim.calls()
            started = time.perf_counter()
            seen = 0
            async for _issue in client.search('project = "CRASH"', fields=ISSUE_FIELDS):
                seen += 1
            reference = sim.calls() - before
            ref_seconds = time.perf_counter() - started
            print(
                f"reference: full search of {seen} linked issues: {reference} calls, "
                f"{ref_seconds:.2f} s"
            )
            head = ("changed", "calls", "synced", "calls/100 changed", "seconds")
            print(f"{head[0]:>8} {head[1]:>6} {head[2]:>7} {head[3]:>18} {head[4]:>8}")
            for changed in (0, 10, 1000):
                clock.advance(QUIET)
                for issue_id in ids[:changed]:
                    issue = sim.state.issues[issue_id]
                    start_or_stop = "11" if issue.status_id == "10001" else "21"
                    sim_workflow.transition_issue(
                        sim.state,
                        admin,
                        issue,
                        {"transition": {"id": start_or_stop}},
                        api_version=2,
                    )
                clock.advance(60)
                before = sim.calls()
                started = time.perf_counter()
                result = await poller.run("shop", force=True)
                calls = sim.calls() - before
                seconds = time.perf_counter() - started
                per = f"{calls / changed * 100:.2f}" if changed else "-"
                print(f"{changed:>8} {calls:>6} {result.synced:>7} {per:>18} {seconds:>8.2f}")
                target = max(1, math.ceil(changed / 100))
                verdict = "ok" if calls <= target else "OVER TARGET"
                print(f"{'':>8} target ≤ {target} call(s): {verdict}")
        finally:
            await container.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(main(args.links))
