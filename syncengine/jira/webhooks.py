"""Registering Jira webhooks where the server lets us.

Jira Cloud accepts ``POST /rest/api/N/webhook`` only from Connect and OAuth 2.0
apps; with an API token it answers 403, and the fix says how an admin registers
the webhook by hand. Such *dynamic* webhooks lapse 30 days after registration unless
extended with ``PUT /rest/api/N/webhook/refresh``; ``GET /rest/api/N/webhook`` lists
them with their ``expirationDate``. Data Center takes ``POST /rest/webhooks/1.0/webhook``
from a Jira administrator (with a ``secret``, its deliveries are signed); those last.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from syncengine.jira import endpoints as ep
from syncengine.jira.errors import JiraPermissionError, JiraUnexpectedResponse
from syncengine.jira.models import Flavour, WebhookRegistration
from syncengine.jira.session import JiraSession

__all__ = [
    "delete_webhooks",
    "dynamic_webhook_expiries",
    "parse_expiration",
    "refresh_webhooks",
    "register_webhook",
    "webhook_body",
    "webhooks_to",
]

_TRAILING_ID = re.compile(r"/(\d+)/?$")


def webhook_body(
    flavour: Flavour,
    url: str,
    *,
    events: Sequence[str],
    jql: str | None,
    name: str,
    secret: str | None = None,
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
    if secret:
        body["secret"] = secret  # Data Center 10+: deliveries carry X-Hub-Signature
    return body


async def register_webhook(
    session: JiraSession,
    flavour: Flavour,
    url: str,
    *,
    events: Sequence[str],
    jql: str | None,
    name: str,
    secret: str | None = None,
) -> WebhookRegistration:
    """Register ``url`` for ``events``; see the module docstring for who may.

    Raises:
        JiraPermissionError: with a fix naming the manual registration path.
    """
    context = session.context("register a webhook", permission="Administer Jira")
    body = webhook_body(flavour, url, events=events, jql=jql, name=name, secret=secret)
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
    link = str(data.get("self", ""))
    found = _TRAILING_ID.search(link)
    return WebhookRegistration(ids=(found.group(1) if found else link or str(data.get("name")),))


def parse_expiration(value: Any) -> datetime | None:
    """A dynamic webhook's ``expirationDate``: epoch milliseconds (the schema's int64) or
    the ``2019-06-01T12:42:30.000+0000`` text Atlassian's examples show."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    if isinstance(value, str) and value:
        try:
            return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)
        except ValueError:
            return None
    return None


async def dynamic_webhook_expiries(session: JiraSession) -> dict[str, datetime | None]:
    """``GET /webhook``, every page: this app's dynamic webhooks and when each lapses."""
    context = session.context("list the app's webhooks")
    found: dict[str, datetime | None] = {}
    while True:
        data = await session.json(
            "GET",
            ep.WEBHOOK_CLOUD,
            context=context,
            params={"startAt": len(found), "maxResults": 100},
        )
        values = data.get("values") if isinstance(data, dict) else None
        if not isinstance(values, list):
            raise JiraUnexpectedResponse("Jira answered the webhook listing without values")
        for item in values:
            if isinstance(item, dict) and "id" in item:
                found[str(item["id"])] = parse_expiration(item.get("expirationDate"))
        if not values or data.get("isLast", True):
            return found


async def webhooks_to(
    session: JiraSession, flavour: Flavour, url: str, *, jql: str | None
) -> tuple[str, ...]:
    """The ids of the webhooks in Jira that are this engine's for one project, registered
    or not (one whose registration's answer was lost): Data Center's admin webhooks that
    deliver to ``url``; on Cloud the app's dynamic webhooks whose JQL filter is ``jql``
    (Cloud does not list their url; every dynamic webhook is the app's own)."""
    if flavour == "cloud":
        context = session.context("list the app's webhooks")
        ids: list[str] = []
        seen = 0
        while True:
            data = await session.json(
                "GET",
                ep.WEBHOOK_CLOUD,
                context=context,
                params={"startAt": seen, "maxResults": 100},
            )
            values = data.get("values") if isinstance(data, dict) else None
            if not isinstance(values, list):
                raise JiraUnexpectedResponse("Jira answered the webhook listing without values")
            seen += len(values)
            ids += [
                str(item["id"])
                for item in values
                if isinstance(item, dict) and "id" in item and item.get("jqlFilter") == jql
            ]
            if not values or data.get("isLast", True):
                return tuple(ids)
    context = session.context("list the webhooks", permission="Administer Jira")
    data = await session.json("GET", ep.WEBHOOK_DATACENTER, context=context, root="site")
    if not isinstance(data, list):
        raise JiraUnexpectedResponse("Jira answered the webhook listing without a list")
    found = []
    for item in data:
        if isinstance(item, dict) and item.get("url") == url:
            match = _TRAILING_ID.search(str(item.get("self", "")))
            if match:
                found.append(match.group(1))
    return tuple(found)


async def refresh_webhooks(session: JiraSession, webhook_ids: Sequence[str]) -> datetime | None:
    """``PUT /webhook/refresh``: extend the dynamic webhooks' life; their new expiry."""
    context = session.context("extend the app's webhooks")
    data = await session.json(
        "PUT",
        ep.WEBHOOK_CLOUD + "/refresh",
        context=context,
        json={"webhookIds": [int(i) for i in webhook_ids]},
    )
    return parse_expiration(data.get("expirationDate") if isinstance(data, dict) else None)


async def delete_webhooks(
    session: JiraSession, flavour: Flavour, webhook_ids: Sequence[str]
) -> None:
    """Remove webhooks: Cloud ``DELETE /webhook`` (ids in the body), DC one by one."""
    context = session.context("remove webhooks", permission="Administer Jira")
    if flavour == "cloud":
        await session.request(
            "DELETE",
            ep.WEBHOOK_CLOUD,
            context=context,
            json={"webhookIds": [int(i) for i in webhook_ids]},
        )
        return
    for webhook_id in webhook_ids:
        await session.request(
            "DELETE",
            f"{ep.WEBHOOK_DATACENTER}/{webhook_id}",
            context=context,
            root="site",
            ok_statuses=frozenset({404}),
        )
