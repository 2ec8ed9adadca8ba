"""What admins see of each project's Jira integration and do to it (the page and the API).

The Active/Passive switch (audited; turning Active wakes the outbox worker), the
outbox with its one retry/drop path, the sync cursor with webhook health, the
switch's history, and ``doctor``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from syncengine.errors import NotFound
from syncengine.store.audit import AuditEntry, AuditRepository
from syncengine.store.cursors import CursorRecord, CursorRepository
from syncengine.store.outbox import OutboxRepository, OutboxWork
from syncengine.store.projects import ProjectRecord, ProjectRepository
from syncengine.sync.doctor import Check, Doctor

__all__ = ["IntegrationAdmin", "OutboxAction", "WebhookWatch"]

OutboxAction = Literal["retry", "drop"]


@dataclass(frozen=True, kw_only=True, slots=True)
class WebhookWatch:
    """How a syncing project hears from Jira: its poll interval and the silence that warns."""

    poll_interval_seconds: int
    webhook_silence_seconds: int
    registrable: bool = True
    """False for the bundled simulator: nobody can register a webhook there."""


class IntegrationAdmin:
    """The integration page's and API's service (see the module docstring)."""

    def __init__(
        self,
        *,
        projects: ProjectRepository,
        outbox: OutboxRepository,
        cursors: CursorRepository,
        audit: AuditRepository,
        doctor: Doctor,
        watches: Mapping[str, WebhookWatch],
        support_slugs: Collection[str],
        clock: Callable[[], datetime],
        wake: Callable[[], None],
    ) -> None:
        self._projects = projects
        self._outbox = outbox
        self._cursors = cursors
        self._audit = audit
        self._doctor = doctor
        self._watches = dict(watches)
        self._support = frozenset(support_slugs)
        self._clock = clock
        self._wake = wake

    def configured(self, slug: str) -> bool:
        """True when ``slug`` is a configured project (doctor runs only for those)."""
        return self._doctor.knows(slug)

    async def projects(self) -> list[ProjectRecord]:
        """Every stored project."""
        return await self._projects.all()

    async def project(self, slug: str) -> ProjectRecord | None:
        """The stored project ``slug``, or None."""
        return await self._projects.get(slug)

    async def set_active(self, slug: str, active: bool, *, actor: str) -> ProjectRecord | None:
        """Switch ``slug`` Active or Passive (audited); None when there is no such project."""
        record = await self._projects.set_active(slug, active, actor=actor, now=self._clock())
        if record is not None and active:
            self._wake()
        return record

    async def outbox(self, project_id: int, *, limit: int = 100) -> list[OutboxWork]:
        """The project's unfinished items, oldest first."""
        return await self._outbox.list(project_id=project_id, limit=limit)

    async def act(
        self, project: ProjectRecord, item_id: int, action: OutboxAction, *, actor: str
    ) -> tuple[bool, OutboxWork]:
        """Retry a waiting or dead item now, or drop it (both audited).

        Returns whether it was done and the item as it is now (as it was, when not
        done: running or finished work is left alone). Raises NotFound when the
        project has no such item.
        """
        item = await self._outbox.get(item_id)
        if item is None or item.project_id != project.id:
            raise NotFound(f"project {project.slug!r} has no outbox item {item_id}")
        run = self._outbox.requeue if action == "retry" else self._outbox.drop
        if not await run(item_id, actor=actor, now=self._clock()):
            return False, item
        if action == "retry":
            self._wake()
        after = await self._outbox.get(item_id)
        return True, after or item

    async def cursor(self, project_id: int) -> CursorRecord:
        """Where the project's pull stands (last webhook, last poll, watermark)."""
        return await self._cursors.get(project_id)

    async def switches(self, project_id: int, *, limit: int = 5) -> list[AuditEntry]:
        """The newest Active/Passive switches of the project."""
        return await self._audit.recent(
            project_id=project_id, action_prefix="integration.", limit=limit
        )

    def takes_support(self, slug: str) -> bool:
        """True when the project's portal is on."""
        return slug in self._support

    def webhook_note(self, slug: str, cursor: CursorRecord) -> str:
        """Why the webhook looks unhealthy, or "" when it does not (or sync is off)."""
        watch = self._watches.get(slug)
        if watch is None:
            return ""
        poll = watch.poll_interval_seconds
        if cursor.last_webhook_at is None:
            if not watch.registrable:
                return ""
            return (
                "No webhook from Jira yet: changes made in Jira arrive only by the poll "
                f"(every {poll} s). Register the webhook in Jira to see them at once."
            )
        silent = (self._clock() - cursor.last_webhook_at).total_seconds()
        if silent > watch.webhook_silence_seconds:
            return (
                f"No webhook for {int(silent // 60)} min: the poll (every {poll} s) covers "
                "changes; check the webhook in Jira if issues changed meanwhile."
            )
        return ""

    async def doctor(self, slug: str) -> list[Check]:
        """``syncengine doctor`` for one configured project."""
        return await self._doctor.run(slug)
