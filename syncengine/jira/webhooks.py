"""Registering Jira webhooks where the server lets us.

Jira Cloud accepts ``POST /rest/api/N/webhook`` only from Connect and OAuth 2.0
apps; with an API token it answers 403, and the fix says how an admin registers
the webhook by hand. Data Center takes ``POST /rest/webhooks/1.0/webhook`` from
a Jira administrator.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from syncengine.jira import endpoints as ep
from syncengine.jira.errors import JiraPermissionError, JiraUnexpectedResponse
from syncengine.jira.models import Flavour, WebhookRegistration
from syncengine.jira.session import JiraSession

__all__ = ["register_webhook", "webhook_body"]


def webhook_body(
    flavour: Flavour, url: str, *, events: Sequence[str], jql: str | None, name: str
) -> dict[str, Any]:
    """The registration body: Cloud ``WebhookRegistrationDetails`` or DC's webhook bean."""
    if flavour == "cloud":
        # Cloud requires a JQL filter on every webhook.
        return {
            "url": url,
            "webhooks": [{"events": list(events), "jqlFilter": jql or "project IS NOT EMPTY"}],
        }
    body: dict[str, Any] = {"name": name, "url": url, "events": list(events), "excludeBody": False}
    if jql:
        body["filters"] = {"issue-related-events-section": jql}
    return body


async def register_webhook(
    session: JiraSession,
    flavour: Flavour,
    url: str,
    *,
    events: Sequence[str],
    jql: str | None,
    name: str,
) -> WebhookRegistration:
    """Register ``url`` for ``events``; see the module docstring for who may.

    Raises:
        JiraPermissionError: with a fix naming the manual registration path.
    """
    context = session.context("register a webhook", permission="Administer Jira")
    body = webhook_body(flavour, url, events=events, jql=jql, name=name)
    path, root = (
        (ep.WEBHOOK_CLOUD, "api") if flavour == "cloud" else (ep.WEBHOOK_DATACENTER, "site")
    )
    try:
        data = await session.json("POST", path, context=context, json=body, root=root)
    except JiraPermissionError as exc:
        where = (
            "Jira settings → System → WebHooks"
            if flavour == "cloud"
            else "Jira administration → System → WebHooks"
        )
        raise JiraPermissionError(
            f"Jira did not let {session.config.user or 'the configured user'} register a webhook",
            status=exc.status,
            fix=f"register {url} by hand as a Jira admin at {where} (events: {', '.join(events)})",
        ) from exc
    if flavour == "cloud":
        results = data.get("webhookRegistrationResult", []) if isinstance(data, dict) else []
        ids = tuple(str(r["createdWebhookId"]) for r in results if "createdWebhookId" in r)
        errors = tuple(str(e) for r in results for e in r.get("errors", []))
        return WebhookRegistration(ids=ids, errors=errors)
    if not isinstance(data, dict):
        raise JiraUnexpectedResponse("Jira answered the webhook registration without an object")
    return WebhookRegistration(ids=(str(data.get("self", data.get("name", ""))),))
