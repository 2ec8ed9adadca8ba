"""OAuth for Jira: 1.0a application links (RSA-SHA1) and OAuth 2.0 with PKCE.

Signing and the protocol pieces come from ``authlib`` (never hand-written signatures);
this module calls Jira's endpoints through a bounded helper (a total deadline and a size
cap on every answer) and gives the session two :class:`httpx.Auth` flows:

- :class:`OAuth1Signer` signs each request with the consumer's RSA key and the access
  token (Data Center / Server application links, as Jira documents them).
- :class:`OAuth2Bearer` sends the access token a :class:`TokenSource` hands it; when Jira
  refuses it (401) it asks the source once for a fresh one (the source refreshes and stores
  the rotated refresh token; see ``sync.jira_auth``).

Endpoints: Data Center serves OAuth 1.0a under ``/plugins/servlet/oauth/`` and OAuth 2.0
(8.22+, incoming links) under ``/rest/oauth2/latest/``; Cloud's OAuth 2.0 (3LO) server is
``auth.atlassian.com`` and its tokens work only through the API gateway
(``api.atlassian.com/ex/jira/{cloudId}``), the cloudId coming from
``/oauth/token/accessible-resources``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.common.urls import url_decode
from authlib.oauth1.rfc5849.parameters import prepare_headers
from authlib.oauth1.rfc5849.signature import construct_base_string, rsa_sha1_signature
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from syncengine.errors import JiraError
from syncengine.jira.answers import read_bounded
from syncengine.jira.errors import JiraAuthError, JiraUnavailable, JiraUnexpectedResponse

__all__ = [
    "CLOUD_AUTH_ROOT",
    "DEFAULT_SCOPES",
    "OAUTH1_ACCESS_PATH",
    "OAUTH1_AUTHORIZE_PATH",
    "OAUTH1_REQUEST_PATH",
    "OAuth1Signer",
    "OAuth2Bearer",
    "OAuth2Endpoints",
    "OAuthGrantRevoked",
    "Pkce",
    "Resource",
    "TokenSet",
    "TokenSource",
    "accessible_resources",
    "generate_rsa_key_pair",
    "oauth1_access_token",
    "oauth1_authorize_url",
    "oauth1_request_token",
    "oauth2_authorize_url",
    "oauth2_endpoints",
    "oauth2_exchange_code",
    "oauth2_refresh",
]

OAUTH1_REQUEST_PATH = "/plugins/servlet/oauth/request-token"
OAUTH1_AUTHORIZE_PATH = "/plugins/servlet/oauth/authorize"
OAUTH1_ACCESS_PATH = "/plugins/servlet/oauth/access-token"
CLOUD_AUTH_ROOT = "https://auth.atlassian.com"
# What the engine does in Jira: read and write issues, look users up, (Cloud) register
# webhooks, and stay connected (offline_access brings Cloud's refresh token).
DEFAULT_SCOPES: Mapping[str, tuple[str, ...]] = {
    "cloud": (
        "read:jira-work",
        "write:jira-work",
        "read:jira-user",
        "manage:jira-webhook",
        "offline_access",
    ),
    "datacenter": ("WRITE",),
}
_MAX_ANSWER_BYTES = 256 * 1024
_REVOKED_FIX = (
    "connect again: `syncengine jira connect {project}` (or Connect on the integration page)"
)


class OAuthGrantRevoked(JiraAuthError):
    """The OAuth grant is gone (revoked, expired, or a rotated refresh token reused):
    no refresh can fix it; an administrator must connect again."""


def generate_rsa_key_pair(bits: int = 2048) -> tuple[str, str]:
    """A new RSA key pair as PEM text: (private key, public key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


async def _bounded(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    what: str,
    deadline: float,
    **kwargs: Any,
) -> httpx.Response:
    """One call with a total deadline and an answer of at most 256 KiB (read, then closed).

    Raises:
        JiraUnavailable: Jira could not be reached, or did not answer in time.
        JiraUnexpectedResponse: the answer is larger than any OAuth answer can be.
    """
    try:
        async with asyncio.timeout(deadline):
            async with http.stream(method, url, **kwargs) as response:
                read = await read_bounded(response, max_bytes=_MAX_ANSWER_BYTES)
    except TimeoutError as exc:
        raise JiraUnavailable(
            f"{what}: Jira did not answer within {deadline:g} s",
            fix="check that Jira is reachable; try again",
        ) from exc
    except httpx.HTTPError as exc:  # transport failures, and an undecodable answer
        raise JiraUnavailable(
            f"{what} failed ({type(exc).__name__})",
            fix="check that Jira is reachable from this host",
        ) from exc
    if not read.complete:
        raise JiraUnexpectedResponse(
            f"Jira's answer to {what} is larger than {_MAX_ANSWER_BYTES} bytes",
            status=read.response.status_code,
            fix="check the OAuth endpoints point at Jira's own",
        )
    return read.response


def _form(response: httpx.Response, what: str) -> dict[str, str]:
    pairs = dict(parse_qsl(response.text, keep_blank_values=True))
    if not response.is_success or "oauth_token" not in pairs:
        problem = pairs.get("oauth_problem") or response.text[:200] or "no detail"
        if response.status_code in (400, 401):
            raise OAuthGrantRevoked(
                f"Jira refused {what} ({response.status_code}: {problem})",
                status=response.status_code,
                fix="check the application link in Jira has this consumer key and public key "
                "(Administration → Applications → Application links), then connect again",
            )
        raise JiraUnexpectedResponse(
            f"Jira answered {what} with {response.status_code}: {problem}",
            status=response.status_code,
            fix="check jira.url points at Jira itself",
        )
    return pairs


# ---- OAuth 1.0a ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _OAuth1Credentials:
    consumer_key: str
    private_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)
    callback: str | None = None
    verifier: str | None = field(default=None, repr=False)


