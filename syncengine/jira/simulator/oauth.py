"""The simulated Jira's OAuth servers, strict enough to catch a client's mistakes.

- **OAuth 1.0a** (Data Center / Server application links): an administrator registers a
  consumer key and its RSA public key (``/_sim/applinks``, standing in for
  Administration → Application links); every signed call is verified (RSA-SHA1, via
  authlib) against that key, with timestamp and nonce checks. Request tokens expire
  after 10 minutes, access tokens after 5 years (Jira's defaults).
- **OAuth 2.0** (Data Center incoming links, Cloud 3LO apps): authorization code with
  PKCE (S256 only), access tokens of one hour, rotating refresh tokens — a refresh token
  works once; reusing a rotated one answers ``invalid_grant``, as Atlassian documents.
  Cloud 3LO tokens work only through the API gateway (the site answers 401).
- A "basic auth disabled" switch, as Data Center 10+ ships it: Basic calls answer 403
  "Basic Authentication has been disabled on this instance."

Tokens are kept as SHA-256 digests, never in clear.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit
from urllib.request import parse_http_list, parse_keqv_list

from authlib.common.urls import url_decode
from authlib.oauth1.rfc5849.rsa import verify_sha1
from authlib.oauth1.rfc5849.signature import construct_base_string
from authlib.oauth1.rfc5849.util import unescape

from syncengine.jira.simulator.clock import Clock

__all__ = ["OAuth2Failure", "OAuthServers"]

REQUEST_TOKEN_TTL = timedelta(minutes=10)
OAUTH1_ACCESS_TTL = timedelta(days=5 * 365)
CODE_TTL = timedelta(minutes=10)
TIMESTAMP_SKEW = 600


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class OAuth2Failure(Exception):
    """An OAuth 2.0 error answer: status, ``error`` code and description."""

    def __init__(self, status: int, error: str, description: str) -> None:
        self.status, self.error, self.description = status, error, description
        super().__init__(f"{error}: {description}")


class OAuth1Failure(Exception):
    """An OAuth 1.0a ``oauth_problem`` (RFC 5849 / the problem-reporting extension)."""

    def __init__(self, problem: str, status: int = 401) -> None:
        self.problem, self.status = problem, status
        super().__init__(problem)


@dataclass(kw_only=True)
class _AppLink:
    consumer_key: str
    public_key: str
    name: str


@dataclass(kw_only=True)
class _RequestToken:
    secret: str
    consumer_key: str
    callback: str
    expires_at: datetime
    verifier: str | None = None
    user_id: str | None = None


@dataclass(kw_only=True)
class _OAuth1Access:
    secret: str
    consumer_key: str
    user_id: str
    expires_at: datetime


@dataclass(kw_only=True)
class _Client:
    client_id: str
    secret_digest: str
    redirect_uris: tuple[str, ...]
    signing_secret: str = field(default="", repr=False)
    """Cloud signs the app's webhook deliveries with its secret (HS256 JWT)."""


@dataclass(kw_only=True)
class _Code:
    client_id: str
    user_id: str
    redirect_uri: str
    challenge: str
    scope: str
    expires_at: datetime


@dataclass(kw_only=True)
class _Grant:
    client_id: str
    user_id: str
    scope: str
    refresh_digest: str
    spent: set[str] = field(default_factory=set)
    revoked: bool = False


@dataclass(kw_only=True)
class _Access:
    grant: _Grant
    expires_at: datetime


