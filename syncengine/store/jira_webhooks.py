"""Webhooks the engine registered in Jira by API (ids, filter, expiry) and the last
results of the periodic connection checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import delete, select

from syncengine.store.database import Database
from syncengine.store.tables import HealthCheck, JiraWebhook

__all__ = [
    "CheckResult",
    "HealthCheckRepository",
    "RegisteredWebhook",
    "WebhookApi",
    "WebhookRepository",
]

WebhookApi = Literal["dynamic", "admin"]


@dataclass(frozen=True, kw_only=True)
class RegisteredWebhook:
    """One webhook registered in Jira for a project."""

    project: str
    webhook_id: str
    api: WebhookApi
    url: str
    jql: str
    events: tuple[str, ...]
    registered_at: datetime
    expires_at: datetime | None = None
    refreshed_at: datetime | None = None
    last_error: str | None = None


def _value(row: JiraWebhook) -> RegisteredWebhook:
    return RegisteredWebhook(
        project=row.project_slug,
        webhook_id=row.webhook_id,
        api="dynamic" if row.api == "dynamic" else "admin",
        url=row.url,
        jql=row.jql,
        events=tuple(e for e in row.events.split(",") if e),
        registered_at=row.registered_at,
        expires_at=row.expires_at,
        refreshed_at=row.refreshed_at,
        last_error=row.last_error,
    )


class WebhookRepository:
    """Reads and writes :class:`JiraWebhook` rows."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def of(self, project: str) -> list[RegisteredWebhook]:
        """The project's registered webhooks, oldest first."""
        async with self._db.session("reading registered webhooks failed") as session:
            rows = await session.execute(
                select(JiraWebhook)
                .where(JiraWebhook.project_slug == project)
                .order_by(JiraWebhook.registered_at, JiraWebhook.webhook_id)
            )
            return [_value(r) for r in rows.scalars()]

    async def replace(self, project: str, hooks: Sequence[RegisteredWebhook]) -> None:
        """The project's registered webhooks are now exactly ``hooks``."""
        async with self._db.session("storing registered webhooks failed") as session:
            await session.execute(delete(JiraWebhook).where(JiraWebhook.project_slug == project))
            for hook in hooks:
                session.add(
                    JiraWebhook(
                        project_slug=project,
                        webhook_id=hook.webhook_id,
                        api=hook.api,
                        url=hook.url,
                        jql=hook.jql,
                        events=",".join(hook.events),
                        registered_at=hook.registered_at,
                        expires_at=hook.expires_at,
                        refreshed_at=hook.refreshed_at,
                        last_error=hook.last_error,
                    )
                )

    async def refreshed(
        self,
        project: str,
        webhook_ids: Sequence[str],
        *,
        expires_at: datetime | None,
        now: datetime | None,
        error: str | None = None,
    ) -> None:
        """Record a refresh of ``webhook_ids`` (new expiry), or why it failed (``error``)."""
        async with self._db.session("storing a webhook refresh failed") as session:
            rows = await session.execute(
                select(JiraWebhook).where(
                    JiraWebhook.project_slug == project,
                    JiraWebhook.webhook_id.in_(list(webhook_ids)),
                )
            )
            for row in rows.scalars():
                if error is None:
                    row.expires_at, row.refreshed_at = expires_at, now
                row.last_error = error


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    """The last result of one periodic check."""

    project: str
    name: str
    ok: bool
    detail: str
    fix: str
    checked_at: datetime


class HealthCheckRepository:
    """Reads and writes :class:`HealthCheck` rows."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, project: str, results: Sequence[CheckResult]) -> None:
        """The project's checks are now ``results`` (checks not run this time are dropped)."""
        async with self._db.session("storing connection checks failed") as session:
            await session.execute(delete(HealthCheck).where(HealthCheck.project_slug == project))
            for result in results:
                session.add(
                    HealthCheck(
                        project_slug=project,
                        name=result.name[:64],
                        ok=result.ok,
                        detail=result.detail,
                        fix=result.fix,
                        checked_at=result.checked_at,
                    )
                )

    async def all(self) -> list[CheckResult]:
        """Every project's last checks."""
        async with self._db.session("reading connection checks failed") as session:
            rows = await session.execute(
                select(HealthCheck).order_by(HealthCheck.project_slug, HealthCheck.name)
            )
            return [
                CheckResult(
                    project=r.project_slug,
                    name=r.name,
                    ok=r.ok,
                    detail=r.detail,
                    fix=r.fix,
                    checked_at=r.checked_at,
                )
                for r in rows.scalars()
            ]
