"""The test handle: one object holding the simulator's state and its knobs.

Tests (and the admin endpoints) reach everything through :class:`Simulator`:
its state, faults, rate limits, request counts and webhooks, plus the out-of-band
operations Jira users do in the UI (move or delete an issue, revoke a token).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from syncengine.jira.simulator import workflow
from syncengine.jira.simulator.clock import Clock
from syncengine.jira.simulator.errors import ConnectionDropped
from syncengine.jira.simulator.faults import FaultRule, Faults
from syncengine.jira.simulator.limits import LimitsConfig, RateLimiter
from syncengine.jira.simulator.metering import RequestCounter, RequestLog
from syncengine.jira.simulator.model import Issue, Permission, ScreenField, User
from syncengine.jira.simulator.oauth import OAuthServers
from syncengine.jira.simulator.quota import PointsQuota
from syncengine.jira.simulator.state import SimState
from syncengine.jira.simulator.webhooks import Webhook, WebhookDispatcher

if TYPE_CHECKING:
    from syncengine.jira.simulator.persistence import StateFile

__all__ = ["SimTransport", "Simulator"]


class SimTransport(httpx.AsyncBaseTransport):
    """httpx transport into the app in-process, failing the way a socket would.

    The request's read timeout is enforced (a hang fault raises ReadTimeout) and a
    dropped connection raises RemoteProtocolError, as over a real network.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = (request.extensions.get("timeout") or {}).get("read")
        try:
            if timeout is None:
                return await self._inner.handle_async_request(request)
            return await asyncio.wait_for(self._inner.handle_async_request(request), timeout)
        except TimeoutError as exc:
            raise httpx.ReadTimeout("simulated read timeout", request=request) from exc
        except ConnectionDropped as exc:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body", request=request
            ) from exc


