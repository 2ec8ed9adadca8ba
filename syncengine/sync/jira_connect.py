"""Connecting a project to Jira with OAuth: the flows an administrator walks once.

OAuth 1.0a (Data Center / Server application link):
1. :meth:`JiraConnector.start` makes (once) the RSA key pair, keeps the private key sealed,
   and returns the consumer key and public key to paste into Jira's application link; then
   asks Jira for a request token and returns the URL where the administrator accepts.
   Until the link exists Jira refuses the request token: ``start`` says so and what to do.
2. Jira sends the browser back to the callback (``/integration/{project}/oauth/callback``)
   with a verifier, or shows it (``oob``) for the administrator to paste;
   :meth:`JiraConnector.complete` trades it for the access token.

OAuth 2.0 (Data Center 8.22+ incoming link; Cloud 3LO app): ``start`` returns the authorize
URL (PKCE S256, a one-time ``state``); ``complete`` checks the state, trades the code for
tokens and, on Cloud, finds the site's cloudId among the token's accessible resources.

Pending flows expire after 10 minutes; everything secret is sealed in the store.
"""

from __future__ import annotations

import secrets as random_tokens
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from syncengine.domain.digests import same_text
from syncengine.errors import InvalidInput
from syncengine.jira.errors import JiraAuthError
from syncengine.jira.oauth import (
    OAuthGrantRevoked,
    Pkce,
    accessible_resources,
    generate_rsa_key_pair,
    oauth1_access_token,
    oauth1_authorize_url,
    oauth1_request_token,
    oauth2_authorize_url,
    oauth2_exchange_code,
)
from syncengine.store.credentials import StoredCredential
from syncengine.sync.jira_auth import (
    OAUTH1_TOKEN_LIFETIME,
    REFRESH_IDLE_LIFETIME,
    JiraCredentials,
    OAuthSetup,
)

__all__ = ["ConnectStart", "ConnectState", "JiraConnector"]

PENDING_LIFETIME = timedelta(minutes=10)


@dataclass(frozen=True, kw_only=True)
class ConnectStart:
    """What the administrator needs next."""

    project: str
    kind: str
    authorize_url: str = ""
    """Open this, sign in to Jira as the integration user, and allow access."""
    consumer_key: str = ""
    public_key: str = ""
    """OAuth 1.0a: paste these into the application link (incoming authentication)."""
    link_missing: bool = False
    """OAuth 1.0a: Jira refused the request token: the application link is not set up yet."""
    problem: str = ""
    out_of_band: bool = False
    """Jira will show a code to paste instead of sending the browser back."""


@dataclass(frozen=True, kw_only=True)
class ConnectState:
    """Whether a project is connected, and until when (nothing secret)."""

    project: str
    kind: str
    connected: bool
    pending: bool
    expires_at: datetime | None
    updated_at: datetime | None