def _sign_header(credentials: _OAuth1Credentials, method: str, url: str) -> str:
    """The ``Authorization: OAuth ...`` value for one request (RFC 5849, RSA-SHA1).

    Jira signs the method, the URL and its query: JSON and multipart bodies are not part
    of the signature. authlib's signature functions are used directly because its request
    wrapper refuses plain-http URLs, and application links on an internal http:// Jira
    are common (the RSA signature, not TLS, is what OAuth 1.0a relies on).
    """
    params = [
        ("oauth_consumer_key", credentials.consumer_key),
        ("oauth_nonce", generate_token(30)),
        ("oauth_signature_method", "RSA-SHA1"),
        ("oauth_timestamp", str(int(time.time()))),
        ("oauth_version", "1.0"),
    ]
    if credentials.token:
        params.append(("oauth_token", credentials.token))
    if credentials.callback:
        params.append(("oauth_callback", credentials.callback))
    if credentials.verifier:
        params.append(("oauth_verifier", credentials.verifier))
    query = url_decode(urlsplit(url).query) if urlsplit(url).query else []
    base = construct_base_string(method, url, [*query, *params])
    signature = rsa_sha1_signature(base, credentials.private_key)
    headers = prepare_headers([*params, ("oauth_signature", signature)], {})
    return str(headers["Authorization"])


