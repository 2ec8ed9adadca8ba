"""Webhooks registered in Jira by API, where the project's auth allows it, kept alive.

- **Cloud, OAuth 2.0 app** (``auth = "oauth2"``): a *dynamic* webhook
  (``POST /rest/api/3/webhook``, a JQL filter on the project). Jira lets it lapse 30 days
  after registration unless extended: the periodic job ``webhooks.refresh`` extends
  every one due within ``refresh_before`` (``PUT /rest/api/3/webhook/refresh``). Its
  deliveries carry a JWT signed with the app's client secret, which the receiver checks.
- **Data Center** (any auth, as a Jira administrator): an admin webhook
  (``/rest/webhooks/1.0/webhook``) signed with the project's ``webhook_secret``; it
  does not lapse.
- **Cloud with an API token**: Jira refuses (only apps may); :attr:`WebhookPlan.why_not`
  says how to register it by hand. Polling (the JQL poller) stays the fallback always.

Registered ids and expiries are stored (:mod:`syncengine.store.jira_webhooks`): the
integration page shows them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import SecretStr

from syncengine.errors import InvalidInput, JiraError
from syncengine.jira.client import JiraClient
from syncengine.jira.errors import JiraOutcomeUnknown
from syncengine.jira.models import WebhookRegistration
from syncengine.store.jira_webhooks import RegisteredWebhook, WebhookApi, WebhookRepository

__all__ = ["EVENTS", "WebhookPlan", "WebhookRegistrar"]

log = logging.getLogger(__name__)

EVENTS = ("jira:issue_created", "jira:issue_updated", "jira:issue_deleted", "comment_created")


@dataclass(frozen=True, kw_only=True)
class WebhookPlan:
    """How (and whether) one project's webhook can be registered by API."""

    project: str
    api: WebhookApi | None
    """None: this auth cannot register webhooks (``why_not`` says what to do)."""
    url: str
    """Where Jira delivers: this engine's webhook receiver for the project."""
    jql: str
    events: tuple[str, ...] = EVENTS
    secret: SecretStr | None = None
    """Data Center: the project's ``webhook_secret`` (Jira signs deliveries with it)."""
    why_not: str = ""


class WebhookRegistrar:
    """Registers, lists, refreshes and removes the engine's webhooks in Jira."""

    def __init__(
        self,
        *,
        plans: Mapping[str, WebhookPlan],
        repository: WebhookRepository,
        clients: Callable[[str], JiraClient],
        clock: Callable[[], datetime],
        refresh_before: timedelta = timedelta(days=7),
    ) -> None:
        self.plans = dict(plans)
        self._repository = repository
        self._clients = clients
        self._clock = clock
        self.refresh_before = refresh_before

    def plan(self, project: str) -> WebhookPlan | None:
        """The project's plan (None: not a project that syncs with Jira)."""
        return self.plans.get(project)

    async def registered(self, project: str) -> list[RegisteredWebhook]:
        """The project's webhooks registered by this engine."""
        return await self._repository.of(project)

    def _usable(self, project: str) -> WebhookPlan:
        plan = self.plans.get(project)
        if plan is None:
            raise InvalidInput({"project": f"{project} does not sync with Jira"})
        if plan.api is None:
            raise InvalidInput({"webhook": plan.why_not})
        return plan

    async def register(self, project: str) -> list[RegisteredWebhook]:
        """Register the project's webhook (replacing the ones registered before).

        Raises:
            InvalidInput: the project's auth cannot register webhooks (says what to do).
            JiraError: Jira refused (a Data Center user who is not an administrator…).
        """
        plan = self._usable(project)
        client = self._clients(project)
        # The stored ones, and any Jira has that were never stored (a registration whose
        # answer was lost): otherwise each would deliver every event once more, for ever.
        stale = {h.webhook_id for h in await self._repository.of(project)}
        try:
            stale.update(await client.webhooks_to(plan.url, jql=plan.jql))
        except JiraError as exc:
            log.warning("project %s: listing Jira's webhooks failed: %s", project, exc)
        if stale:
            try:
                await client.delete_webhooks(sorted(stale))
            except JiraError as exc:  # gone already, or lapsed: register anew anyway
                log.warning("project %s: removing old webhooks failed: %s", project, exc)
        secret = plan.secret.get_secret_value() if plan.secret is not None else None
        try:
            done = await client.register_webhook(
                plan.url,
                events=plan.events,
                jql=plan.jql,
                name=f"syncengine {project}",
                secret=secret,
            )
        except JiraOutcomeUnknown:
            # Registered or not, Jira's list says: the one it has is adopted.
            found = await client.webhooks_to(plan.url, jql=plan.jql)
            if not found:
                raise
            done = WebhookRegistration(ids=found)
        if done.errors or not done.ids:
            raise InvalidInput({"webhook": "Jira did not register it: " + "; ".join(done.errors)})
        now = self._clock()
        expiries: Mapping[str, datetime | None] = {}
        if plan.api == "dynamic":
            expiries = await client.dynamic_webhooks()
        hooks = [
            RegisteredWebhook(
                project=project,
                webhook_id=webhook_id,
                api=plan.api if plan.api is not None else "admin",
                url=plan.url,
                jql=plan.jql,
                events=plan.events,
                registered_at=now,
                expires_at=expiries.get(webhook_id),
            )
            for webhook_id in done.ids
        ]
        await self._repository.replace(project, hooks)
        log.info("project %s: webhook registered in Jira (%s)", project, ", ".join(done.ids))
        return hooks

    async def unregister(self, project: str) -> int:
        """Remove the project's registered webhooks from Jira; how many there were."""
        old = await self._repository.of(project)
        if old:
            await self._clients(project).delete_webhooks([h.webhook_id for h in old])
        await self._repository.replace(project, [])
        return len(old)

    async def refresh_due(self) -> int:
        """Extend every dynamic webhook that lapses within ``refresh_before``; how many.

        A failure is stored on the webhooks (the page shows it) and tried again next run.
        """
        now = self._clock()
        count = 0
        for project, plan in self.plans.items():
            if plan.api != "dynamic":
                continue
            due = [
                h
                for h in await self._repository.of(project)
                if h.expires_at is not None and h.expires_at - now <= self.refresh_before
            ]
            if not due:
                continue
            ids = [h.webhook_id for h in due]
            try:
                expires = await self._clients(project).refresh_webhooks(ids)
            except JiraError as exc:
                log.warning("project %s: extending webhooks failed: %s", project, exc)
                await self._repository.refreshed(
                    project, ids, expires_at=None, now=None, error=str(exc)[:500]
                )
                continue
            await self._repository.refreshed(project, ids, expires_at=expires, now=now)
            log.info("project %s: %d webhook(s) extended to %s", project, len(ids), expires)
            count += len(ids)
        return count
