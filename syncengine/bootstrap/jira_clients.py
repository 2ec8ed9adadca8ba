"""Settings → Jira client configuration, and one client per project (``jira/`` reads no settings).

:func:`jira_config` is the one conversion of a ``[projects.X.jira]`` section into the
client's :class:`~syncengine.jira.config.JiraConfig`; :class:`JiraClients` opens the
clients from those values, lazily, sharing each site's limits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from syncengine.errors import ConfigError
from syncengine.jira.client import JiraClient
from syncengine.jira.config import BaseUrl, Deployment, JiraConfig, parse_base_url, site_of
from syncengine.jira.oauth import DEFAULT_SCOPES, oauth2_endpoints
from syncengine.jira.retry import BudgetFactory, SiteLimiter, SiteLimiters
from syncengine.jira.session import CallObserver
from syncengine.settings import JiraSettings, Settings
from syncengine.sync.jira_auth import OAuthSetup

__all__ = [
    "DOCTOR_DEADLINE_SECONDS",
    "DOCTOR_TIMEOUT_SECONDS",
    "JiraClients",
    "SimulatedJira",
    "issue_sites",
    "jira_config",
    "jira_configs",
    "new_site_limiters",
    "oauth_deployment",
    "oauth_setups",
    "open_jira_client",
]


def jira_config(settings: JiraSettings, *, key: str = "jira") -> JiraConfig:
    """The :class:`JiraConfig` for one project's ``[... .jira]`` section.

    ``key`` is the section's name in the config file, used in error messages
    (e.g. ``projects.crash.jira``). The URL's ``/rest/api/N`` sets the REST version
    unless ``api_version`` is set explicitly, in which case they must agree.

    Raises:
        ConfigError: no URL (the simulator stands in then: check ``settings.simulated``
            first), a URL in an unaccepted form, or inconsistent options.
    """
    if settings.simulated:
        raise ConfigError([f"{key}.url: not set; give the Jira site URL"])
    base = parse_base_url(settings.url, key=f"{key}.url")
    explicit = settings.api_version if "api_version" in settings.model_fields_set else None
    version = JiraConfig.choose_version(base, explicit, key=f"{key}.url")
    site, gateway = _site_and_gateway(settings, base, key=key)
    token = settings.api_token or SecretStr("")
    oauth = settings.auth in ("oauth1", "oauth2")
    if not oauth and not token.get_secret_value():
        raise ConfigError(
            [f"{key}.api_token: not set; give api_token, api_token_env or api_token_file"]
        )
    deployment = "cloud" if gateway or settings.api_gateway else settings.deployment
    if oauth:
        deployment = oauth_deployment(settings, site, key=key)
    try:
        return JiraConfig(
            site=site,
            gateway=gateway,
            # Cloud OAuth 2.0 tokens, like scoped tokens, work only through the gateway.
            find_gateway=(settings.api_gateway or (oauth and deployment == "cloud"))
            and not gateway,
            # The gateway serves Cloud only: no serverInfo call is needed to know it.
            deployment=deployment,
            api_version=version,
            auth=settings.auth,
            user=settings.user,
            token=token,
            timeout_seconds=settings.timeout_seconds,
            max_concurrency=settings.max_concurrency,
            requests_per_second=settings.requests_per_second,
            refresh_reserve=settings.refresh_reserve,
            max_retries=settings.max_retries,
            deadline_seconds=settings.deadline_seconds,
            max_response_bytes=settings.max_response_bytes,
            max_retry_after_seconds=settings.max_retry_after_seconds,
        )
    except ConfigError as exc:
        raise ConfigError([p.replace("jira.", f"{key}.", 1) for p in exc.problems]) from exc


def oauth_deployment(settings: JiraSettings, site: str, *, key: str) -> Deployment:
    """Cloud or Data Center, for an OAuth project (the flows differ; "auto" goes by host).

    Raises:
        ConfigError: OAuth 1.0a asked of Cloud, or OAuth 2.0 without a client id.
    """
    deployment: Deployment = settings.deployment
    if deployment == "auto":
        host = urlsplit(site).hostname or ""
        deployment = "cloud" if host.endswith((".atlassian.net", ".jira.com")) else "datacenter"
    if settings.auth == "oauth1" and deployment == "cloud":
        raise ConfigError(
            [
                f"{key}.auth: OAuth 1.0a application links are Data Center / Server only; "
                'on Cloud use auth = "oauth2" (a 3LO app) or an API token'
            ]
        )
    if settings.auth == "oauth2" and not settings.oauth_client_id:
        raise ConfigError(
            [
                f"{key}.oauth_client_id: not set; give the client id of the incoming link "
                "(Data Center) or of the OAuth 2.0 app (Cloud developer console)"
            ]
        )
    if settings.auth == "oauth2" and settings.oauth_client_secret is None:
        raise ConfigError(
            [
                f"{key}.oauth_client_secret: not set; give oauth_client_secret, "
                "oauth_client_secret_env or oauth_client_secret_file"
            ]
        )
    return deployment


def _site_and_gateway(settings: JiraSettings, base: BaseUrl, *, key: str) -> tuple[str, str]:
    """The site's own address (for links) and the gateway base ("" when not used).

    Raises:
        ConfigError: a gateway URL without ``site_url``, or the gateway with Data Center.
    """
    if (base.gateway or settings.api_gateway) and settings.deployment == "datacenter":
        raise ConfigError(
            [
                f"{key}.api_gateway: Atlassian's API gateway serves Jira Cloud only; "
                'set deployment = "cloud" or use the Data Center URL'
            ]
        )
    if not base.gateway:
        if settings.site_url:
            raise ConfigError(
                [
                    f"{key}.site_url: only used with a gateway URL (api.atlassian.com/ex/jira/…); "
                    "remove it, the site is jira.url"
                ]
            )
        return base.site, ""
    if not settings.site_url:
        raise ConfigError(
            [
                f"{key}.site_url: not set; with the gateway URL give the site too "
                "(https://your-site.atlassian.net): issue links are built from it"
            ]
        )
    return parse_base_url(settings.site_url, key=f"{key}.site_url").site, base.site


DOCTOR_TIMEOUT_SECONDS = 5.0
"""The longest doctor waits for a connection or for a read (or the project's own
``timeout_seconds`` when that is shorter)."""
DOCTOR_DEADLINE_SECONDS = 15.0
"""The longest one doctor call takes, its whole answer included."""


def _doctor_config(config: JiraConfig) -> JiraConfig:
    timeout = min(config.timeout_seconds, DOCTOR_TIMEOUT_SECONDS)
    return replace(
        config,
        timeout_seconds=timeout,
        deadline_seconds=max(timeout, min(config.deadline_seconds, DOCTOR_DEADLINE_SECONDS)),
        max_retries=0,
    )


ProjectJira = JiraConfig | ConfigError | None
"""A project's client configuration; the error saying why it has none; None: simulated."""


