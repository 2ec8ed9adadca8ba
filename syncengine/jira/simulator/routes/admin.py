"""Administration: Jira's webhook registration API and the simulator's ``/_sim`` controls.

``/_sim/*`` is not part of Jira: it lets a harness outside the process do what
tests do through the :class:`Simulator` handle (faults, counters, webhooks,
tokens, permissions, moving and deleting issues, moving a manual clock). Those
calls are not counted as Jira calls.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from syncengine.jira.simulator.clock import ManualClock
from syncengine.jira.simulator.errors import JiraHttpError
from syncengine.jira.simulator.faults import FaultRule
from syncengine.jira.simulator.handle import Simulator
from syncengine.jira.simulator.pipeline import Api, Ctx, error_response, json_response
from syncengine.jira.simulator.quota import QuotaConfig
from syncengine.jira.simulator.routes.dynamic_webhooks import dynamic_webhook_routes
from syncengine.jira.simulator.webhooks import DeliveryFaults

__all__ = ["routes", "sim_routes", "webhook_routes"]


def _require_admin(ctx: Ctx) -> None:
    if not ctx.user.admin:
        raise JiraHttpError(
            403, {"errorMessages": ["Only Jira administrators can manage webhooks."], "errors": {}}
        )


def webhook_routes(api: Api) -> list[Route]:
    """Jira's webhook registration API (served under a Data Center context path too)."""
    sim = api.sim

    async def list_hooks(ctx: Ctx) -> Response:
        _require_admin(ctx)
        return json_response(
            [h.to_json(sim.state.base_url) for h in sim.webhooks.webhooks.values()]
        )

    async def create_hook(ctx: Ctx) -> Response:
        _require_admin(ctx)
        body = await ctx.json()
        if not isinstance(body, dict) or not body.get("url"):
            raise JiraHttpError(
                400, {"errorMessages": ["The webhook needs a 'url'."], "errors": {}}
            )
        try:
            hook = sim.register_webhook(
                str(body["url"]),
                name=str(body.get("name", "webhook")),
                secret=body.get("secret"),
                events=tuple(body["events"]) if body.get("events") else None,
                jql=(body.get("filters") or {}).get("issue-related-events-section") or None,
            )
        except ValueError as exc:
            raise JiraHttpError(400, {"errorMessages": [str(exc)], "errors": {}}) from None
        return json_response(hook.to_json(sim.state.base_url), 201)

    async def delete_hook(ctx: Ctx) -> Response:
        _require_admin(ctx)
        if not sim.webhooks.unregister(int(ctx.param("id"))):
            raise JiraHttpError(404, {"errorMessages": ["Webhook not found."], "errors": {}})
        return Response(status_code=204)

    hooks = [
        api.route("GET", "/rest/webhooks/1.0/webhook", list_hooks, rest=False),
        api.route("POST", "/rest/webhooks/1.0/webhook", create_hook, rest=False),
        api.route("DELETE", "/rest/webhooks/1.0/webhook/{id:int}", delete_hook, rest=False),
    ]
    if sim.flavour == "cloud":
        hooks += dynamic_webhook_routes(api)
    return hooks


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise JiraHttpError(
            400, {"errorMessages": ["a JSON object body is expected"], "errors": {}}
        )
    return data


def _time_controls(sim: Simulator) -> list[tuple[str, Any, list[str]]]:
    """``/_sim/clock/advance`` and ``/_sim/search-lag``."""

    async def advance(request: Request) -> Response:
        if not isinstance(sim.clock, ManualClock):
            raise ValueError(  # noqa: TRY004 - answered as a 400 like every bad admin request
                "this simulator runs on the real clock; start it with a ManualClock"
            )
        sim.clock.advance(float((await _body(request))["seconds"]))
        return JSONResponse({"now": sim.clock.now().isoformat()})

    async def search_lag(request: Request) -> Response:
        if request.method == "POST":
            sim.search_lag = float((await _body(request))["seconds"])
        return JSONResponse({"seconds": sim.search_lag})

    return [
        ("/_sim/clock/advance", advance, ["POST"]),
        ("/_sim/search-lag", search_lag, ["GET", "POST"]),
    ]


def _limit_controls(sim: Simulator) -> list[tuple[str, Any, list[str]]]:
    """``/_sim/requests`` (the request log) and ``/_sim/quota`` (the points quota)."""

    async def requests(request: Request) -> Response:
        since = float(request.query_params.get("since", "0"))
        return JSONResponse(
            {
                "now": sim.clock.monotonic(),
                "requests": [list(entry) for entry in sim.requests.entries(since)],
            }
        )

    async def quota(request: Request) -> Response:
        if request.method == "DELETE":
            sim.quota.configure(None)
        elif request.method == "POST":
            data = await _body(request)
            sim.quota.configure(
                QuotaConfig(
                    points=int(data["points"]),
                    window=float(data.get("window", 3600)),
                    everyone=bool(data.get("everyone", False)),
                )
            )
        config = sim.quota.config
        return JSONResponse(
            None
            if config is None
            else {"points": config.points, "window": config.window, "everyone": config.everyone}
        )

    return [
        ("/_sim/requests", requests, ["GET"]),
        ("/_sim/quota", quota, ["GET", "POST", "DELETE"]),
    ]


def _site_controls(sim: Simulator) -> list[tuple[str, Any, list[str]]]:
    """``/_sim/site``: whether users' e-mails are hidden and the rate limits enforced."""

    async def site(request: Request) -> Response:
        if request.method == "POST":
            data = await _body(request)
            unknown = set(data) - {"hidden_emails", "rate_limits"}
            if unknown:
                raise ValueError(f"unknown site settings {sorted(unknown)}")
            if not all(isinstance(value, bool) for value in data.values()):
                raise ValueError("site settings are true or false")
            sim.state.hidden_emails = data.get("hidden_emails", sim.state.hidden_emails)
            if "rate_limits" in data:
                sim.limiter.config = replace(sim.limiter.config, enabled=data["rate_limits"])
        return JSONResponse(
            {"hidden_emails": sim.state.hidden_emails, "rate_limits": sim.limiter.config.enabled}
        )

    return [("/_sim/site", site, ["GET", "POST"])]


