"""Settings → the values each service is built with (services never read settings).

Each function converts one section once, at start; the composition root
(:mod:`syncengine.bootstrap.build`) hands the results down.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from datetime import timedelta

from syncengine.bootstrap.template_sources import load_template_sources
from syncengine.domain.description import DescriptionRenderer
from syncengine.domain.fields import TicketTemplate
from syncengine.domain.fixversions import FixVersionConfig
from syncengine.domain.groups import GroupState
from syncengine.domain.impact import ImpactPolicy
from syncengine.domain.merge import SyncMode
from syncengine.domain.regression import RegressionConfig
from syncengine.domain.rules import AttributeFilter, TicketRules
from syncengine.domain.statuses import StatusMapping, validate_mapping
from syncengine.entrypoints.server import ServerLimits
from syncengine.errors import ConfigError
from syncengine.ingest.limits import IngestLimits, ReportContexts
from syncengine.jira.diagnostics import ScreenSpec
from syncengine.settings import JiraSettings, ProjectSettings, Settings
from syncengine.store.groups import FIELD_LIMITS
from syncengine.support.config import SupportConfig
from syncengine.support.fields import SupportFieldConfig
from syncengine.support.validation import MAX_ATTACHMENTS
from syncengine.sync.config import ProjectSync
from syncengine.sync.impact import ImpactConfig
from syncengine.sync.integration_admin import WebhookWatch
from syncengine.sync.poller import PollWatch
from syncengine.sync.regressions import RegressionCheck
from syncengine.web.services import WebConfig, WebUser

__all__ = [
    "description_renderer",
    "poll_watches",
    "project_sync",
    "regression_checks",
    "report_contexts",
    "server_limits",
    "support_configs",
    "support_fields",
    "sync_configs",
    "syncing_projects",
    "ticket_rules",
    "ticket_template",
    "web_config",
    "webhook_watches",
]


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
            AttributeFilter(attribute=f.attribute, op=f.op, value=f.value)
            for f in project.rules.filters
        ),
        never_states=tuple(project.rules.never_states),
        version_scheme=project.sync.version_scheme,
    )


def project_sync(slug: str, project: ProjectSettings) -> ProjectSync:
    """The domain values of ``project``'s ``[sync]`` section.

    Raises:
        ConfigError: ``state_statuses``/``state_transitions`` name an unknown state, or
            the mapping is inconsistent (the problems say what to change).
    """
    sync = project.sync
    where = f"projects.{slug}.sync"
    problems = [
        f"{where}.{section}.{name}: not an engine state; use one of "
        + ", ".join(s.value for s in GroupState)
        for section, names in (
            ("state_statuses", sync.state_statuses),
            ("state_transitions", sync.state_transitions),
        )
        for name in names
        if name not in GroupState.__members__.values()
    ]
    if problems:
        raise ConfigError(problems)
    mapping = StatusMapping(
        state_statuses={GroupState(k): tuple(v) for k, v in sync.state_statuses.items()},
        state_transitions={GroupState(k): v for k, v in sync.state_transitions.items()},
        resolution_on_done=sync.resolution_on_done,
        muted_resolutions=tuple(sync.muted_resolutions),
    )
    invalid = validate_mapping(mapping)
    if invalid:
        raise ConfigError([f"{where}.{p}" for p in invalid])
    return ProjectSync(
        slug=slug,
        project_key=project.jira.project_key,
        mode=sync.mode,
        policy=sync.conflict_policy,
        mapping=mapping,
        fix_versions=FixVersionConfig(
            fix_versions=sync.fix_versions,
            fix_version_pattern=sync.fix_version_pattern,
            version_scheme=sync.version_scheme,
            resolve_rule=sync.resolve_rule,
            # Rules compare the canonical version attribute every report carries.
            version_attribute="version",
        ),
        regression=RegressionConfig(
            regression_action=sync.regression_action,
            new_issue_after_days=sync.new_issue_after_days,
        ),
        scheme=sync.version_scheme,
        user_map=dict(project.jira.user_map),
        transition_fields=dict(sync.transition_fields),
    )


def sync_configs(settings: Settings) -> dict[str, ProjectSync | ConfigError]:
    """Every project's sync values, or the error saying why its ``[sync]`` is unusable.

    An unusable section fails that project's sync when it runs (and says why), not
    the whole engine at start.
    """
    configs: dict[str, ProjectSync | ConfigError] = {}
    for slug, project in settings.projects.items():
        try:
            configs[slug] = project_sync(slug, project)
        except ConfigError as exc:
            configs[slug] = exc
    return configs


def syncing_projects(settings: Settings) -> frozenset[str]:
    """The projects whose engine-side changes travel to Jira (sync not off)."""
    return frozenset(s for s, p in settings.projects.items() if p.sync.mode is not SyncMode.OFF)


def poll_watches(settings: Settings) -> dict[str, PollWatch]:
    """Per project: whether webhooks can arrive, and how long a silence counts."""
    return {
        slug: PollWatch(
            webhook_secret_set=project.jira.webhook_secret is not None,
            webhook_silence_seconds=project.sync.webhook_silence_seconds,
        )
        for slug, project in settings.projects.items()
    }


def webhook_watches(settings: Settings) -> dict[str, WebhookWatch]:
    """Per syncing project: the poll interval and the silence the integration page warns of."""
    return {
        slug: WebhookWatch(
            poll_interval_seconds=project.sync.poll_interval_seconds,
            webhook_silence_seconds=project.sync.webhook_silence_seconds,
            registrable=not project.jira.simulated,
        )
        for slug, project in settings.projects.items()
        if project.sync.mode is not SyncMode.OFF
    }


def impact_configs(settings: Settings) -> dict[str, ImpactConfig]:
    """Each project's impact fields and refresh bounds (projects mapping none included)."""
    return {
        slug: ImpactConfig(
            policy=ImpactPolicy(
                fields=dict(project.impact.fields),
                min_change_percent=project.impact.min_change_percent,
                min_change_occurrences=project.impact.min_change_occurrences,
                interval=timedelta(minutes=project.impact.interval_minutes),
                budget_share=project.impact.budget_share,
                overwrite_edits=project.impact.overwrite_edits,
            ),
            requests_per_second=project.jira.requests_per_second,
            cloud=project.jira.simulated or project.jira.deployment != "datacenter",
            notify=project.impact.notify,
        )
        for slug, project in settings.projects.items()
    }


