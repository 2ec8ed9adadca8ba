"""Which Jira site and fields each project's support requests go to."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from syncengine.errors import JiraPermanentError
from syncengine.settings import Settings
from syncengine.support.fields import SupportFieldConfig
from syncengine.support.jira_port import SupportJira

__all__ = ["SupportTarget", "SupportTargets", "field_config"]


@dataclass(frozen=True, kw_only=True, slots=True)
class SupportTarget:
    """One project's Jira: the client and the shape of the issues."""

    jira: SupportJira
    fields: SupportFieldConfig


def field_config(settings: Settings, slug: str) -> SupportFieldConfig:
    """The field configuration of project ``slug`` from the settings."""
    project = settings.projects[slug]
    return SupportFieldConfig(
        project_key=project.jira.project_key,
        issue_type=project.support.issue_type,
        api_version=project.jira.api_version,
        category_field=project.support.category_field,
        api_product_field=project.support.api_product_field,
        endpoint_field=project.support.endpoint_field,
        public_url=settings.effective_public_url,
        project_slug=slug,
        reporter_emails={n: u.email for n, u in settings.web.users.items() if u.email},
    )


class SupportTargets:
    """Jira targets by project slug, built from settings and a client per project."""

    def __init__(self, settings: Settings, clients: Mapping[str, SupportJira]) -> None:
        self._targets = {
            slug: SupportTarget(jira=client, fields=field_config(settings, slug))
            for slug, client in clients.items()
            if slug in settings.projects
        }

    def __call__(self, slug: str) -> SupportTarget:
        """The target of ``slug``; JiraPermanentError when it has no Jira client."""
        target = self._targets.get(slug)
        if target is None:
            raise JiraPermanentError(
                f"project {slug!r} has no Jira client",
                fix=f"configure [projects.{slug}.jira] (url, user, api_token) and restart",
            )
        return target


TargetLookup = Callable[[str], SupportTarget]
