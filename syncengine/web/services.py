"""What the web app is given: the engine's services and the web's own configuration.

The composition root builds one :class:`WebServices`; :func:`~syncengine.web.create_app`
puts it on the app, and routes take it through :data:`ServicesDep`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Literal, Protocol

from fastapi import Depends, Request
from pydantic import SecretStr

from syncengine.ingest.intake import Intake
from syncengine.metrics import Metrics
from syncengine.support.service import SupportService
from syncengine.sync.connection_checks import ConnectionChecks
from syncengine.sync.group_admin import GroupAdmin
from syncengine.sync.integration_admin import IntegrationAdmin
from syncengine.sync.jira_connect import JiraConnector
from syncengine.sync.status import EngineStatus
from syncengine.sync.webhook_inbox import WebhookInbox
from syncengine.sync.webhook_registration import WebhookRegistrar
from syncengine.web.sessions import WebSessions

__all__ = [
    "BackgroundWork",
    "ServicesDep",
    "WebConfig",
    "WebServices",
    "WebUser",
    "get_services",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class WebUser:
    """A person who may sign in to the dashboard (``[web.users.<name>]``)."""

    password_hash: str
    role: Literal["admin", "portal"] = "portal"
    email: str = ""


@dataclass(frozen=True, kw_only=True)
class WebConfig:
    """The web app's settings: who signs in, sessions, page templates, body limits, access."""

    users: Mapping[str, WebUser] = field(default_factory=dict)
    admin_token: SecretStr | None = None
    session_secret: SecretStr | None = None
    session_max_age_seconds: int = 8 * 3600
    templates_dir: Path | None = None
    https_only: bool = False
    upload_limit: int = 1024 * 1024  # bytes of one support-request body
    max_body_bytes: int = 1024 * 1024  # any other route that is not the intake's
    max_webhook_bytes: int = 5 * 1024 * 1024
    body_timeout_seconds: float = 60.0
    # Peers whose X-Forwarded-For is believed (reverse proxies); no one by default.
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()
    password_check_concurrency: int = 1
    status_token: SecretStr | None = None
    metrics: Literal["open", "token"] = "open"
    api_docs: Literal["open", "admin", "off"] = "open"


class BackgroundWork(Protocol):
    """The outbox worker and periodic jobs, which the app's lifespan may run."""

    def start(self) -> None:
        """Start them in this process."""

    async def stop(self) -> None:
        """Stop them, giving back claimed work."""


@dataclass(frozen=True, kw_only=True)
class WebServices:
    """The services the routes call."""

    config: WebConfig
    intake: Intake
    webhooks: WebhookInbox
    groups: GroupAdmin
    integration: IntegrationAdmin
    support: SupportService
    sessions: WebSessions
    status: EngineStatus
    metrics: Metrics
    clock: Callable[[], datetime]
    issue_pages: Callable[[str], str | None] | None = None
    """The bundled Jira simulator's issue page by key (None: no simulator runs here)."""
    connector: JiraConnector | None = None
    webhook_registrar: WebhookRegistrar | None = None
    connection_checks: ConnectionChecks | None = None
    """OAuth connect flows (None when no project uses OAuth)."""


def get_services(request: Request) -> WebServices:
    """The services :func:`~syncengine.web.create_app` was given."""
    services: WebServices = request.app.state.services
    return services


async def _services(request: Request) -> WebServices:
    # Async on purpose: FastAPI runs a plain ``def`` dependency in a worker thread, a
    # thread hand-off per request that cost the single-event intake ~0.3 ms of CPU.
    return get_services(request)


ServicesDep = Annotated[WebServices, Depends(_services)]
