"""Settings → how each project's Jira webhook can be registered by API (see
:mod:`syncengine.sync.webhook_registration`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from urllib.parse import urlsplit

from pydantic import SecretStr

from syncengine.domain.merge import SyncMode
from syncengine.jira import jql
from syncengine.jira.config import JiraConfig
from syncengine.settings import Settings
from syncengine.sync.webhook_registration import WebhookPlan
from syncengine.web.webhook_receiver import PATH

__all__ = ["app_secrets", "webhook_plans"]


def _cloud(config: JiraConfig) -> bool:
    if config.deployment != "auto":
        return config.deployment == "cloud"
    host = urlsplit(config.site).hostname or ""
    return bool(config.gateway) or host.endswith((".atlassian.net", ".jira.com"))


def _cloud_oauth2(config: object, auth: str) -> bool:
    return isinstance(config, JiraConfig) and _cloud(config) and auth == "oauth2"


def webhook_plans(settings: Settings, configs: Mapping[str, object]) -> dict[str, WebhookPlan]:
    """A plan for every project that syncs with a configured Jira."""
    plans: dict[str, WebhookPlan] = {}
    public = settings.effective_public_url
    for slug, project in settings.projects.items():
        config = configs.get(slug)
        if project.sync.mode is SyncMode.OFF or not isinstance(config, JiraConfig):
            continue
        jira = project.jira
        url = public + PATH.replace("{project}", slug)
        scope = f"project = {jql.quote(jira.project_key)}"
        base = WebhookPlan(project=slug, api=None, url=url, jql=scope)
        if _cloud_oauth2(config, jira.auth):
            plans[slug] = replace(base, api="dynamic")
        elif _cloud(config):
            plans[slug] = replace(
                base,
                why_not="Jira Cloud lets only OAuth 2.0 apps register webhooks by API: use "
                f'auth = "oauth2", or as a Jira admin add {url} at Jira settings → System → '
                f"WebHooks (JQL: {scope}) with the project's webhook_secret",
            )
        elif jira.webhook_secret is None:
            plans[slug] = replace(
                base,
                why_not=f"set projects.{slug}.jira.webhook_secret first (Jira signs every "
                "delivery with it), then register",
            )
        else:
            plans[slug] = replace(base, api="admin", secret=jira.webhook_secret)
    return plans


def app_secrets(settings: Settings, configs: Mapping[str, object]) -> dict[str, SecretStr]:
    """The OAuth 2.0 client secret of each Cloud OAuth 2.0 project (it signs the JWT of
    the app's dynamic webhook deliveries)."""
    found: dict[str, SecretStr] = {}
    for slug, project in settings.projects.items():
        secret = project.jira.oauth_client_secret
        if secret is not None and _cloud_oauth2(configs.get(slug), project.jira.auth):
            found[slug] = secret
    return found
