"""How the client reaches one Jira site: a frozen value built once by the wiring.

``jira/`` does not read settings; ``syncengine.bootstrap.jira_clients`` builds a
:class:`JiraConfig` from ``settings.JiraSettings`` and hands it down.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from pydantic import SecretStr

from syncengine.errors import ConfigError

__all__ = [
    "GATEWAY_ROOT",
    "ApiVersion",
    "AuthScheme",
    "BaseUrl",
    "Deployment",
    "JiraConfig",
    "parse_base_url",
    "site_of",
]

Deployment = Literal["auto", "cloud", "datacenter"]
AuthScheme = Literal["basic", "bearer", "oauth1", "oauth2"]
ApiVersion = Literal[2, 3]

# Optional context path (e.g. /jira), then optionally /rest/api/<2|3>, then an optional slash.
_PATH = re.compile(r"^(?P<context>(?:/[^/]+)*?)(?:/rest/api/(?P<version>[23]))?/?$")
# Atlassian's API gateway for one Cloud site: what scoped API tokens and service accounts use.
_GATEWAY_PATH = re.compile(r"^/ex/jira/(?P<cloud_id>[0-9a-fA-F-]{36})$")
GATEWAY_ROOT = "https://api.atlassian.com"
_EXPECTED = (
    "the site (https://your-site.atlassian.net) or the REST URL ending in /rest/api/2/ "
    "(also /jira/rest/api/2/ under a context path, or /rest/api/3/ on Cloud), or Cloud's "
    "API gateway https://api.atlassian.com/ex/jira/<cloudId>"
)


@dataclass(frozen=True, kw_only=True)
class BaseUrl:
    """A Jira base URL taken apart: where the site lives and which REST version it named."""

    site: str
    """``scheme://host[:port][/context]`` without a trailing slash (for a gateway URL:
    ``https://api.atlassian.com/ex/jira/<cloudId>``)."""
    version: ApiVersion | None
    """The version named by the URL (``/rest/api/3``), or None for a bare site."""
    gateway: bool = False
    """The URL is Cloud's API gateway for one site, not the site itself."""


def parse_base_url(url: str, *, key: str = "jira.url") -> BaseUrl:
    """Split a configured Jira URL into its site and the REST version it names.

    Accepted: ``https://x.atlassian.net``, ``https://x/rest/api/2/``,
    ``https://x/jira/rest/api/2/`` and the same with ``/rest/api/3/``.
    A path that is not a REST root is accepted only when it ends in ``/rest/api/N``.

    Raises:
        ConfigError: naming ``key`` and the form that is expected.
    """
    raw = url.strip()
    parts = urlsplit(raw)
    problem = ""
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        problem = "is not an http(s) URL"
    elif parts.username or parts.password:
        # Never echo the URL here: it holds a credential.
        raise ConfigError(
            [
                f"{key}: the URL contains a user name or password; put the user in jira.user "
                f"and the token in jira.api_token, and give {_EXPECTED}"
            ]
        )
    elif parts.query or parts.fragment:
        problem = "has a query or fragment"
    match = _PATH.match(parts.path) if not problem else None
    if not problem and match is None:
        problem = "has a path that is not a Jira REST root"
    gateway = _GATEWAY_PATH.match(match["context"]) if match is not None else None
    if match is not None and match["context"] and match["version"] is None and not gateway:
        problem = f"has the path {parts.path!r} but does not end in /rest/api/2/"
    if problem or match is None:
        raise ConfigError([f"{key}: {raw!r} {problem}; expected {_EXPECTED}"])
    site = f"{parts.scheme}://{parts.netloc}{match['context']}"
    version: ApiVersion | None = None
    if match["version"] == "2":
        version = 2
    elif match["version"] == "3":
        version = 3
    if gateway is not None:
        return BaseUrl(site=site, version=version, gateway=True)
    if parts.hostname == urlsplit(GATEWAY_ROOT).hostname:
        raise ConfigError(
            [
                f"{key}: {raw!r} is Atlassian's API gateway; give https://api.atlassian.com/ex/jira/"
                "<cloudId> (any /rest/api/N after it), or the site with api_gateway = true"
            ]
        )
    return BaseUrl(site=site, version=version)


