"""Builds the domain's ticket values from settings (the domain never imports settings)."""

from __future__ import annotations

from syncengine.domain.description import DescriptionRenderer
from syncengine.domain.fields import TicketTemplate
from syncengine.domain.groups import GroupState
from syncengine.domain.rules import AttributeFilter, FilterOp, TicketRules
from syncengine.domain.versions import VersionScheme
from syncengine.settings import JiraSettings, ProjectSettings, Settings
from syncengine.templating import load_template_sources

__all__ = ["description_renderer", "ticket_rules", "ticket_template"]


def ticket_template(jira: JiraSettings) -> TicketTemplate:
    """The :class:`TicketTemplate` one project's ``[projects.X.jira]`` section describes."""
    return TicketTemplate(
        project_key=jira.project_key,
        issue_type=jira.issue_type or "Bug",
        summary=jira.summary,
        labels=tuple(jira.labels),
        description_template=jira.description_template,
        description_field=jira.description_field,
        labels_field=jira.labels_field,
        custom_fields=dict(jira.custom_fields),
        description_attributes=tuple(jira.description_attributes),
        missing_attribute=jira.missing_attribute,
        api_version=jira.api_version,
        user_map=dict(jira.user_map),
    )


def description_renderer(settings: Settings) -> DescriptionRenderer:
    """The description renderer over the bundled templates and ``templates_dir``.

    Reads the template files once; raises :class:`~syncengine.errors.ConfigError`
    when ``templates_dir`` is set but unreadable.
    """
    return DescriptionRenderer(load_template_sources(settings.templates_dir))


def ticket_rules(project: ProjectSettings) -> TicketRules:
    """The domain's ticket rules from a project's settings."""
    return TicketRules(
        enabled=project.rules.enabled,
        min_occurrences=project.rules.min_occurrences,
        window_minutes=project.rules.window_minutes,
        filters=tuple(
            AttributeFilter(attribute=f.attribute, op=FilterOp(f.op), value=f.value)
            for f in project.rules.filters
        ),
        never_states=tuple(GroupState(s) for s in project.rules.never_states),
        version_scheme=VersionScheme(project.sync.version_scheme),
    )