class Simulator:
    """A running simulator: ``app`` is the ASGI app, the rest is its state and knobs."""

    def __init__(
        self,
        *,
        state: SimState,
        clock: Clock,
        limits: LimitsConfig,
        seed: int,
        webhook_transport: httpx.AsyncBaseTransport | None,
        webhook_mode: str,
        hang_seconds: float,
    ) -> None:
        self.state = state
        self.clock = clock
        self.limits = limits
        self.limiter = RateLimiter(limits, clock)
        self.faults = Faults(seed)
        self.counter = RequestCounter()
        self.requests = RequestLog()
        self.quota = PointsQuota(clock)
        self.oauth = OAuthServers(clock, cloud=state.flavour == "cloud")
        self.hang_seconds = hang_seconds
        self.webhooks = WebhookDispatcher(
            state,
            clock,
            transport=webhook_transport,
            mode="manual" if webhook_mode == "manual" else "auto",
        )
        self.anonymous = User(
            account_id="anonymous",
            name="anonymous",
            key="anonymous",
            email="",
            display_name="Anonymous",
        )
        self.app: ASGIApp = _unset_app
        self._inner: ASGIApp = _unset_app
        self.state_file: StateFile | None = None

    def attach(self, app: ASGIApp) -> None:
        """Install the routed app (``create_simulator`` does this)."""
        self._inner = app

        async def served(scope: Scope, receive: Receive, send: Send) -> None:
            # A dropped answer ends here: uvicorn then closes the half-answered
            # connection (logging one line) instead of printing a traceback.
            with contextlib.suppress(ConnectionDropped):
                await app(scope, receive, send)

        self.app = served

    @property
    def flavour(self) -> str:
        return self.state.flavour

    def issue_page(self, key: str) -> str | None:
        """The read-only page of issue ``key`` (``/browse/{key}``), or None if there is none."""
        from syncengine.jira.simulator.browse import issue_page

        if self.state_file is not None:
            self.state_file.refresh()
        return issue_page(self.state, key)

    def close(self) -> None:
        """Save the site to its file (if it has one) and let the file go."""
        if self.state_file is not None:
            self.state_file.close()
            self.state_file = None

    @property
    def search_lag(self) -> float:
        """Seconds a write takes to show in JQL search (Cloud's eventual consistency)."""
        return self.state.search_index.lag

    @search_lag.setter
    def search_lag(self, seconds: float) -> None:
        self.state.search_index.set_lag(seconds)

    # ---- HTTP in-process ----------------------------------------------------
    def transport(self) -> SimTransport:
        """An httpx transport into this simulator (no socket)."""
        return SimTransport(self._inner)

    def client(
        self, *, login: str | None = None, token: str | None = None, **kwargs: Any
    ) -> httpx.AsyncClient:
        """An AsyncClient on this simulator: Basic auth with ``login``, else Bearer ``token``."""
        headers = dict(kwargs.pop("headers", {}))
        auth: httpx.Auth | None = None
        if token and login:
            auth = httpx.BasicAuth(login, token)
        elif token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.AsyncClient(
            transport=self.transport(),
            base_url=self.state.base_url,
            auth=auth,
            headers=headers,
            **kwargs,
        )

    # ---- users, tokens, permissions ------------------------------------------
    def user(self, ref: str) -> User:
        """A user by account id, username or e-mail; KeyError if unknown."""
        found = self.state.user_ref(ref)
        if found is None:
            raise KeyError(f"no simulated user {ref!r}")
        return found

    def add_user(
        self,
        *,
        name: str,
        email: str,
        display_name: str | None = None,
        token: str | None = None,
        admin: bool = False,
    ) -> User:
        return self.state.add_user(
            name=name, email=email, display_name=display_name or name, token=token, admin=admin
        )

    def add_scoped_token(self, ref: str, token: str) -> None:
        """Give user ``ref`` a scoped API token: good only through the API gateway."""
        self.state.add_token(self.user(ref), token, scoped=True)

    def revoke_token(self, token: str) -> bool:
        """Revoke an API token / PAT: later calls with it get 401."""
        return self.state.revoke_token(token)

    def revoke_permission(self, user: str, project: str, permission: Permission | str) -> None:
        """Take ``permission`` in ``project`` away from ``user`` (BROWSE hides the project: 404)."""
        self.state.deny(self.user(user), self.state.project(project), Permission(permission))

    def grant_permission(self, user: str, project: str, permission: Permission | str) -> None:
        self.state.allow(self.user(user), self.state.project(project), Permission(permission))

    def require_on_transition(
        self, project: str, transition_id: str, field_id: str, *, required: bool = True
    ) -> None:
        """Put ``field_id`` on the screen of transition ``transition_id`` in ``project``
        (required by default): Jira then refuses the transition without a value for it."""
        proj = self.state.project(project)
        if field_id not in self.state.fields:
            raise KeyError(f"no simulated field {field_id!r}")
        flow = proj.workflow
        if transition_id not in {t.id for t in flow.transitions}:
            raise KeyError(f"no transition {transition_id!r} in {project}'s workflow")
        changed = tuple(
            replace(t, screen=(*t.screen, ScreenField(field_id=field_id, required=required)))
            if t.id == transition_id
            else t
            for t in flow.transitions
        )
        proj.workflow = replace(flow, transitions=changed)

    # ---- faults ---------------------------------------------------------------
    def add_fault(self, **rule: Any) -> int:
        """Activate a :class:`FaultRule` given by keywords; returns its id."""
        return self.faults.add(FaultRule.from_json(rule))

    def clear_faults(self) -> None:
        self.faults.clear()

    # ---- issues out of band -----------------------------------------------------
    def issue(self, ref: str) -> Issue:
        """An issue by key (also a key it had before a move) or id; KeyError if unknown."""
        found = self.state.find_issue(ref)
        if found is None:
            raise KeyError(f"no simulated issue {ref!r}")
        return found

    def issues(self, project: str | None = None) -> list[Issue]:
        """Every issue (of ``project``), in creation order."""
        found = list(self.state.issues.values())
        if project is not None:
            wanted = self.state.project(project).id
            found = [i for i in found if i.project_id == wanted]
        return found

    def move_issue(
        self, ref: str, project: str, *, issuetype: str | None = None, by: str | None = None
    ) -> Issue:
        """Move an issue to ``project``: new key, same id (fires jira:issue_updated)."""
        issue = self.issue(ref)
        workflow.move_issue(self.state, self._actor(by), issue, project, issuetype)
        return issue

    def delete_issue(self, ref: str, *, by: str | None = None) -> None:
        """Delete an issue as an administrator would (fires jira:issue_deleted)."""
        workflow.delete_issue(self.state, self._actor(by), self.issue(ref), check=False)

    def _actor(self, ref: str | None) -> User:
        if ref is not None:
            return self.user(ref)
        return next((u for u in self.state.users.values() if u.admin), self.anonymous)

    # ---- webhooks -----------------------------------------------------------------
    def register_webhook(
        self,
        url: str,
        *,
        secret: str | None = None,
        events: tuple[str, ...] | None = None,
        name: str = "webhook",
        jql: str | None = None,
    ) -> Webhook:
        """Register a webhook (all events and issues by default); ValueError when invalid."""
        if events is None:
            return self.webhooks.register(url, name=name, secret=secret, jql=jql)
        return self.webhooks.register(url, name=name, secret=secret, events=events, jql=jql)

    async def deliver_pending(self) -> int:
        """Attempt every webhook delivery due now (manual mode); returns how many."""
        return await self.webhooks.deliver_pending()

    # ---- counters -------------------------------------------------------------------
    def calls(self, operation: str | None = None, status: int | None = None) -> int:
        """How many requests were answered (for ``operation`` such as ``"POST /issue"``)."""
        return self.counter.total(operation, status)


async def _unset_app(scope: Any, receive: Any, send: Any) -> None:
    raise RuntimeError("the simulator's app is set by create_simulator()")
