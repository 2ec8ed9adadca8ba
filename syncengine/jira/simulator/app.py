"""``create_simulator``: a Jira site as an ASGI app plus the handle tests drive it by."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from syncengine.jira.simulator.browse import page_routes
from syncengine.jira.simulator.clock import Clock, SystemClock
from syncengine.jira.simulator.handle import Simulator
from syncengine.jira.simulator.limits import LimitsConfig
from syncengine.jira.simulator.persistence import StateFile
from syncengine.jira.simulator.pipeline import Api, Ctx
from syncengine.jira.simulator.routes import admin, createmeta, issues, meta, parts, search
from syncengine.jira.simulator.routes.oauth import oauth_admin_routes, oauth_routes
from syncengine.jira.simulator.seed import DEFAULT_LOGIN, DEFAULT_TOKEN, seed_site
from syncengine.jira.simulator.state import SimState

__all__ = ["create_simulator"]


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = "Not Found" if status == 404 else "Method Not Allowed" if status == 405 else "Error"
    return JSONResponse(
        {"errorMessages": [f"{message}: {request.url.path}"], "errors": {}}, status_code=status
    )


def _latest_is_v2(app: ASGIApp) -> ASGIApp:
    """``/rest/api/latest/...`` answered as ``/rest/api/2/...``, as Jira does.

    (pycontribs' ``jira`` sends some calls there, ``assign_issue`` among them.)
    """
    old, new = "/rest/api/latest/", "/rest/api/2/"

    async def aliased(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and old in scope["path"]:
            path = scope["path"].replace(old, new, 1)
            raw = scope.get("raw_path") or scope["path"].encode()
            scope = {**scope, "path": path, "raw_path": raw.replace(old.encode(), new.encode(), 1)}
        await app(scope, receive, send)

    return aliased


async def tenant_info(ctx: Ctx) -> Response:
    """Cloud's anonymous ``/_edge/tenant_info``: the site's cloudId."""
    return JSONResponse({"cloudId": ctx.state.cloud_id})


def create_simulator(
    flavour: Literal["cloud", "datacenter"] = "cloud",
    *,
    seed: bool = True,
    login: str = DEFAULT_LOGIN,
    token: str = DEFAULT_TOKEN,
    base_url: str = "http://jira.local",
    gateway_url: str = "https://api.atlassian.com",
    clock: Clock | None = None,
    limits: LimitsConfig | None = None,
    fault_seed: int = 0,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    webhook_mode: Literal["auto", "manual"] = "auto",
    hang_seconds: float = 300.0,
    state_path: Path | None = None,
    lock_wait_seconds: float = 0.0,
    search_lag: float = 0.0,
) -> Simulator:
    """Build a simulated Jira site.

    ``flavour`` picks Cloud (REST v2 + v3, accountIds, ``/search/jql``) or Data
    Center (v2, usernames, ``/search``; also served under ``/jira``). Cloud is
    also served through the API gateway, ``/ex/jira/{cloudId}`` (the cloudId from
    ``/_edge/tenant_info``), where answers link to ``gateway_url``. With
    ``seed`` the CRASH and SUP projects exist and ``login``/``token`` is the bot's
    credential. ``limits`` defaults to Cloud's published rate limits on Cloud and to
    none on Data Center (page and bulk caps apply to both). ``clock`` defaults to
    the wall clock; pass a ManualClock to move time in tests.
    ``webhook_mode="manual"`` queues deliveries until ``await sim.deliver_pending()``.
    The ASGI app is ``sim.app``. A ``base_url`` with a path (``http://host/jira``) is
    also served under that path. With ``state_path`` the site is kept in that folder
    (:mod:`~syncengine.jira.simulator.persistence`; ``sim.close()`` lets it go): read
    from it when it exists, written after every change — by this process when it gets
    the folder's lock within ``lock_wait_seconds``, else the site only reads
    (``sim.state_file.writable``).
    ``search_lag``: seconds a write takes to show in JQL search, as on Jira Cloud
    (``GET /issue`` is always current; ``reconcileIssues`` ids are searched current).
    The ASGI app is ``sim.app``.

    Raises ValueError for an unknown flavour, OSError when ``state_path`` cannot be opened.
    """
    if flavour not in ("cloud", "datacenter"):
        raise ValueError(f"unknown Jira flavour {flavour!r}: use 'cloud' or 'datacenter'")
    real_clock = clock or SystemClock()
    state = SimState(
        flavour=flavour,
        clock=real_clock,
        site_url=base_url.rstrip("/"),
        gateway_url=gateway_url.rstrip("/"),
    )
    if seed:
        seed_site(state, login=login, token=token)
    sim = Simulator(
        state=state,
        clock=real_clock,
        # Data Center has no rate limiting until an administrator turns it on.
        limits=limits or LimitsConfig(enabled=flavour == "cloud"),
        seed=fault_seed,
        webhook_transport=webhook_transport,
        webhook_mode=webhook_mode,
        hang_seconds=hang_seconds,
    )
    sim.search_lag = search_lag
    api = Api(sim)
    jira: list[BaseRoute] = [
        *meta.routes(api),
        *createmeta.routes(api),
        *issues.routes(api),
        *parts.routes(api),
        *search.routes(api),
        *admin.webhook_routes(api),
    ]
    pages: list[BaseRoute] = list(page_routes(state))
    routes: list[BaseRoute] = [
        *jira,
        *pages,
        *admin.sim_routes(sim),
        *oauth_admin_routes(sim),
        *oauth_routes(sim),
    ]
    if flavour == "datacenter":
        routes += oauth_routes(sim, prefix="/jira")
        routes.append(Mount("/jira", routes=[*jira, *pages]))
    else:
        routes += [
            api.route("GET", "/_edge/tenant_info", tenant_info, anonymous=True, rest=False),
            Mount(f"/ex/jira/{state.cloud_id}", routes=jira),
        ]
    context = urlsplit(base_url).path.rstrip("/")
    if context and not (flavour == "datacenter" and context == "/jira"):
        routes.append(Mount(context, routes=[*jira, *pages]))
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    served = _latest_is_v2(app)
    if state_path is not None:
        sim.state_file = StateFile.open(state_path, state, wait_seconds=lock_wait_seconds)
        served = sim.state_file.wrap(served)
    sim.attach(served)
    return sim
