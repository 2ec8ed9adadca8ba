"""The cheap doctor checks, run by a periodic job: is each project's Jira still reachable
and its credential still good, and does anything expire soon.

Per project: the credential checks (OAuth connection, grant or API-token expiry; no call
to Jira) and one ``GET /myself`` under a short deadline, which tells "Jira reachable"
(a timeout or 5xx fails it), "Jira credentials" (401, a revoked grant) and "basic auth"
(Data Center 10+ answering that Basic authentication is disabled) apart. Results are
stored, so every process's integration page and ``/metrics`` show the last run's. A
revoked OAuth grant is refused without asking Jira again (see ``sync.jira_auth``): a
check every few minutes is no retry storm.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from syncengine.errors import ConfigError, JiraError
from syncengine.jira.client import JiraClient
from syncengine.jira.diagnostics import Check
from syncengine.jira.errors import JiraAuthError, JiraTransientError
from syncengine.store.jira_webhooks import CheckResult, HealthCheckRepository

__all__ = ["ConnectionChecks"]

log = logging.getLogger(__name__)

CredentialCheck = Callable[[str], Awaitable[list[Check]]]


def _reach_checks(error: BaseException | None, deadline: float) -> list[Check]:
    """What one ``GET /myself`` said (``error`` None: it answered)."""
    if error is None:
        return [
            Check(name="Jira reachable", ok=True, detail="Jira answered"),
            Check(name="Jira credentials", ok=True, detail="accepted"),
        ]
    if isinstance(error, TimeoutError):
        return [
            Check(
                name="Jira reachable",
                ok=False,
                detail=f"no answer within {deadline:g} s",
                fix="check that Jira is up and reachable from this host",
            )
        ]
    if isinstance(error, JiraTransientError):
        return [Check(name="Jira reachable", ok=False, detail=str(error), fix=error.fix)]
    reachable = Check(name="Jira reachable", ok=True, detail="Jira answered")
    if (
        isinstance(error, JiraAuthError)
        and "basic authentication is disabled" in str(error).lower()
    ):
        return [reachable, Check(name="basic auth", ok=False, detail=str(error), fix=error.fix)]
    fix = error.fix if isinstance(error, JiraError) else ""
    return [reachable, Check(name="Jira credentials", ok=False, detail=str(error), fix=fix)]


class ConnectionChecks:
    """Runs the cheap checks of every project with a configured Jira; keeps the results."""

    def __init__(
        self,
        *,
        projects: Sequence[str],
        credentials: CredentialCheck,
        clients: Callable[[str], JiraClient],
        repository: HealthCheckRepository,
        clock: Callable[[], datetime],
        is_active: Callable[[str], Awaitable[bool]],
        deadline_seconds: float = 10.0,
    ) -> None:
        self.projects = tuple(projects)
        self._is_active = is_active
        self._credentials = credentials
        self._clients = clients
        self._repository = repository
        self._clock = clock
        self.deadline_seconds = deadline_seconds

    async def check(self, project: str) -> list[Check]:
        """The project's cheap checks now (nothing stored)."""
        checks = list(await self._credentials(project))
        error: BaseException | None = None
        try:
            async with asyncio.timeout(self.deadline_seconds):
                await self._clients(project).myself()
        except (TimeoutError, JiraError, ConfigError) as exc:
            error = exc
        return checks + _reach_checks(error, self.deadline_seconds)

    async def run(self) -> int:
        """Check every Active project and store the results; how many checks failed.
        (Passive means passive: nothing calls Jira for a Passive project.)"""
        failed = 0
        for project in self.projects:
            if not await self._is_active(project):
                continue
            now = self._clock()
            checks = await self.check(project)
            failed += sum(1 for c in checks if not c.ok)
            for bad in (c for c in checks if not c.ok):
                log.warning("project %s: check %r failed: %s", project, bad.name, bad.detail)
            await self._repository.record(
                project,
                [
                    CheckResult(
                        project=project,
                        name=c.name,
                        ok=c.ok,
                        detail=c.detail,
                        fix=c.fix,
                        checked_at=now,
                    )
                    for c in checks
                ],
            )
        return failed

    async def latest(self) -> dict[str, list[CheckResult]]:
        """The last stored results, by project."""
        found: dict[str, list[CheckResult]] = {}
        for result in await self._repository.all():
            found.setdefault(result.project, []).append(result)
        return found