def regression_checks(settings: Settings) -> dict[str, RegressionCheck]:
    """Per project: how its reports are checked against resolved-until rules."""
    return {
        slug: RegressionCheck(
            version_scheme=project.sync.version_scheme,
            version_attribute=project.version_attribute,
            syncs=project.sync.mode is not SyncMode.OFF,
        )
        for slug, project in settings.projects.items()
    }


def report_contexts(settings: Settings) -> ReportContexts:
    """The intake's limits (never above what the store keeps) and version attributes."""
    ingest = settings.ingest
    return ReportContexts(
        limits=IngestLimits(
            max_request_bytes=ingest.max_request_bytes,
            max_report_bytes=ingest.max_report_bytes,
            max_attributes=ingest.max_attributes,
            max_key_length=min(ingest.max_key_length, FIELD_LIMITS["attribute name"]),
            max_value_length=min(ingest.max_value_length, FIELD_LIMITS["attribute value"]),
        ),
        version_attributes={s: p.version_attribute for s, p in settings.projects.items()},
        version_patterns={
            s: p.version_pattern
            for s, p in settings.projects.items()
            if p.version_pattern is not None
        },
    )


def support_configs(settings: Settings) -> dict[str, SupportConfig]:
    """The portal configuration of every project that takes support requests."""
    return {
        slug: SupportConfig(
            name=project.name,
            labels=tuple(project.support.labels),
            categories=tuple(project.support.categories),
            api_products=tuple(project.support.api_products),
            max_attachment_bytes=project.support.max_attachment_bytes,
            attachment_types=tuple(project.support.attachment_types),
        )
        for slug, project in settings.projects.items()
        if project.support.enabled
    }


