"""Every simulated REST call goes through here: faults, auth, limits, counting.

``Api.route`` wraps a handler so that, in order: a fault may delay, fail or hang
the call; the caller is authenticated (Basic e-mail/username + API token, or
Bearer PAT); the burst limit is checked; the handler runs; a "commit then fail"
fault may then lose the answer; and the outcome is counted per operation.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from syncengine.jira.simulator.errors import ConnectionDropped, JiraHttpError, bad_request
from syncengine.jira.simulator.faults import FaultRule
from syncengine.jira.simulator.limits import Throttle
from syncengine.jira.simulator.metering import NO_ANSWER
from syncengine.jira.simulator.model import Issue, User
from syncengine.jira.simulator.quota import points_for
from syncengine.jira.simulator.state import SimState, links_via

if TYPE_CHECKING:
    from syncengine.jira.simulator.handle import Simulator

__all__ = ["Api", "Ctx", "error_response", "json_response", "throttled"]

_HTML_429_CLOUD = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="X-UA-Compatible"'
    ' content="IE=edge"><title>Oops - an error has occurred</title></head>'
    '<body class="error-page error429"><h1>Too many requests</h1></body></html>'
)
_HTML_429_DC = (
    '<!doctype html><html lang="en"><head><title>HTTP Status 429 \u2013 Too Many Requests'
    "</title></head><body><h1>HTTP Status 429 \u2013 Too Many Requests</h1></body></html>"
)
_HTML_503 = (
    "<!DOCTYPE html><html><head><title>Service Unavailable</title></head>"
    "<body><h1>Service Unavailable</h1><p>Jira is temporarily unavailable.</p></body></html>"
)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


def error_response(error: JiraHttpError) -> Response:
    if isinstance(error.body, str):
        return Response(
            error.body,
            status_code=error.status,
            headers=error.headers,
            media_type=error.media_type or "text/plain;charset=UTF-8",
        )
    return JSONResponse(error.body, status_code=error.status, headers=error.headers)


class _DroppedResponse(Response):
    """Promises a body, then drops the connection (uvicorn closes it mid-answer)."""

    def __init__(self) -> None:
        super().__init__(status_code=201)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"512")],
            }
        )
        raise ConnectionDropped("the simulator dropped the connection after committing")


def throttled(sim: Simulator, throttle: Throttle) -> JiraHttpError:
    """Jira's 429 for a refused call: Retry-After, X-RateLimit-*, RateLimit-Reason."""
    headers = {
        "Retry-After": str(throttle.retry_after),
        "X-RateLimit-Limit": str(throttle.limit),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": throttle.reset.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "RateLimit-Reason": throttle.reason,
    }
    if sim.state.flavour == "datacenter":
        headers |= {
            "X-RateLimit-FillRate": str(throttle.limit),
            "X-RateLimit-Interval-Seconds": "1",
        }
    if sim.faults.chance(sim.limits.html_429_ratio):
        page = _HTML_429_CLOUD if sim.state.flavour == "cloud" else _HTML_429_DC
        return JiraHttpError(429, page, headers=headers, media_type="text/html;charset=UTF-8")
    body = {
        "errorMessages": ["The request has been rate-limited. Please try again later."],
        "errors": {},
    }
    return JiraHttpError(429, body, headers=headers)


@dataclass(frozen=True, kw_only=True)
class Ctx:
    """One authenticated call: the simulator, the caller, the REST version, the request."""

    sim: Simulator
    user: User
    version: int
    request: Request

    @property
    def state(self) -> SimState:
        return self.sim.state

    def param(self, name: str) -> str:
        return str(self.request.path_params[name])

    def query(self, name: str, default: str | None = None) -> str | None:
        return self.request.query_params.get(name, default)

    def int_query(self, name: str, default: int) -> int:
        raw = self.request.query_params.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise bad_request(f"The value '{raw}' of parameter '{name}' is not a number.") from None

    async def json(self) -> Any:
        """The JSON body; Jira's 415 for another content type, 400 for bad JSON."""
        raw = await self.request.body()
        kind = self.request.headers.get("content-type", "")
        if "json" not in kind.lower():
            raise JiraHttpError(415, "Unsupported Media Type", media_type="text/plain")
        try:
            return json.loads(raw or b"null")
        except ValueError as exc:
            raise bad_request(f"Unexpected character in the JSON body: {exc}") from None

    def write_to(self, issue: Issue) -> None:
        """Count a write to ``issue`` against the per-issue limit (Jira's 429 past it)."""
        throttle = self.sim.limiter.check_issue_write(issue.id)
        if throttle is not None:
            raise throttled(self.sim, throttle)
        issue.writes += 1


