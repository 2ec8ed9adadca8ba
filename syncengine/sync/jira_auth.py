"""OAuth credentials at run time: the auth each project's Jira client signs or sends with.

:class:`JiraCredentials` hands the clients an :class:`httpx.Auth` per OAuth project:

- OAuth 1.0a: every request signed with the stored RSA key and access token.
- OAuth 2.0: the stored access token, refreshed a minute before it expires (or when Jira
  refuses it). Refresh tokens rotate: the new pair is written with a compare-and-set on the
  credential's version, so when two processes refresh at once the loser reads the winner's
  token instead of keeping a spent one (and a refusal of a refresh token another process
  already rotated is answered by reading theirs).

The connect flows (:mod:`syncengine.sync.jira_connect`) write what this reads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

import httpx
from pydantic import SecretStr

from syncengine.jira.errors import JiraAuthError
from syncengine.jira.oauth import (
    OAuth1Signer,
    OAuth2Bearer,
    OAuth2Endpoints,
    OAuthGrantRevoked,
    oauth2_refresh,
)
from syncengine.store.credentials import CredentialRepository, StoredCredential

__all__ = [
    "OAUTH1_TOKEN_LIFETIME",
    "REFRESH_IDLE_LIFETIME",
    "JiraCredentials",
    "OAuthSetup",
]

logger = logging.getLogger("syncengine.jira.oauth")

# Atlassian's refresh tokens expire after 90 days unused; Jira's OAuth 1.0a access tokens
# after 5 years. The clear ``expires_at`` of a credential is this far past its last write.
REFRESH_IDLE_LIFETIME = timedelta(days=90)
OAUTH1_TOKEN_LIFETIME = timedelta(days=5 * 365)
_EARLY = timedelta(seconds=60)
_RACE_LOOKS, _RACE_PAUSE = 10, 0.2


@dataclass(frozen=True, kw_only=True)
class OAuthSetup:
    """One project's OAuth configuration (from its ``[projects.X.jira]`` section)."""

    project: str
    kind: Literal["oauth1", "oauth2"]
    site: str
    deployment: Literal["cloud", "datacenter"]
    consumer_key: str = "syncengine"
    client_id: str = ""
    client_secret: SecretStr = field(default_factory=lambda: SecretStr(""))
    scopes: tuple[str, ...] = ()
    endpoints: OAuth2Endpoints | None = None
    callback_url: str = ""
    """Where Jira sends the administrator's browser back (``oob``: show a code instead)."""


def _not_connected(project: str) -> JiraAuthError:
    return JiraAuthError(
        f"project {project} is not connected to Jira yet (OAuth)",
        status=401,
        fix=f"run `syncengine jira connect {project}` (or Connect on the integration page)",
    )


class _StoredOAuth1(httpx.Auth):
    def __init__(self, credentials: JiraCredentials, setup: OAuthSetup) -> None:
        self._credentials, self._setup = credentials, setup

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        stored = await self._credentials.connected(self._setup.project)
        signer = OAuth1Signer(
            self._setup.consumer_key,
            str(stored.secrets["private_key"]),
            str(stored.secrets["access_token"]),
        )
        signed = next(signer.auth_flow(request))
        yield signed


class _StoredTokens:
    """A :class:`~syncengine.jira.oauth.TokenSource` over the project's stored tokens."""

    def __init__(self, credentials: JiraCredentials, setup: OAuthSetup) -> None:
        self._credentials, self._setup = credentials, setup
        self._lock = asyncio.Lock()

    async def access_token(self, *, refused: str | None = None) -> str:
        async with self._lock:
            return await self._credentials.current_access_token(self._setup, refused=refused)