def _delivery_controls(sim: Simulator) -> list[tuple[str, Any, list[str]]]:
    """How webhook deliveries misbehave (held, sent twice, given up on)."""

    async def delivery_faults(request: Request) -> Response:
        if request.method == "POST":
            sim.webhooks.faults = DeliveryFaults.from_json(await _body(request))
        elif request.method == "DELETE":
            sim.webhooks.faults = DeliveryFaults()
        return JSONResponse(sim.webhooks.faults.to_json())

    return [("/_sim/webhooks/faults", delivery_faults, ["GET", "POST", "DELETE"])]


def sim_routes(sim: Simulator) -> list[Route]:
    """The ``/_sim`` controls (never under a context path: they are not Jira's)."""

    def handler(fn: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                return await fn(request)  # type: ignore[no-any-return]
            except JiraHttpError as error:
                return error_response(error)
            except (KeyError, ValueError, TypeError) as exc:
                return JSONResponse({"errorMessages": [str(exc)], "errors": {}}, status_code=400)
            finally:
                if request.method != "GET":  # a move or delete shows in search late too
                    sim.state.search_index.after_write()

        return endpoint

    async def counters(request: Request) -> Response:
        if request.method == "DELETE":
            sim.counter.reset()
            sim.requests.reset()
            return Response(status_code=204)
        return JSONResponse({"total": sim.counter.total(), "operations": sim.counter.snapshot()})

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            sim.clear_faults()
            return Response(status_code=204)
        if request.method == "POST":
            data = await _body(request)
            if "seed" in data and len(data) == 1:
                sim.faults.reseed(int(data["seed"]))
                return Response(status_code=204)
            return JSONResponse({"id": sim.faults.add(FaultRule.from_json(data))}, status_code=201)
        return JSONResponse([{"id": i, **r.to_json()} for i, r in sim.faults.rules.items()])

    async def fault(request: Request) -> Response:
        sim.faults.remove(int(request.path_params["id"]))
        return Response(status_code=204)

    async def revoke(request: Request) -> Response:
        data = await _body(request)
        return JSONResponse({"revoked": sim.revoke_token(str(data["token"]))})

    async def permissions(request: Request) -> Response:
        data = await _body(request)
        args = (str(data["user"]), str(data["project"]), str(data["permission"]))
        if data.get("allowed", False):
            sim.grant_permission(*args)
        else:
            sim.revoke_permission(*args)
        return Response(status_code=204)

    async def users(request: Request) -> Response:
        data = await _body(request)
        user = sim.add_user(
            name=str(data["name"]),
            email=str(data["email"]),
            display_name=data.get("displayName"),
            token=data.get("token"),
            admin=bool(data.get("admin", False)),
        )
        return JSONResponse({"accountId": user.account_id, "name": user.name}, status_code=201)

    async def webhooks(request: Request) -> Response:
        if request.method == "POST":
            data = await _body(request)
            events = tuple(data["events"]) if data.get("events") else None
            hook = sim.register_webhook(
                str(data["url"]),
                secret=data.get("secret"),
                events=events,
                name=str(data.get("name", "webhook")),
                jql=data.get("jql"),
            )
            return JSONResponse(
                {"id": hook.id, **hook.to_json(sim.state.base_url)}, status_code=201
            )
        return JSONResponse(
            {
                "webhooks": [
                    {"id": h.id, **h.to_json(sim.state.base_url)}
                    for h in sim.webhooks.webhooks.values()
                ],
                "deliveries": [
                    {
                        "identifier": d.identifier,
                        "url": d.url,
                        "event": d.event,
                        "attempts": d.attempts,
                        "outcomes": d.outcomes,
                        "done": d.done,
                        "failed": d.failed,
                    }
                    for d in sim.webhooks.deliveries
                ],
            }
        )

    async def deliver(request: Request) -> Response:
        return JSONResponse({"attempted": await sim.deliver_pending()})

    async def move(request: Request) -> Response:
        data = await _body(request)
        issue = sim.move_issue(
            request.path_params["key"], str(data["project"]), issuetype=data.get("issuetype")
        )
        return JSONResponse({"id": issue.id, "key": issue.key})

    async def delete(request: Request) -> Response:
        sim.delete_issue(request.path_params["key"])
        return Response(status_code=204)

    table = [
        ("/_sim/counters", counters, ["GET", "DELETE"]),
        ("/_sim/faults", faults, ["GET", "POST", "DELETE"]),
        ("/_sim/faults/{id:int}", fault, ["DELETE"]),
        ("/_sim/tokens/revoke", revoke, ["POST"]),
        ("/_sim/permissions", permissions, ["POST"]),
        ("/_sim/users", users, ["POST"]),
        ("/_sim/webhooks", webhooks, ["GET", "POST"]),
        ("/_sim/webhooks/deliver", deliver, ["POST"]),
        ("/_sim/issues/{key}/move", move, ["POST"]),
        ("/_sim/issues/{key}", delete, ["DELETE"]),
        *_time_controls(sim),
        *_delivery_controls(sim),
        *_limit_controls(sim),
        *_site_controls(sim),
    ]
    return [Route(path, handler(fn), methods=methods) for path, fn, methods in table]


def routes(api: Api) -> list[Route]:
    return webhook_routes(api) + sim_routes(api.sim)