def jira_configs(settings: Settings) -> dict[str, ProjectJira]:
    """Every project's client configuration, converted once (errors kept to be shown)."""
    configs: dict[str, ProjectJira] = {}
    for slug, project in settings.projects.items():
        if project.jira.simulated:
            configs[slug] = None
            continue
        try:
            configs[slug] = jira_config(project.jira, key=f"projects.{slug}.jira")
        except ConfigError as exc:
            configs[slug] = exc
    return configs


def issue_sites(settings: Settings) -> dict[str, str]:
    """Each project's site address, where its issues' browse links hang: the site itself,
    never a REST root or the gateway (a project with no usable URL has none)."""
    sites: dict[str, str] = {}
    for slug, project in settings.projects.items():
        if project.jira.simulated:
            # The bundled simulator: its issue pages are served by this engine.
            sites[slug] = f"{settings.effective_public_url}/jira"
            continue
        try:
            site = site_of(project.jira.url, project.jira.site_url)
        except ConfigError:
            continue  # doctor and the start-up check say what is wrong with the URL
        if site:
            sites[slug] = site
    return sites


def new_site_limiters(budgets: BudgetFactory | None = None) -> SiteLimiters:
    """One registry per process: every client of a site shares its concurrency and rate.

    ``budgets`` builds each site's request budget (the database's, shared by every
    process on PostgreSQL); by default each process keeps its own.
    """
    return SiteLimiters(clock=time.monotonic, sleep=asyncio.sleep, budgets=budgets)


def open_jira_client(
    settings: JiraSettings,
    *,
    limiters: SiteLimiters,
    key: str = "jira",
    **session_options: Any,
) -> JiraClient:
    """A :class:`JiraClient` for one project, sharing its site's limits with other projects.

    ``session_options`` go to :class:`~syncengine.jira.session.JiraSession`
    (``transport=`` to reach the simulator in-process).

    Raises:
        ConfigError: as :func:`jira_config`.
    """
    return _open(jira_config(settings, key=key), limiters=limiters, **session_options)


def _open(config: JiraConfig, *, limiters: SiteLimiters, **session_options: Any) -> JiraClient:
    limiter = limiters.for_site(
        config.site,
        max_concurrency=config.max_concurrency,
        requests_per_second=config.requests_per_second,
        refresh_reserve=config.refresh_reserve,
    )
    return JiraClient.open(config, limiter=limiter, **session_options)