class JiraCredentials:
    """Every OAuth project's credential: auth flows for its client, and their refresh."""

    def __init__(
        self,
        repository: CredentialRepository,
        setups: Mapping[str, OAuthSetup],
        *,
        http: Callable[[], httpx.AsyncClient],
        now: Callable[[], datetime],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.repository = repository
        self._sleep = sleep
        self.setups = dict(setups)
        self._http = http
        self._now = now
        self._cache: dict[str, StoredCredential] = {}
        # project -> (credential version, the refusal): a grant Jira revoked stays refused
        # without asking Jira again, until someone connects again (a new version).
        self._revoked: dict[str, tuple[int, OAuthGrantRevoked]] = {}
        self.refreshes = 0

    def auth_for(self, project: str) -> httpx.Auth | None:
        """The auth flow of an OAuth project's client (None for Basic and PAT projects)."""
        setup = self.setups.get(project)
        if setup is None:
            return None
        if setup.kind == "oauth1":
            return _StoredOAuth1(self, setup)
        return OAuth2Bearer(_StoredTokens(self, setup))

    def forget(self, project: str) -> None:
        """Drop the cached credential (after a connect or disconnect)."""
        self._cache.pop(project, None)

    async def connected(self, project: str) -> StoredCredential:
        """The project's connected credential (cached).

        Raises:
            JiraAuthError: the project has not been connected (or was disconnected).
        """
        stored = self._cache.get(project)
        if stored is None:
            stored = await self.repository.get(project)
            if stored is None or stored.status != "connected":
                raise _not_connected(project)
            self._cache[project] = stored
        return stored

    async def current_access_token(self, setup: OAuthSetup, *, refused: str | None) -> str:
        """The OAuth 2.0 access token to send, refreshed when due (see the module docstring).

        Raises:
            JiraAuthError: not connected; OAuthGrantRevoked: connect again.
            JiraUnavailable: the OAuth server cannot be reached now (retried later).
        """
        stored = await self.connected(setup.project)
        if self._usable(stored, refused):
            return str(stored.secrets["access_token"])
        # Another process may have refreshed already: read before refreshing.
        self.forget(setup.project)
        stored = await self.connected(setup.project)
        if self._usable(stored, refused):
            return str(stored.secrets["access_token"])
        revoked = self._revoked.get(setup.project)
        if revoked is not None and revoked[0] == stored.version:
            raise revoked[1]
        try:
            return await self._refresh(setup, stored)
        except OAuthGrantRevoked as exc:
            self._revoked[setup.project] = (stored.version, exc)
            raise

    def _usable(self, stored: StoredCredential, refused: str | None) -> bool:
        token = stored.secrets.get("access_token")
        if not isinstance(token, str) or not token:
            return False
        if refused is not None:
            return token != refused
        expires = stored.secrets.get("access_expires_at")
        if not isinstance(expires, str):
            return False
        return datetime.fromisoformat(expires) - _EARLY > self._now()

    async def _refresh(self, setup: OAuthSetup, stored: StoredCredential) -> str:
        assert setup.endpoints is not None  # an oauth2 setup always has them
        now = self._now()
        try:
            async with self._http() as http:
                tokens = await oauth2_refresh(
                    http,
                    setup.endpoints,
                    client_id=setup.client_id,
                    client_secret=setup.client_secret.get_secret_value(),
                    refresh_token=str(stored.secrets.get("refresh_token", "")),
                    now=now,
                    project=setup.project,
                )
        except OAuthGrantRevoked:
            # Refused: if another process rotated the token meanwhile, theirs is good. Its
            # write follows its answer by moments, so look a few times before giving up.
            for _ in range(_RACE_LOOKS):
                latest = await self.repository.get(setup.project)
                if latest is not None and latest.version != stored.version:
                    self._cache[setup.project] = latest
                    logger.info("project %s: another process refreshed the token", setup.project)
                    return str(latest.secrets["access_token"])
                await self._sleep(_RACE_PAUSE)
            raise
        self.refreshes += 1
        secrets = {
            **stored.secrets,
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "access_expires_at": tokens.expires_at.isoformat(),
        }
        if await self.repository.replace_if(
            setup.project,
            stored.version,
            secrets=secrets,
            expires_at=now + REFRESH_IDLE_LIFETIME,
            now=now,
        ):
            logger.info("project %s: OAuth access token refreshed", setup.project)
            self._cache[setup.project] = replace(
                stored,
                version=stored.version + 1,
                secrets=secrets,
                expires_at=now + REFRESH_IDLE_LIFETIME,
                updated_at=now,
            )
            return tokens.access_token
        # Lost the race: another process stored its rotation first; use what is stored.
        self.forget(setup.project)
        latest = await self.connected(setup.project)
        return str(latest.secrets["access_token"])