class OAuth1Signer(httpx.Auth):
    """Signs every request (RSA-SHA1, header form) with the access token of an application link."""

    def __init__(self, consumer_key: str, private_key: str, token: str) -> None:
        self._credentials = _OAuth1Credentials(
            consumer_key=consumer_key, private_key=private_key, token=token
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = _sign_header(
            self._credentials, request.method, str(request.url)
        )
        yield request


async def oauth1_request_token(
    http: httpx.AsyncClient,
    site: str,
    *,
    consumer_key: str,
    private_key: str,
    callback: str,
    deadline: float = 30.0,
) -> tuple[str, str]:
    """Step 1: a request token and its secret (``callback`` may be ``"oob"``)."""
    url = site + OAUTH1_REQUEST_PATH
    auth = _OAuth1Credentials(consumer_key=consumer_key, private_key=private_key, callback=callback)
    response = await _bounded(
        http,
        "POST",
        url,
        what="the OAuth request-token call",
        deadline=deadline,
        headers={"Authorization": _sign_header(auth, "POST", url)},
    )
    pairs = _form(response, "the OAuth request-token call")
    return pairs["oauth_token"], pairs.get("oauth_token_secret", "")


def oauth1_authorize_url(site: str, request_token: str) -> str:
    """Step 2: where an administrator accepts the requested access."""
    return f"{site}{OAUTH1_AUTHORIZE_PATH}?{urlencode({'oauth_token': request_token})}"


async def oauth1_access_token(
    http: httpx.AsyncClient,
    site: str,
    *,
    consumer_key: str,
    private_key: str,
    request_token: str,
    verifier: str,
    deadline: float = 30.0,
) -> tuple[str, str]:
    """Step 3: the access token (and its secret, unused with RSA-SHA1) for the accepted
    request token."""
    url = site + OAUTH1_ACCESS_PATH
    auth = _OAuth1Credentials(
        consumer_key=consumer_key,
        private_key=private_key,
        token=request_token,
        verifier=verifier,
    )
    response = await _bounded(
        http,
        "POST",
        url,
        what="the OAuth access-token call",
        deadline=deadline,
        headers={"Authorization": _sign_header(auth, "POST", url)},
    )
    pairs = _form(response, "the OAuth access-token call")
    return pairs["oauth_token"], pairs.get("oauth_token_secret", "")


# ---- OAuth 2.0 -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OAuth2Endpoints:
    """Where one Jira's OAuth 2.0 server answers."""

    authorize_url: str
    token_url: str
    resources_url: str = ""
    """Cloud only: lists the sites a token may reach (and their cloudIds)."""
    json_body: bool = False
    """Cloud's token endpoint takes JSON; Data Center's a form."""
    audience: str = ""


def oauth2_endpoints(
    site: str,
    deployment: Literal["cloud", "datacenter"],
    *,
    auth_root: str = CLOUD_AUTH_ROOT,
    gateway_root: str = "https://api.atlassian.com",
) -> OAuth2Endpoints:
    """Data Center's incoming-link endpoints on the site, or Cloud's ``auth.atlassian.com``."""
    if deployment == "datacenter":
        return OAuth2Endpoints(
            authorize_url=f"{site}/rest/oauth2/latest/authorize",
            token_url=f"{site}/rest/oauth2/latest/token",
        )
    return OAuth2Endpoints(
        authorize_url=f"{auth_root}/authorize",
        token_url=f"{auth_root}/oauth/token",
        resources_url=f"{gateway_root}/oauth/token/accessible-resources",
        json_body=True,
        audience="api.atlassian.com",
    )


@dataclass(frozen=True, kw_only=True)
class Pkce:
    """A PKCE verifier (kept by us) and its S256 challenge (sent to Jira), RFC 7636."""

    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = generate_token(64)
        challenge = create_s256_code_challenge(verifier)  # type: ignore[no-untyped-call]
        return cls(verifier=verifier, challenge=str(challenge))


@dataclass(frozen=True, kw_only=True)
class TokenSet:
    """What a token endpoint answered."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime
    scope: str = ""


def oauth2_authorize_url(
    endpoints: OAuth2Endpoints,
    *,
    client_id: str,
    redirect_uri: str,
    scopes: tuple[str, ...],
    state: str,
    pkce: Pkce,
) -> str:
    """Where an administrator grants the access (the code comes back to ``redirect_uri``)."""
    query = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": " ".join(scopes),
        "state": state,
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
    }
    if endpoints.audience:
        query |= {"audience": endpoints.audience, "prompt": "consent"}
    return f"{endpoints.authorize_url}?{urlencode(query)}"


async def _token_call(
    http: httpx.AsyncClient,
    endpoints: OAuth2Endpoints,
    body: dict[str, str],
    *,
    now: datetime,
    what: str,
    deadline: float,
    project: str,
) -> TokenSet:
    kwargs: dict[str, Any] = (
        {"json": body} if endpoints.json_body else {"data": body}
    )  # fmt: skip
    response = await _bounded(
        http,
        "POST",
        endpoints.token_url,
        what=what,
        deadline=deadline,
        headers={"Accept": "application/json"},
        **kwargs,
    )
    try:
        answer = json.loads(response.content or b"{}")
    except ValueError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    if response.status_code in (400, 401, 403) and answer.get("error") in (
        "invalid_grant",
        "unauthorized_client",
        "access_denied",
        "invalid_client",
    ):
        description = str(answer.get("error_description") or answer["error"])[:200]
        raise OAuthGrantRevoked(
            f"Jira's OAuth server refused {what}: {answer['error']} ({description})",
            status=response.status_code,
            fix=_REVOKED_FIX.format(project=project)
            if answer["error"] == "invalid_grant"
            else "check oauth_client_id and oauth_client_secret match the link or app in Jira",
        )
    if response.status_code >= 500 or response.status_code == 429:
        raise JiraUnavailable(
            f"Jira's OAuth server answered {what} with {response.status_code}",
            status=response.status_code,
            fix="the call is retried later",
        )
    access = answer.get("access_token")
    if not response.is_success or not isinstance(access, str) or not access:
        raise JiraUnexpectedResponse(
            f"Jira's OAuth server answered {what} with {response.status_code} and no token",
            status=response.status_code,
            fix="check the OAuth endpoints (jira.oauth_auth_root) point at Jira's own",
        )
    expires_in = answer.get("expires_in")
    seconds = float(expires_in) if isinstance(expires_in, int | float) else 3600.0
    return TokenSet(
        access_token=access,
        refresh_token=str(answer.get("refresh_token") or body.get("refresh_token") or ""),
        expires_at=now + timedelta(seconds=max(0.0, min(seconds, 10 * 365 * 86400))),
        scope=str(answer.get("scope") or ""),
    )


async def oauth2_exchange_code(
    http: httpx.AsyncClient,
    endpoints: OAuth2Endpoints,
    *,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    pkce: Pkce,
    now: datetime,
    project: str = "PROJECT",
    deadline: float = 30.0,
) -> TokenSet:
    """The code the administrator brought back, exchanged for tokens (with the PKCE verifier)."""
    return await _token_call(
        http,
        endpoints,
        {
            "grant_type": "authorization_code",
            "client_id": client_id,
            "client_secret": client_secret,
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": pkce.verifier,
        },
        now=now,
        what="the authorization code",
        deadline=deadline,
        project=project,
    )


async def oauth2_refresh(
    http: httpx.AsyncClient,
    endpoints: OAuth2Endpoints,
    *,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    now: datetime,
    project: str = "PROJECT",
    deadline: float = 30.0,
) -> TokenSet:
    """A new access token and the rotated refresh token (store it: the old one is spent).

    Raises:
        OAuthGrantRevoked: the refresh token was refused (revoked, expired or reused).
        JiraUnavailable: the OAuth server could not be reached (retry later).
    """
    return await _token_call(
        http,
        endpoints,
        {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
        },
        now=now,
        what="the token refresh",
        deadline=deadline,
        project=project,
    )


@dataclass(frozen=True, kw_only=True)
class Resource:
    """A Cloud site an OAuth 2.0 token may reach."""

    cloud_id: str
    url: str
    name: str = ""
    scopes: tuple[str, ...] = ()


async def accessible_resources(
    http: httpx.AsyncClient, endpoints: OAuth2Endpoints, access_token: str, deadline: float = 30.0
) -> list[Resource]:
    """The sites this Cloud token reaches (Cloud only)."""
    response = await _bounded(
        http,
        "GET",
        endpoints.resources_url,
        what="the accessible-resources call",
        deadline=deadline,
        headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
    )
    try:
        answer = json.loads(response.content or b"[]")
    except ValueError:
        answer = None
    if not response.is_success or not isinstance(answer, list):
        raise JiraUnexpectedResponse(
            f"accessible-resources answered {response.status_code} without a list of sites",
            status=response.status_code,
            fix="connect again; check the app has the Jira API added in the developer console",
        )
    sites: list[Resource] = []
    for item in answer:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            sites.append(
                Resource(
                    cloud_id=item["id"],
                    url=str(item.get("url") or "").rstrip("/"),
                    name=str(item.get("name") or ""),
                    scopes=tuple(str(s) for s in item.get("scopes") or () if isinstance(s, str)),
                )
            )
    return sites


class TokenSource(Protocol):
    """Hands out a current OAuth 2.0 access token, refreshing it when it is due."""

    async def access_token(self, *, refused: str | None = None) -> str:
        """The token to send; ``refused``: the one Jira just refused (refresh unless already).

        Raises:
            JiraError: no token can be had (not connected, grant revoked, server down).
        """
        ...


class OAuth2Bearer(httpx.Auth):
    """Bearer auth from a :class:`TokenSource`.

    The flow only sets the header: when Jira refuses the token (401) the session, which
    has read that answer through its capped reader, asks :meth:`renew` for a fresh one
    and sends once more. (A retry inside the httpx flow would have httpx read the refused
    answer whole, past every cap.)
    """

    def __init__(self, source: TokenSource) -> None:
        self._source = source

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self._source.access_token()
        request.headers["Authorization"] = f"Bearer {token}"
        yield request

    async def renew(self, refused: httpx.Request) -> bool:
        """Jira answered ``refused`` with 401: whether a fresh token is to be had (send the
        request again then; the flow puts the fresh token on it).

        Raises:
            JiraError: no token can be had (grant revoked, OAuth server down).
        """
        sent = str(refused.headers.get("Authorization", "")).removeprefix("Bearer ")
        fresh = await self._source.access_token(refused=sent)
        return fresh != sent

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise JiraError("OAuth 2.0 needs the async client")