@dataclass(frozen=True, kw_only=True)
class SimulatedJira:
    """A Jira stand-in reached in-process: its client config and transport.

    ``limiter``: the site's limits (default: the client's own, on the real clock); tests
    give one on virtual time, so the request budget is spent without waiting.
    """

    config: JiraConfig
    transport: httpx.AsyncBaseTransport
    limiter: SiteLimiter | None = None


class JiraClients:
    """One Jira client per project, built on first use, sharing per-site limits.

    ``configs`` are the projects' client configurations (:func:`jira_configs`);
    ``transport`` (tests: an in-process transport to a simulator) reaches every
    site; ``simulator`` serves the projects that configure no Jira URL;
    ``observer(slug)`` is told of every call a project's client makes; ``budgets`` builds
    each site's request budget (see :func:`new_site_limiters`).
    """

    def __init__(
        self,
        configs: Mapping[str, ProjectJira],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        simulator: SimulatedJira | None = None,
        observer: Callable[[str], CallObserver] | None = None,
        auth: Callable[[str], httpx.Auth | None] | None = None,
        budgets: BudgetFactory | None = None,
    ) -> None:
        self._configs = dict(configs)
        self._auth = auth
        self._transport = transport
        self._observer = observer
        self.simulator = simulator
        self._limiters = new_site_limiters(budgets)
        self._clients: dict[str, JiraClient] = {}
        self._derived: list[JiraClients] = []

    def for_doctor(self) -> JiraClients:
        """Clients of the same sites for doctor, which a person waits on: each network step
        waits at most :data:`DOCTOR_TIMEOUT_SECONDS`, a call :data:`DOCTOR_DEADLINE_SECONDS`,
        and nothing is retried (a Jira that does not answer is the finding). Closed with
        these clients."""
        simulator = self.simulator
        if simulator is not None:
            simulator = replace(simulator, config=_doctor_config(simulator.config))
        clients = JiraClients(
            {
                slug: _doctor_config(c) if isinstance(c, JiraConfig) else c
                for slug, c in self._configs.items()
            },
            transport=self._transport,
            simulator=simulator,
            observer=self._observer,
            auth=self._auth,
        )
        self._derived.append(clients)
        return clients

    def for_project(self, slug: str) -> JiraClient:
        """The client of project ``slug``.

        Raises:
            ConfigError: the project's Jira section cannot be used (says what to fix).
        """
        client = self._clients.get(slug)
        if client is not None:
            return client
        if slug not in self._configs:
            raise ConfigError([f"projects.{slug}: no such project in the configuration"])
        config = self._configs[slug]
        observer = self._observer(slug) if self._observer else None
        if isinstance(config, ConfigError):
            raise config
        if config is not None:
            client = _open(
                config,
                limiters=self._limiters,
                transport=self._transport,
                observer=observer,
                auth=self._auth(slug) if self._auth is not None else None,
            )
        elif self.simulator is not None:
            client = JiraClient.open(
                self.simulator.config,
                transport=self.simulator.transport,
                observer=observer,
                limiter=self.simulator.limiter,
            )
        else:
            raise ConfigError(
                [
                    f"projects.{slug}.jira.url: not set, and no Jira simulator runs here; "
                    "set the Jira URL"
                ]
            )
        self._clients[slug] = client
        return client

    async def aclose(self) -> None:
        """Close every client."""
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
        for derived in self._derived:
            await derived.aclose()


def oauth_setups(settings: Settings, configs: Mapping[str, ProjectJira]) -> dict[str, OAuthSetup]:
    """The OAuth configuration of every project whose Jira section uses OAuth (and is usable)."""
    setups: dict[str, OAuthSetup] = {}
    public = settings.effective_public_url
    for slug, project in settings.projects.items():
        jira, config = project.jira, configs.get(slug)
        if jira.auth not in ("oauth1", "oauth2") or not isinstance(config, JiraConfig):
            continue
        deployment: Literal["cloud", "datacenter"] = (
            "cloud" if config.deployment == "cloud" else "datacenter"
        )
        callback = jira.oauth_callback_url or f"{public}/integration/{slug}/oauth/callback"
        setups[slug] = OAuthSetup(
            project=slug,
            kind=jira.auth,
            site=config.site,
            deployment=deployment,
            consumer_key=jira.oauth_consumer_key,
            client_id=jira.oauth_client_id,
            client_secret=jira.oauth_client_secret or SecretStr(""),
            scopes=jira.oauth_scopes or tuple(DEFAULT_SCOPES[deployment]),
            endpoints=oauth2_endpoints(
                config.site,
                deployment,
                auth_root=jira.oauth_auth_root.rstrip("/"),
                gateway_root=config.gateway_root,
            )
            if jira.auth == "oauth2"
            else None,
            callback_url=callback,
        )
    return setups