def support_fields(settings: Settings) -> dict[str, SupportFieldConfig]:
    """Where each project's support requests go in Jira (its fields and issue type)."""
    emails: Mapping[str, str] = {n: u.email for n, u in settings.web.users.items() if u.email}
    return {
        slug: SupportFieldConfig(
            project_key=project.jira.project_key,
            issue_type=project.support.issue_type,
            api_version=project.jira.api_version,
            category_field=project.support.category_field,
            api_product_field=project.support.api_product_field,
            endpoint_field=project.support.endpoint_field,
            public_url=settings.effective_public_url,
            project_slug=slug,
            reporter_emails=dict(emails),
        )
        for slug, project in settings.projects.items()
    }


def web_config(settings: Settings) -> WebConfig:
    """The web app's settings: users, sessions, page templates, the upload limit."""
    largest = max(
        (p.support.max_attachment_bytes for p in settings.projects.values() if p.support.enabled),
        default=0,
    )
    return WebConfig(
        users={
            name: WebUser(password_hash=u.password_hash, role=u.role, email=u.email)
            for name, u in settings.web.users.items()
        },
        admin_token=settings.admin_token,
        session_secret=settings.web.session_secret,
        session_max_age_seconds=settings.web.session_max_age_seconds,
        templates_dir=settings.templates_dir,
        https_only=settings.effective_public_url.startswith("https://"),
        # Every file at its limit, plus room for the form fields and multipart framing.
        upload_limit=largest * MAX_ATTACHMENTS + 1024 * 1024,
        max_body_bytes=settings.http.max_body_bytes,
        max_webhook_bytes=settings.http.max_webhook_bytes,
        body_timeout_seconds=settings.http.body_timeout_seconds,
        trusted_proxies=tuple(
            ipaddress.ip_network(p, strict=False) for p in settings.http.trusted_proxies
        ),
        password_check_concurrency=settings.web.password_check_concurrency,
        status_token=settings.web.status_token,
        metrics=settings.web.metrics,
        api_docs=settings.web.api_docs,
    )


def server_limits(settings: Settings) -> ServerLimits:
    """How the HTTP server guards its sockets against slow and idle clients."""
    return ServerLimits(
        header_timeout_seconds=settings.http.header_timeout_seconds,
        keep_alive_seconds=settings.http.keep_alive_seconds,
        max_header_bytes=settings.http.max_header_bytes,
        max_connections=settings.http.max_connections,
        # With several workers, a connection is closed after this many answers: its client
        # connects again and the kernel may hand it to another worker, so a few long-lived
        # clients (pipelines posting batches) do not stay on one worker.
        requests_per_connection=WORKER_REQUESTS_PER_CONNECTION if settings.workers > 1 else 0,
    )


WORKER_REQUESTS_PER_CONNECTION = 16


def doctor_screens(project: ProjectSettings) -> tuple[ScreenSpec, ...]:
    """The kinds of issue a project files, for doctor's create-screen checks: crash tickets
    (unless it is a support-only project, whose rules file none) and, with the portal on,
    support requests with the fields ``category_field`` and its siblings fill."""
    template = ticket_template(project.jira)
    support = project.support
    screens = []
    if project.rules.enabled or not support.enabled:
        provided = {template.description_field, template.labels_field, *template.custom_fields}
        screens.append(ScreenSpec(issue_type=template.issue_type, provided=provided))
    if support.enabled:
        filled = (support.category_field, support.api_product_field, support.endpoint_field)
        screens.append(
            ScreenSpec(
                issue_type=support.issue_type,
                provided={"description", "labels", *(f for f in filled if f)},
                label="support",
                fix="name the field in support.category_field, api_product_field or "
                "endpoint_field, or give it a default value in Jira",
            )
        )
    return tuple(screens)
