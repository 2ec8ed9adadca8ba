"""An engine wired to a seeded, in-process Jira simulator, for lifecycle tests."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from syncengine.bootstrap import Container, bootstrap
from syncengine.bootstrap.jira_clients import SimulatedJira
from syncengine.domain.reports import CrashReport, Frame
from syncengine.ingest.sink import Accepted
from syncengine.jira.config import JiraConfig
from syncengine.jira.retry import SiteLimiter
from syncengine.jira.simulator import (
    DEFAULT_LOGIN,
    DEFAULT_TOKEN,
    ManualClock,
    Simulator,
    create_simulator,
)
from syncengine.settings import Settings

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class BudgetTime:
    """Virtual time for the engine's Jira request budget: a wait for a token passes at once
    and moves this clock. The budget still decides every request (10 per second, by
    default); the tests that use it are not about the rate, and need not wait it out."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # Waiters that began together wake together: the clock moves once, not once each.
        until = self.now + seconds
        await asyncio.sleep(0)
        self.now = max(self.now, until)


class Clock:
    """A clock tests move by hand; a simulator made by :meth:`simulator` moves with it.

    ``jira_budget`` is the virtual time the engine's Jira request budget runs on.
    """

    def __init__(self) -> None:
        self.now = NOW
        self._followers: list[ManualClock] = []
        self.jira_budget = BudgetTime()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        for follower in self._followers:
            follower.advance(seconds)

    def simulator(self, *, search_lag: float = 0.0, **kwargs: Any) -> Simulator:
        """A seeded Cloud simulator on this clock, its JQL search lagging ``search_lag`` s."""
        follower = ManualClock(self.now)
        self._followers.append(follower)
        return create_simulator("cloud", seed=True, clock=follower, search_lag=search_lag, **kwargs)


def project_settings(**overrides: Any) -> dict[str, Any]:
    jira: dict[str, Any] = {
        "project_key": "CRASH",
        "custom_fields": {"customfield_10050": "Major"},
        "summary": "$classifier in $version",
    }
    jira.update(overrides.pop("jira", {}))
    return {"jira": jira, **overrides}


async def engine(
    database_url: str,
    clock: Clock,
    simulator: Simulator | None = None,
    *,
    jira_timeout: float = 5,
    public_url: str = "",
    **project: Any,
) -> tuple[Container, Simulator]:
    sim = simulator or create_simulator("cloud", seed=True)
    config = JiraConfig(
        site="http://jira.local",
        deployment="cloud",
        user=DEFAULT_LOGIN,
        token=SecretStr(DEFAULT_TOKEN),
        backoff_base_seconds=0.01,
        max_retry_delay_seconds=0.05,
        timeout_seconds=jira_timeout,
    )
    settings = Settings(
        database_url=database_url,
        data_dir=Path("/nonexistent"),
        public_url=public_url,
        ingest={"batch_max_delay_ms": 1},
        projects={"shop": project_settings(**project)},
    )
    container = await bootstrap(
        settings,
        migrate=False,
        clock=clock,
        simulator=(
            sim,
            SimulatedJira(
                config=config,
                transport=sim.transport(),
                limiter=SiteLimiter.build(
                    max_concurrency=config.max_concurrency,
                    requests_per_second=config.requests_per_second,
                    clock=clock.jira_budget.clock,
                    sleep=clock.jira_budget.sleep,
                ),
            ),
        ),
    )
    await container.projects.ensure("shop", name="Shop", integration_active=True, now=clock())
    return container, sim


def crash(
    fingerprint: str, *, version: str = "2.3.0", when: datetime = NOW, **attributes: str
) -> CrashReport:
    return CrashReport(
        project="shop",
        timestamp=when,
        fingerprint=fingerprint,
        classifier="KeyError",
        message=f"boom {fingerprint}",
        frames=(Frame(function="charge", module="billing", filename="billing.py", line=12),),
        attributes={"version": version, "hostname": "web-1", **attributes},
        version=version,
    )


async def ingest(container: Container, reports: Sequence[CrashReport]) -> list[Accepted]:
    project = await container.projects.get("shop")
    assert project is not None
    return await container.ingest.submit(project.id, reports)
