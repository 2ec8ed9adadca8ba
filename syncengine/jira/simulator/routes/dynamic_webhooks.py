"""Cloud's dynamic webhooks: what an OAuth 2.0 app registers through ``/rest/api/3/webhook``.

As Atlassian documents them: only an OAuth 2.0 (or Connect) app may call these (anyone
else gets 403); each app has one URL; each webhook needs a JQL filter and lapses 30 days
after it was registered or last extended (``PUT /webhook/refresh``); ``POST`` answers one
result per webhook asked (its id, or why not); deliveries carry an HS256 JWT signed with
the app's client secret in ``Authorization``. Expiry runs on the simulator's clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from syncengine.jira.simulator.errors import JiraHttpError
from syncengine.jira.simulator.pipeline import Api, Ctx, json_response
from syncengine.jira.simulator.webhooks import Webhook, WebhookDispatcher

__all__ = ["DYNAMIC_EVENTS", "LIFETIME", "dynamic_webhook_routes"]

LIFETIME = timedelta(days=30)
PER_APP = 5
DYNAMIC_EVENTS = (
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
    "issue_property_set",
    "issue_property_deleted",
)


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _error(status: int, message: str) -> JiraHttpError:
    return JiraHttpError(status, {"errorMessages": [message], "errors": {}})


def _app(ctx: Ctx) -> Any:
    client = getattr(ctx.request.state, "oauth_client", None)
    if client is None:
        raise _error(403, "Only Connect and OAuth 2.0 apps can use this operation.")
    return client


def _ids(body: Any) -> list[int]:
    ids = body.get("webhookIds") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        raise _error(400, "webhookIds must be a list of webhook ids.")
    return ids


def _register_one(
    hooks: WebhookDispatcher, client: Any, url: str, item: Any, expires: datetime
) -> dict[str, Any]:
    """One ``webhookRegistrationResult`` entry: the new id, or why there is none."""
    events = item.get("events") if isinstance(item, dict) else None
    jql = item.get("jqlFilter") if isinstance(item, dict) else None
    if not isinstance(events, list) or not events or not isinstance(jql, str) or not jql:
        return {"errors": ["A webhook needs events and a jqlFilter."]}
    unknown = sorted(set(map(str, events)) - set(DYNAMIC_EVENTS))
    if unknown:
        return {"errors": [f"Unsupported webhook events: {', '.join(unknown)}"]}
    if sum(1 for h in hooks.webhooks.values() if h.owner == client.client_id) >= PER_APP:
        return {"errors": [f"An app can register up to {PER_APP} webhooks."]}
    try:
        hook = hooks.register_dynamic(
            url,
            owner=client.client_id,
            signing_secret=client.signing_secret,
            events=tuple(map(str, events)),
            jql=jql,
            expires_at=expires,
        )
    except ValueError as exc:
        return {"errors": [str(exc)]}
    return {"createdWebhookId": hook.id}


def dynamic_webhook_routes(api: Api) -> list[Route]:
    """``/rest/api/{2,3}/webhook`` (GET, POST, DELETE) and ``/webhook/refresh`` (PUT)."""
    sim = api.sim
    hooks = sim.webhooks

    def owned(client_id: str) -> list[Webhook]:
        return [h for h in hooks.webhooks.values() if h.owner == client_id]

    def shown(hook: Webhook) -> dict[str, Any]:
        assert hook.expires_at is not None
        return {
            "id": hook.id,
            "jqlFilter": hook.jql or "",
            "events": list(hook.events),
            "expirationDate": _millis(hook.expires_at),
            "url": hook.url,
        }

    async def listing(ctx: Ctx) -> Response:
        client = _app(ctx)
        mine = owned(client.client_id)
        start = max(0, ctx.int_query("startAt", 0))
        size = max(1, min(100, ctx.int_query("maxResults", 100)))
        page = mine[start : start + size]
        return json_response(
            {
                "startAt": start,
                "maxResults": size,
                "total": len(mine),
                "isLast": start + len(page) >= len(mine),
                "values": [shown(h) for h in page],
            }
        )

    async def register(ctx: Ctx) -> Response:
        client = _app(ctx)
        body = await ctx.json()
        url = body.get("url") if isinstance(body, dict) else None
        asked = body.get("webhooks") if isinstance(body, dict) else None
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise _error(400, "The webhook URL is missing or invalid.")
        if not isinstance(asked, list) or not asked:
            raise _error(400, "The list of webhooks is missing.")
        mine = owned(client.client_id)
        if any(h.url != url for h in mine):
            raise _error(400, "Only a single URL per app is allowed to be registered.")
        results: list[dict[str, Any]] = []
        expires = sim.clock.now() + LIFETIME
        for item in asked:
            results.append(_register_one(hooks, client, url, item, expires))
        return json_response({"webhookRegistrationResult": results})

    async def remove(ctx: Ctx) -> Response:
        client = _app(ctx)
        for webhook_id in _ids(await ctx.json()):
            hook = hooks.webhooks.get(webhook_id)
            if hook is not None and hook.owner == client.client_id:
                hooks.unregister(webhook_id)
        return Response(status_code=202)

    async def refresh(ctx: Ctx) -> Response:
        client = _app(ctx)
        expires = sim.clock.now() + LIFETIME
        for webhook_id in _ids(await ctx.json()):
            hook = hooks.webhooks.get(webhook_id)
            # A webhook that already lapsed is gone on Cloud: refreshing it does nothing.
            live = hook is not None and hook.expires_at and hook.expires_at > sim.clock.now()
            if hook is not None and live and hook.owner == client.client_id:
                hook.expires_at = expires
        return json_response({"expirationDate": _millis(expires)})

    return [
        api.route("GET", "/webhook", listing, versions=(2, 3)),
        api.route("POST", "/webhook", register, versions=(2, 3)),
        api.route("DELETE", "/webhook", remove, versions=(2, 3)),
        api.route("PUT", "/webhook/refresh", refresh, versions=(2, 3)),
    ]