Handler = Callable[[Ctx], Awaitable[Response]]


class Api:
    """Builds the simulator's routes around :class:`Ctx` handlers."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self._late_tasks: set[asyncio.Task[Response]] = set()

    def route(
        self,
        method: str,
        path: str,
        handler: Handler,
        *,
        versions: tuple[int, ...] = (2, 3),
        anonymous: bool = False,
        rest: bool = True,
    ) -> Route:
        """A route for ``/rest/api/{version}`` + ``path`` (or ``path`` alone when not ``rest``)."""
        operation = f"{method} {path}"
        full = f"/rest/api/{{version:int}}{path}" if rest else path
        allowed = (
            versions if self.sim.state.flavour == "cloud" else tuple(v for v in versions if v == 2)
        )

        async def endpoint(request: Request) -> Response:
            status = 0
            arrived = self.sim.clock.monotonic()
            try:
                response = await self._serve(
                    request, method, operation, handler, allowed, anonymous, rest
                )
                status = 0 if isinstance(response, _DroppedResponse) else response.status_code
                return response
            finally:
                self.sim.counter.record(operation, status or NO_ANSWER)
                self.sim.requests.record(arrived, operation, status or NO_ANSWER)
                if method != "GET":
                    self.sim.state.search_index.after_write()

        return Route(full, endpoint, methods=[method], name=operation)

    async def _serve(  # noqa: PLR0917 - private, the route's fixed facts
        self,
        request: Request,
        method: str,
        operation: str,
        handler: Handler,
        allowed: tuple[int, ...],
        anonymous: bool,
        rest: bool,
    ) -> Response:
        version = int(request.path_params.get("version", 2))
        path = request.url.path
        via_gateway = path.startswith("/ex/jira/")
        charged = False  # the call spends points of the quota once answered
        try:
            if rest and version not in allowed:
                return error_response(self._no_version(version))
            await self._faults_before(request, operation, method, path)
            user = self._authenticate(request, anonymous, via_gateway=via_gateway)
            throttle = self.sim.limiter.check_burst(operation, method)
            if throttle is not None:
                raise throttled(self.sim, throttle)
            charged = self._admit_quota(request)
            with links_via(self.sim.state.gateway_base if via_gateway else None):
                ctx = Ctx(sim=self.sim, user=user, version=version, request=request)
                late = self.sim.faults.pick(("late",), operation, method, path)
                if late:
                    response = await self._late(ctx, handler, max(r.seconds for r in late))
                else:
                    response = await handler(ctx)
        except JiraHttpError as error:
            response = error_response(error)
            if charged:
                response.headers.update(self.sim.quota.spend())
            return response
        if charged:
            body = getattr(response, "body", b"")  # a streamed answer holds no priced object
            points = points_for(operation, response.status_code, bytes(body))
            response.headers.update(self.sim.quota.spend(points))
        if method != "GET" and 200 <= response.status_code < 300:
            for rule in self.sim.faults.pick(("commit_then_fail",), operation, method, path):
                if rule.drop:
                    return _DroppedResponse()
                return error_response(self._fault_error(rule))
        return response

    def _admit_quota(self, request: Request) -> bool:
        """Whether an OAuth 2.0 app's call spends points (see :mod:`.quota`); raises Jira's
        429 once the quota is spent."""
        bearer = request.headers.get("authorization", "").lower().startswith("bearer ")
        quota = self.sim.quota
        if not quota.applies(oauth2=bearer and self.sim.state.flavour == "cloud"):
            return False
        if quota.admits():
            return True
        body = {
            "errorMessages": ["The request has been rate-limited. Please try again later."],
            "errors": {},
        }
        raise JiraHttpError(429, body, headers=quota.refusal())

    async def _late(self, ctx: Ctx, handler: Handler, seconds: float) -> Response:
        """Handle after ``seconds``, whether or not the caller still waits: Jira does not
        cancel a request when the client's timeout fires, so the write lands late."""
        await ctx.request.body()  # read (and kept) now: the caller may hang up meanwhile

        async def later() -> Response:
            await asyncio.sleep(seconds)
            try:
                return await handler(ctx)
            except JiraHttpError as error:
                return error_response(error)
            finally:
                self.sim.state.search_index.after_write()

        task = asyncio.get_running_loop().create_task(later())
        self._late_tasks.add(task)
        task.add_done_callback(self._late_tasks.discard)
        return await asyncio.shield(task)

    async def _faults_before(
        self, request: Request, operation: str, method: str, path: str
    ) -> None:
        rules = self.sim.faults.pick(("latency", "timeout", "error"), operation, method, path)
        for rule in rules:
            if rule.kind == "latency":
                await asyncio.sleep(rule.seconds)
        for rule in rules:
            if rule.kind == "timeout":
                await self._hang(request, rule.seconds or self.sim.hang_seconds)
                raise JiraHttpError(504, "Gateway Timeout", media_type="text/plain")
            if rule.kind == "error":
                raise self._fault_error(rule)

    async def _hang(self, request: Request, seconds: float) -> None:
        """Wait ``seconds``, or until the caller hangs up (so a stopping server is not held)."""
        deadline = asyncio.get_running_loop().time() + seconds
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            await asyncio.sleep(min(left, 0.25))
            if await request.is_disconnected():
                return

    def _no_version(self, version: int) -> JiraHttpError:
        message = f"REST API version {version} is not available on this Jira."
        return JiraHttpError(404, {"errorMessages": [message], "errors": {}})

    def _fault_error(self, rule: FaultRule) -> JiraHttpError:
        if rule.status == 429:
            body: dict[str, Any] = {
                "errorMessages": ["The request has been rate-limited. Please try again later."],
                "errors": {},
            }
            return JiraHttpError(
                429,
                body,
                headers={
                    "Retry-After": str(rule.retry_after),
                    "RateLimit-Reason": "jira-quota-tenant-based",
                },
            )
        if rule.status == 503:
            return JiraHttpError(
                503,
                _HTML_503,
                headers={"Retry-After": str(rule.retry_after)},
                media_type="text/html;charset=UTF-8",
            )
        message = (
            "Internal server error" if rule.status == 500 else f"Simulated error {rule.status}"
        )
        return JiraHttpError(rule.status, {"errorMessages": [message], "errors": {}})

    def _authenticate(self, request: Request, anonymous: bool, *, via_gateway: bool) -> User:
        header = request.headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        user: User | None = None
        oauth = self.sim.oauth
        if scheme.lower() == "basic":
            if not oauth.basic_auth_enabled:
                # Data Center 10+ with basic auth blocked (the atlassian-authentication plugin).
                raise JiraHttpError(
                    403,
                    "Basic Authentication has been disabled on this instance.",
                    media_type="text/plain;charset=UTF-8",
                )
            try:
                login, _, token = base64.b64decode(credentials).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                login, token = "", ""
            user = (
                self.sim.state.authenticate(login, token, via_gateway=via_gateway)
                if token
                else None
            )
        elif scheme.lower() == "bearer" and credentials:
            user = self.sim.state.authenticate(None, credentials.strip(), via_gateway=via_gateway)
            if user is None:
                account = oauth.authenticate_bearer(credentials.strip(), via_gateway=via_gateway)
                user = self.sim.state.users.get(account) if account else None
                if user is not None:
                    # An OAuth 2.0 app's call: it may register dynamic webhooks (Cloud).
                    request.state.oauth_client = oauth.client_of_bearer(credentials.strip())
        elif scheme == "OAuth" and self.sim.state.flavour == "datacenter":
            headers = {k.lower(): v for k, v in request.headers.items()}
            account = oauth.authenticate_oauth1(request.method, str(request.url), headers)
            user = self.sim.state.users.get(account) if account else None
        if user is not None and user.active:
            return user
        if anonymous and not header:
            return self.sim.anonymous
        raise self.unauthorized()

    def unauthorized(self) -> JiraHttpError:
        if self.sim.state.flavour == "cloud":
            return JiraHttpError(
                401,
                {
                    "message": "Client must be authenticated to access this resource.",
                    "status-code": 401,
                },
                headers={
                    "WWW-Authenticate": 'Basic realm="protected-area"',
                    "X-Seraph-LoginReason": "AUTHENTICATED_FAILED",
                },
            )
        return JiraHttpError(
            401,
            {
                "errorMessages": [
                    "You are not authenticated. Authentication required to perform this operation."
                ],
                "errors": {},
            },
            headers={
                "WWW-Authenticate": 'Basic realm="protected-area"',
                "X-Seraph-LoginReason": "AUTHENTICATED_FAILED",
            },
        )
