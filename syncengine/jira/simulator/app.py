"""``create_simulator``: a Jira site as an ASGI app plus the handle tests drive it by."""

from __future__ import annotations

from typing import Literal

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount

from syncengine.jira.simulator.clock import Clock, SystemClock
from syncengine.jira.simulator.handle import Simulator
from syncengine.jira.simulator.limits import LimitsConfig
from syncengine.jira.simulator.pipeline import Api
from syncengine.jira.simulator.routes import admin, issues, meta, parts, search
from syncengine.jira.simulator.seed import DEFAULT_LOGIN, DEFAULT_TOKEN, seed_site
from syncengine.jira.simulator.state import SimState

__all__ = ["create_simulator"]


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = "Not Found" if status == 404 else "Method Not Allowed" if status == 405 else "Error"
    return JSONResponse(
        {"errorMessages": [f"{message}: {request.url.path}"], "errors": {}}, status_code=status
    )


def create_simulator(
    flavour: Literal["cloud", "datacenter"] = "cloud",
    *,
    seed: bool = True,
    login: str = DEFAULT_LOGIN,
    token: str = DEFAULT_TOKEN,
    base_url: str = "http://jira.local",
    clock: Clock | None = None,
    limits: LimitsConfig | None = None,
    fault_seed: int = 0,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    webhook_mode: Literal["auto", "manual"] = "auto",
    hang_seconds: float = 300.0,
) -> Simulator:
    """Build a simulated Jira site.

    ``flavour`` picks Cloud (REST v2 + v3, accountIds, ``/search/jql``) or Data
    Center (v2, usernames, ``/search``; also served under ``/jira``). With
    ``seed`` the CRASH and SUP projects exist and ``login``/``token`` is the bot's
    credential. ``clock`` defaults to the wall clock; pass a ManualClock to move
    time in tests. ``webhook_mode="manual"`` queues deliveries until
    ``await sim.deliver_pending()``. The ASGI app is ``sim.app``.

    Raises ValueError for an unknown flavour.
    """
    if flavour not in ("cloud", "datacenter"):
        raise ValueError(f"unknown Jira flavour {flavour!r}: use 'cloud' or 'datacenter'")
    real_clock = clock or SystemClock()
    state = SimState(flavour=flavour, clock=real_clock, base_url=base_url.rstrip("/"))
    if seed:
        seed_site(state, login=login, token=token)
    sim = Simulator(
        state=state,
        clock=real_clock,
        limits=limits or LimitsConfig(),
        seed=fault_seed,
        webhook_transport=webhook_transport,
        webhook_mode=webhook_mode,
        hang_seconds=hang_seconds,
    )
    api = Api(sim)
    jira: list[BaseRoute] = [
        *meta.routes(api),
        *issues.routes(api),
        *parts.routes(api),
        *search.routes(api),
    ]
    routes: list[BaseRoute] = [*jira, *admin.routes(api)]
    if flavour == "datacenter":
        routes.append(Mount("/jira", routes=jira))
    sim.attach(Starlette(routes=routes, exception_handlers={HTTPException: _http_error}))
    return sim