class OAuthServers:
    """Both OAuth servers of one simulated site."""

    def __init__(self, clock: Clock, *, cloud: bool) -> None:
        self._clock = clock
        self.cloud = cloud
        self.basic_auth_enabled = True
        self.access_token_seconds = 3600
        self.app_links: dict[str, _AppLink] = {}
        self._request_tokens: dict[str, _RequestToken] = {}
        self._oauth1_access: dict[str, _OAuth1Access] = {}
        self._nonces: set[tuple[str, str, str]] = set()
        self.clients: dict[str, _Client] = {}
        self._codes: dict[str, _Code] = {}
        self._grants: list[_Grant] = []
        self._access: dict[str, _Access] = {}
        self.refreshes = 0
        self.refused_refreshes = 0

    # ---- administration ----------------------------------------------------------------
    def add_app_link(self, consumer_key: str, public_key: str, name: str = "syncengine") -> None:
        """An incoming application link: the consumer key and the public key it signs with."""
        if "BEGIN PUBLIC KEY" not in public_key:
            raise ValueError("public_key must be a PEM public key (-----BEGIN PUBLIC KEY-----)")
        self.app_links[consumer_key] = _AppLink(
            consumer_key=consumer_key, public_key=public_key, name=name
        )

    def add_client(self, client_id: str, client_secret: str, redirect_uri: str) -> None:
        """An OAuth 2.0 client (DC incoming link, or a Cloud developer-console app)."""
        self.clients[client_id] = _Client(
            client_id=client_id,
            secret_digest=_digest(client_secret),
            redirect_uris=(redirect_uri,),
            signing_secret=client_secret,
        )

    def revoke_user(self, user_id: str) -> int:
        """Revoke every OAuth grant of a user (as removing the app's access does); how many."""
        count = 0
        for grant in self._grants:
            if grant.user_id == user_id and not grant.revoked:
                grant.revoked = True
                count += 1
        for token, access in list(self._oauth1_access.items()):
            if access.user_id == user_id:
                del self._oauth1_access[token]
                count += 1
        return count

    def expire_access_tokens(self) -> None:
        """Every OAuth 2.0 access token expires now (tests of the refresh path)."""
        now = self._clock.now()
        for access in self._access.values():
            access.expires_at = now

    # ---- OAuth 1.0a --------------------------------------------------------------------
    def _verify(self, method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
        """The OAuth parameters of a correctly signed call (RSA-SHA1 with a linked key).

        Raises:
            OAuth1Failure: naming the problem as Jira's ``oauth_problem`` does.
        """
        header = headers.get("authorization", "")
        if not header.startswith("OAuth "):
            raise OAuth1Failure("parameter_absent")
        try:
            pairs = parse_keqv_list(parse_http_list(header[len("OAuth ") :]))
        except (IndexError, ValueError):
            raise OAuth1Failure("parameter_rejected") from None
        params = {unescape(k): unescape(v) for k, v in pairs.items()}
        link = self.app_links.get(params.get("oauth_consumer_key", ""))
        if link is None:
            raise OAuth1Failure("consumer_key_unknown")
        if params.get("oauth_signature_method") != "RSA-SHA1":
            raise OAuth1Failure("signature_method_rejected")
        try:
            stamp = int(params.get("oauth_timestamp", ""))
        except ValueError:
            raise OAuth1Failure("timestamp_refused") from None
        if abs(stamp - self._clock.now().timestamp()) > TIMESTAMP_SKEW:
            raise OAuth1Failure("timestamp_refused")
        nonce = params.get("oauth_nonce", "")
        key = (link.consumer_key, str(stamp), nonce)
        if not nonce or key in self._nonces:
            raise OAuth1Failure("nonce_used")
        query = url_decode(urlsplit(url).query) if urlsplit(url).query else []
        base = construct_base_string(method, url, [*query, *params.items()])
        try:
            signature = base64.b64decode(params.get("oauth_signature", ""), validate=True)
        except ValueError:
            raise OAuth1Failure("signature_invalid") from None
        if not verify_sha1(signature, base.encode(), link.public_key):
            raise OAuth1Failure("signature_invalid")
        self._nonces.add(key)
        return params

    def request_token(self, method: str, url: str, headers: dict[str, str]) -> str:
        """Answer a signed request-token call (form-encoded)."""
        params = self._verify(method, url, headers)
        token, secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        callback = params.get("oauth_callback") or "oob"
        self._request_tokens[token] = _RequestToken(
            secret=secret,
            consumer_key=params["oauth_consumer_key"],
            callback=callback,
            expires_at=self._clock.now() + REQUEST_TOKEN_TTL,
        )
        return urlencode(
            {"oauth_token": token, "oauth_token_secret": secret, "oauth_callback_confirmed": "true"}
        )

    def pending_request(self, token: str) -> tuple[str, str] | None:
        """(application name, callback) of a live request token, for the consent page."""
        held = self._request_tokens.get(token)
        if held is None or held.expires_at <= self._clock.now():
            return None
        return self.app_links[held.consumer_key].name, held.callback

    def approve_request(self, token: str, user_id: str) -> tuple[str, str]:
        """The user allowed access: (verifier, where to send the browser or "oob")."""
        held = self._request_tokens.get(token)
        if held is None or held.expires_at <= self._clock.now():
            raise OAuth1Failure("token_expired")
        held.verifier, held.user_id = secrets.token_urlsafe(8), user_id
        if held.callback == "oob":
            return held.verifier, "oob"
        sep = "&" if "?" in held.callback else "?"
        query = urlencode({"oauth_token": token, "oauth_verifier": held.verifier})
        return held.verifier, f"{held.callback}{sep}{query}"

    def access_token(self, method: str, url: str, headers: dict[str, str]) -> str:
        """Answer a signed access-token call: the request token must be approved, the
        verifier right, the request token used once."""
        params = self._verify(method, url, headers)
        held = self._request_tokens.pop(params.get("oauth_token", ""), None)
        if held is None or held.expires_at <= self._clock.now():
            raise OAuth1Failure("token_rejected")
        if held.user_id is None or held.verifier is None:
            raise OAuth1Failure("permission_unknown")
        if params.get("oauth_verifier") != held.verifier:
            raise OAuth1Failure("verifier_invalid")
        token, secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self._oauth1_access[token] = _OAuth1Access(
            secret=secret,
            consumer_key=held.consumer_key,
            user_id=held.user_id,
            expires_at=self._clock.now() + OAUTH1_ACCESS_TTL,
        )
        return urlencode({"oauth_token": token, "oauth_token_secret": secret})

    def authenticate_oauth1(self, method: str, url: str, headers: dict[str, str]) -> str | None:
        """The user of a signed REST call, or None (bad signature, unknown or expired token)."""
        try:
            params = self._verify(method, url, headers)
        except OAuth1Failure:
            return None
        access = self._oauth1_access.get(params.get("oauth_token", ""))
        if access is None or access.expires_at <= self._clock.now():
            return None
        if access.consumer_key != params["oauth_consumer_key"]:
            return None
        return access.user_id

    # ---- OAuth 2.0 ---------------------------------------------------------------------
    def check_authorize(self, query: dict[str, str]) -> _Client:
        """Validate an authorize request before the consent page is shown.

        Raises:
            OAuth2Failure: unknown client, redirect URI not registered, no S256 PKCE.
        """
        client = self.clients.get(query.get("client_id", ""))
        if client is None:
            raise OAuth2Failure(400, "invalid_client", "unknown client_id")
        if query.get("redirect_uri") not in client.redirect_uris:
            raise OAuth2Failure(400, "invalid_request", "redirect_uri is not registered")
        if query.get("response_type") != "code":
            raise OAuth2Failure(400, "unsupported_response_type", "response_type must be code")
        if not query.get("code_challenge") or query.get("code_challenge_method") != "S256":
            raise OAuth2Failure(400, "invalid_request", "PKCE with S256 is required")
        if self.cloud and query.get("audience") != "api.atlassian.com":
            raise OAuth2Failure(400, "invalid_request", "audience must be api.atlassian.com")
        return client

    def approve_code(self, query: dict[str, str], user_id: str) -> str:
        """The user granted access: the redirect carrying the code and the state."""
        client = self.check_authorize(query)
        code = secrets.token_urlsafe(24)
        self._codes[code] = _Code(
            client_id=client.client_id,
            user_id=user_id,
            redirect_uri=query["redirect_uri"],
            challenge=query["code_challenge"],
            scope=query.get("scope", ""),
            expires_at=self._clock.now() + CODE_TTL,
        )
        answer = urlencode({"code": code, "state": query.get("state", "")})
        return f"{query['redirect_uri']}?{answer}"

    def _client(self, form: dict[str, Any]) -> _Client:
        client = self.clients.get(str(form.get("client_id", "")))
        secret = str(form.get("client_secret", ""))
        if client is None or _digest(secret) != client.secret_digest:
            raise OAuth2Failure(401, "invalid_client", "client authentication failed")
        return client

    def _issue(self, grant: _Grant) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        grant.refresh_digest = _digest(refresh)
        self._access[_digest(access)] = _Access(
            grant=grant,
            expires_at=self._clock.now() + timedelta(seconds=self.access_token_seconds),
        )
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "bearer",
            "expires_in": self.access_token_seconds,
            "scope": grant.scope,
        }

    def token(self, form: dict[str, Any]) -> dict[str, Any]:
        """The token endpoint: ``authorization_code`` (with the PKCE verifier) or
        ``refresh_token`` (rotating)."""
        client = self._client(form)
        kind = form.get("grant_type")
        if kind == "authorization_code":
            code = self._codes.pop(str(form.get("code", "")), None)
            if code is None or code.expires_at <= self._clock.now():
                raise OAuth2Failure(400, "invalid_grant", "the code is unknown or expired")
            if code.client_id != client.client_id or form.get("redirect_uri") != code.redirect_uri:
                raise OAuth2Failure(400, "invalid_grant", "the code was issued to another client")
            verifier = str(form.get("code_verifier", ""))
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                .decode()
                .rstrip("=")
            )
            if not verifier or challenge != code.challenge:
                raise OAuth2Failure(400, "invalid_grant", "code_verifier does not match")
            grant = _Grant(
                client_id=client.client_id,
                user_id=code.user_id,
                scope=code.scope,
                refresh_digest="",
            )
            self._grants.append(grant)
            return self._issue(grant)
        if kind == "refresh_token":
            wanted = _digest(str(form.get("refresh_token", "")))
            self.refreshes += 1
            for grant in self._grants:
                if grant.client_id != client.client_id:
                    continue
                if grant.refresh_digest == wanted and not grant.revoked:
                    grant.spent.add(wanted)
                    return self._issue(grant)
                if wanted in grant.spent or (grant.refresh_digest == wanted and grant.revoked):
                    break
            self.refused_refreshes += 1
            status = 403 if self.cloud else 400
            raise OAuth2Failure(status, "invalid_grant", "Unknown or invalid refresh token.")
        raise OAuth2Failure(400, "unsupported_grant_type", f"grant_type {kind!r} is not supported")

    def authenticate_bearer(self, token: str, *, via_gateway: bool) -> str | None:
        """The user of an OAuth 2.0 access token, or None. Cloud 3LO tokens count only
        through the gateway, as on Cloud."""
        access = self._access.get(_digest(token))
        if access is None or access.grant.revoked or access.expires_at <= self._clock.now():
            return None
        if self.cloud and not via_gateway:
            return None
        return access.grant.user_id

    def client_of_bearer(self, token: str) -> _Client | None:
        """The OAuth 2.0 app a live access token was issued to (None: not an app's token)."""
        access = self._access.get(_digest(token))
        if access is None or access.grant.revoked or access.expires_at <= self._clock.now():
            return None
        return self.clients.get(access.grant.client_id)

    def grant_users(self) -> set[str]:
        """Users holding a live OAuth 2.0 grant (accessible-resources needs one)."""
        return {g.user_id for g in self._grants if not g.revoked}