class JiraConnector:
    """Starts and completes OAuth connect flows, writing through :class:`JiraCredentials`."""

    def __init__(
        self,
        credentials: JiraCredentials,
        *,
        http: Callable[[], httpx.AsyncClient],
        now: Callable[[], datetime],
    ) -> None:
        self.credentials = credentials
        self._http = http
        self._now = now

    def setup(self, project: str) -> OAuthSetup:
        """The project's OAuth configuration.

        Raises:
            InvalidInput: the project does not use OAuth.
        """
        setup = self.credentials.setups.get(project)
        if setup is None:
            raise InvalidInput(
                {
                    "project": f"projects.{project}.jira.auth is not oauth1 or oauth2; set it "
                    "(and the oauth_* keys) to connect with OAuth"
                }
            )
        return setup

    async def state(self, project: str) -> ConnectState:
        """The project's connection state."""
        setup = self.setup(project)
        stored = await self.credentials.repository.get(project)
        return ConnectState(
            project=project,
            kind=setup.kind,
            connected=stored is not None and stored.status == "connected",
            pending=stored is not None and "pending" in stored.secrets,
            expires_at=stored.expires_at if stored and stored.status == "connected" else None,
            updated_at=stored.updated_at if stored else None,
        )

    async def start(self, project: str) -> ConnectStart:
        """Begin (or begin again) the project's connect flow."""
        setup = self.setup(project)
        stored = await self.credentials.repository.get(project)
        if setup.kind == "oauth1":
            return await self._start_oauth1(setup, stored)
        return await self._start_oauth2(setup, stored)

    async def _keep(
        self, setup: OAuthSetup, stored: StoredCredential | None, secrets: dict[str, Any]
    ) -> None:
        await self.credentials.repository.put(
            setup.project,
            kind=setup.kind,
            status=stored.status if stored is not None else "pending",
            secrets=secrets,
            expires_at=stored.expires_at if stored is not None else None,
            now=self._now(),
        )
        self.credentials.forget(setup.project)

    async def _start_oauth1(
        self, setup: OAuthSetup, stored: StoredCredential | None
    ) -> ConnectStart:
        secrets = dict(stored.secrets) if stored is not None else {}
        if "private_key" not in secrets:
            secrets["private_key"], secrets["public_key"] = generate_rsa_key_pair()
            await self._keep(setup, stored, secrets)
            stored = await self.credentials.repository.get(setup.project)
        callback = setup.callback_url or "oob"
        start = ConnectStart(
            project=setup.project,
            kind="oauth1",
            consumer_key=setup.consumer_key,
            public_key=str(secrets["public_key"]),
            out_of_band=callback == "oob",
        )
        try:
            async with self._http() as http:
                token, token_secret = await oauth1_request_token(
                    http,
                    setup.site,
                    consumer_key=setup.consumer_key,
                    private_key=str(secrets["private_key"]),
                    callback=callback,
                )
        except OAuthGrantRevoked as exc:
            return ConnectStart(**{**start.__dict__, "link_missing": True, "problem": str(exc)})
        secrets["pending"] = {
            "request_token": token,
            "request_secret": token_secret,
            "started_at": self._now().isoformat(),
        }
        await self._keep(setup, stored, secrets)
        return ConnectStart(
            **{**start.__dict__, "authorize_url": oauth1_authorize_url(setup.site, token)}
        )

    async def _start_oauth2(
        self, setup: OAuthSetup, stored: StoredCredential | None
    ) -> ConnectStart:
        assert setup.endpoints is not None
        pkce = Pkce.new()
        state = random_tokens.token_urlsafe(32)
        secrets = dict(stored.secrets) if stored is not None else {}
        secrets["pending"] = {
            "state": state,
            "verifier": pkce.verifier,
            "challenge": pkce.challenge,
            "started_at": self._now().isoformat(),
        }
        await self._keep(setup, stored, secrets)
        url = oauth2_authorize_url(
            setup.endpoints,
            client_id=setup.client_id,
            redirect_uri=setup.callback_url,
            scopes=setup.scopes,
            state=state,
            pkce=pkce,
        )
        return ConnectStart(project=setup.project, kind="oauth2", authorize_url=url)

    async def _pending(self, setup: OAuthSetup) -> tuple[StoredCredential, dict[str, Any]]:
        stored = await self.credentials.repository.get(setup.project)
        pending = stored.secrets.get("pending") if stored is not None else None
        if stored is None or not isinstance(pending, dict):
            raise InvalidInput(
                {"project": f"no connect flow is under way for {setup.project}: start it again"}
            )
        started = datetime.fromisoformat(str(pending.get("started_at")))
        if self._now() - started > PENDING_LIFETIME:
            raise InvalidInput({"project": "the connect flow expired (10 minutes): start it again"})
        return stored, pending

    async def complete(
        self,
        project: str,
        *,
        code: str = "",
        state: str = "",
        verifier: str = "",
        oauth_token: str = "",
        operator: bool = False,
    ) -> ConnectState:
        """Finish the flow with what Jira gave back (a pasted code, verifier or redirect URL).

        ``operator``: the call comes from the command line, not a browser redirect, so a
        bare code without its ``state`` is accepted (the state guards browser callbacks).

        Raises:
            InvalidInput: no flow under way, expired, or a state / token that does not match.
            JiraAuthError: Jira refused the exchange (says what to do).
        """
        setup = self.setup(project)
        code, state, verifier, oauth_token = _from_redirect(code, state, verifier, oauth_token)
        stored, pending = await self._pending(setup)
        now = self._now()
        secrets = {k: v for k, v in stored.secrets.items() if k != "pending"}
        if setup.kind == "oauth1":
            if oauth_token and oauth_token != pending.get("request_token"):
                raise InvalidInput({"oauth_token": "does not match the flow under way"})
            if not verifier:
                raise InvalidInput({"verifier": "give the verification code Jira showed"})
            async with self._http() as http:
                token, _ = await oauth1_access_token(
                    http,
                    setup.site,
                    consumer_key=setup.consumer_key,
                    private_key=str(secrets["private_key"]),
                    request_token=str(pending["request_token"]),
                    verifier=verifier,
                )
            secrets["access_token"] = token
            expires = now + OAUTH1_TOKEN_LIFETIME
        else:
            expected = str(pending.get("state", ""))
            if not (operator and not state) and not same_text(state, expected):
                raise InvalidInput({"state": "does not match the flow under way: start again"})
            if not code:
                raise InvalidInput({"code": "give the code (or the whole URL Jira sent you to)"})
            secrets |= await self._exchange(setup, pending, code, now)
            expires = now + REFRESH_IDLE_LIFETIME
        await self.credentials.repository.put(
            project,
            kind=setup.kind,
            status="connected",
            secrets=secrets,
            expires_at=expires,
            now=now,
        )
        self.credentials.forget(project)
        return await self.state(project)

    async def _exchange(
        self, setup: OAuthSetup, pending: dict[str, Any], code: str, now: datetime
    ) -> dict[str, Any]:
        assert setup.endpoints is not None
        pkce = Pkce(verifier=str(pending["verifier"]), challenge=str(pending["challenge"]))
        async with self._http() as http:
            tokens = await oauth2_exchange_code(
                http,
                setup.endpoints,
                client_id=setup.client_id,
                client_secret=setup.client_secret.get_secret_value(),
                code=code,
                redirect_uri=setup.callback_url,
                pkce=pkce,
                now=now,
                project=setup.project,
            )
            found: dict[str, Any] = {
                "access_token": tokens.access_token,
                "refresh_token": tokens.refresh_token,
                "access_expires_at": tokens.expires_at.isoformat(),
                "scope": tokens.scope,
            }
            if setup.endpoints.resources_url:
                sites = await accessible_resources(http, setup.endpoints, tokens.access_token)
                match = [s for s in sites if s.url.rstrip("/") == setup.site.rstrip("/")]
                if not match:
                    names = ", ".join(s.url for s in sites) or "none"
                    raise JiraAuthError(
                        f"the grant does not reach {setup.site} (it reaches: {names})",
                        status=403,
                        fix="connect again and choose that site on Atlassian's consent page",
                    )
                found["cloud_id"] = match[0].cloud_id
        return found

    async def disconnect(self, project: str) -> bool:
        """Forget the project's OAuth credential; whether it had one."""
        self.setup(project)
        gone = await self.credentials.repository.delete(project)
        self.credentials.forget(project)
        return gone


def _from_redirect(code: str, state: str, verifier: str, oauth_token: str) -> tuple[str, ...]:
    """A pasted redirect URL (``...?code=...&state=...``) split into its parts."""
    for value in (code, verifier):
        if value.startswith(("http://", "https://")):
            query = dict(parse_qsl(urlsplit(value).query))
            code = query.get("code", "")
            state = state or query.get("state", "")
            verifier = query.get("oauth_verifier", verifier if value != verifier else "")
            oauth_token = oauth_token or query.get("oauth_token", "")
    return code, state, verifier, oauth_token
