"""Verified Jira webhook deliveries in: whose secret, seen before, who handles the event.

The HTTP receiver (:mod:`syncengine.web.webhook_receiver`) reads and verifies the
body with the secret this service names; here a delivery is recorded (the
project's last webhook, the delivery id for de-duplication) and handed to the
event handlers (two-way sync, :class:`~syncengine.sync.webhook_events.WebhookEvents`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import SecretStr

from syncengine.domain.webhooks import Handled, JiraEvent, age_problem, combine
from syncengine.store.cursors import CursorRepository
from syncengine.store.projects import ProjectRepository

__all__ = ["EventHandler", "WebhookInbox", "WebhookTarget"]

# Takes a verified, first-seen Jira event for a project (by slug); says whether it
# applied or ignored it (None: no say).
EventHandler = Callable[[str, JiraEvent], Awaitable[Handled | None]]


@dataclass(frozen=True, kw_only=True, slots=True)
class WebhookTarget:
    """A project that takes webhook deliveries: its id and the secret they are signed with
    (``secret``: HMAC ``X-Hub-Signature``; ``app_secret``: the OAuth 2.0 app's client
    secret, which signs the JWT Cloud sends with the app's dynamic webhooks)."""

    project_id: int
    secret: bytes
    app_secret: bytes | None = None


class WebhookInbox:
    """Records deliveries and runs the event handlers, each delivery once."""

    def __init__(
        self,
        *,
        secrets: Mapping[str, SecretStr],
        projects: ProjectRepository,
        cursors: CursorRepository,
        handlers: Sequence[EventHandler],
        clock: Callable[[], datetime],
        max_age: timedelta = timedelta(hours=1),
        app_secrets: Mapping[str, SecretStr] | None = None,
    ) -> None:
        """``max_age``: deliveries signed longer ago than this are refused as replays;
        ``app_secrets``: the client secret of each Cloud OAuth 2.0 project."""
        self._secrets = dict(secrets)
        self._app_secrets = dict(app_secrets or {})
        self.max_age = max_age
        self._projects = projects
        self._cursors = cursors
        self.handlers = tuple(handlers)
        self._clock = clock

    async def target(self, slug: str) -> WebhookTarget | None:
        """Where deliveries for ``slug`` go; None when it has no secret or is not stored."""
        secret = self._secrets.get(slug)
        app = self._app_secrets.get(slug)
        if secret is None and app is None:
            return None
        record = await self._projects.get(slug)
        if record is None:
            return None
        return WebhookTarget(
            project_id=record.id,
            secret=secret.get_secret_value().encode() if secret is not None else b"",
            app_secret=app.get_secret_value().encode() if app is not None else None,
        )

    def now(self) -> datetime:
        """The inbox's clock (a delivery's JWT is checked against it)."""
        return self._clock()

    def too_old(self, event: JiraEvent) -> str | None:
        """Why a verified delivery is refused as a replay (signed too long ago), or None.

        Jira signs the body, timestamp included, so an old signed body replayed
        after its delivery id was forgotten is recognised by its age.
        """
        return age_problem(event, self._clock(), self.max_age)

    async def first_sight(self, target: WebhookTarget, key: str) -> bool:
        """Note the delivery (the project's last webhook); False when ``key`` was seen before."""
        now = self._clock()
        await self._cursors.update(target.project_id, last_webhook_at=now)
        return await self._cursors.first_delivery(target.project_id, key, now=now)

    async def handle(self, slug: str, target: WebhookTarget, event: JiraEvent, key: str) -> Handled:
        """Run the event handlers on a first-seen delivery; say what they did with it.

        A handler's failure forgets the delivery (so Jira's retry is handled, not
        dropped) and propagates.
        """
        answers: list[Handled | None] = []
        try:
            for handler in self.handlers:
                answers.append(await handler(slug, event))
        except Exception:
            await self._cursors.forget_delivery(target.project_id, key)
            raise
        return combine(answers)
