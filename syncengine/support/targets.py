"""Which Jira site and fields each project's support requests go to."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from syncengine.errors import JiraPermanentError
from syncengine.support.fields import SupportFieldConfig
from syncengine.support.jira_port import SupportJira

__all__ = ["SupportTarget", "SupportTargets"]


@dataclass(frozen=True, kw_only=True, slots=True)
class SupportTarget:
    """One project's Jira: the client and the shape of the issues."""

    jira: SupportJira
    fields: SupportFieldConfig


class SupportTargets:
    """Jira targets by project slug: each project's field configuration and its client."""

    def __init__(
        self, fields: Mapping[str, SupportFieldConfig], clients: Mapping[str, SupportJira]
    ) -> None:
        self._targets = {
            slug: SupportTarget(jira=client, fields=fields[slug])
            for slug, client in clients.items()
            if slug in fields
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