@dataclass(frozen=True, kw_only=True)
class JiraConfig:
    """Everything the client needs to talk to one Jira site.

    ``token`` is a :class:`~pydantic.SecretStr`: its ``repr`` and ``str`` are
    masked, so the config can be logged or shown without leaking it.
    """

    site: str
    """The site's own address (``https://x.atlassian.net``, ``https://jira.corp/jira``):
    browse links and ``/_edge/tenant_info`` use it, never the gateway."""
    gateway: str = ""
    """Cloud's API gateway for the site (``https://api.atlassian.com/ex/jira/<cloudId>``):
    when set, every REST call goes there (scoped API tokens, service accounts)."""
    find_gateway: bool = False
    """Go through the gateway, finding the cloudId from the site's ``/_edge/tenant_info``."""
    gateway_root: str = GATEWAY_ROOT
    deployment: Deployment = "auto"
    api_version: ApiVersion = 2
    auth: AuthScheme = "basic"
    user: str = ""
    token: SecretStr = field(default_factory=lambda: SecretStr(""))
    timeout_seconds: float = 30.0
    """The longest wait for one network step (connect, a read, a write)."""
    deadline_seconds: float = 120.0
    """The longest one call may take from start to its whole answer, retries and the waits
    between them included: an answer dripping a byte at a time cannot hold a worker longer."""
    max_response_bytes: int = 16 * 1024 * 1024
    """The most of one answer that is read (decoded); past it the call fails."""
    max_retry_after_seconds: float = 3600.0
    """The longest wait a ``Retry-After`` (or ``X-RateLimit-Reset``) is honoured for."""
    max_concurrency: int = 4
    requests_per_second: float = 10.0
    """The site's budget: requests a second from every process together (on PostgreSQL
    the processes share it; a process alone keeps it by itself)."""
    refresh_reserve: float = 0.5
    """The share of the burst that field and impact refreshes leave to creates and state
    sync (they go only while the bucket is fuller than this; see ``jira.budget``)."""
    max_retries: int = 5
    max_retry_delay_seconds: float = 60.0
    backoff_base_seconds: float = 0.5
    user_agent: str = "syncengine"

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.site.endswith("/") or "/rest/api" in self.site:
            problems.append(f"jira site {self.site!r}: give the site root (see parse_base_url)")
        if (self.gateway or self.find_gateway) and self.deployment == "datacenter":
            problems.append("jira.api_gateway: Atlassian's API gateway serves Jira Cloud only")
        if self.deployment == "datacenter" and self.api_version == 3:
            problems.append("jira.api_version: Data Center only has REST v2; set api_version = 2")
        if self.auth == "basic" and not self.user:
            problems.append("jira.user: basic auth needs the e-mail (Cloud) or username (DC)")
        if self.timeout_seconds <= 0 or self.requests_per_second <= 0:
            problems.append("jira.timeout_seconds and requests_per_second must be above 0")
        if not self.deadline_seconds >= self.timeout_seconds:
            problems.append("jira.deadline_seconds must be at least jira.timeout_seconds")
        if self.max_response_bytes < 64 * 1024 or self.max_retry_after_seconds < 1:
            problems.append(
                "jira.max_response_bytes must be at least 65536 and "
                "jira.max_retry_after_seconds at least 1"
            )
        if not 0 <= self.refresh_reserve <= 1:
            problems.append("jira.refresh_reserve must be between 0 and 1")
        if self.max_concurrency < 1 or self.max_retries < 0:
            problems.append("jira.max_concurrency must be >= 1 and max_retries >= 0")
        if problems:
            raise ConfigError(problems)

    @staticmethod
    def choose_version(
        base: BaseUrl, explicit: ApiVersion | None, *, key: str = "jira.url"
    ) -> ApiVersion:
        """The REST version to use: the URL's ``/rest/api/N``, else ``explicit``, else 2.

        Raises:
            ConfigError: the URL names another version than an explicit setting.
        """
        if explicit is not None and base.version is not None and explicit != base.version:
            raise ConfigError(
                [
                    f"{key}: the URL names REST v{base.version} but api_version is "
                    f"{explicit}; make them agree"
                ]
            )
        return base.version or explicit or 2

    @property
    def rest_base(self) -> str:
        """Where REST paths hang from: the gateway when it is configured, else the site.
        (With ``find_gateway`` the session learns the gateway on its first call.)"""
        return self.gateway or self.site

    @property
    def api_root(self) -> str:
        """``<rest base>/rest/api/<version>`` — the root every platform path hangs from."""
        return f"{self.rest_base}/rest/api/{self.api_version}"

    def gateway_for(self, cloud_id: str) -> str:
        """The gateway base for ``cloud_id``."""
        return f"{self.gateway_root}/ex/jira/{cloud_id}"

    @property
    def host_looks_cloud(self) -> bool:
        """True for ``*.atlassian.net`` hosts (a hint only; serverInfo decides)."""
        host = urlsplit(self.site).hostname or ""
        return host.endswith((".atlassian.net", ".jira.com"))


def site_of(url: str, site_url: str = "") -> str | None:
    """The site's own address for ``url`` (as :func:`parse_base_url` takes it): browse links
    hang from it. A gateway URL names no site: ``site_url`` then (None when that is empty).

    Raises:
        ConfigError: ``url`` or ``site_url`` is not in an accepted form.
    """
    base = parse_base_url(url)
    if not base.gateway:
        return base.site
    return parse_base_url(site_url, key="jira.site_url").site if site_url else None
