"""``syncengine doctor``: check a project's Jira set-up and say what to fix.

Checks run in order — URL form, reaching Jira and the server type, the
credentials, the project, the permissions the engine needs, the issue type, the
create screen (required fields covered, description and labels fields present),
custom-field values against their schema, and a sample group rendered into
fields — and stop where the rest would be meaningless (no site, no login, no
project). Each result says what was found and, when it failed, the fix.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from syncengine.domain.createmeta import CreateMeta
from syncengine.domain.description import DescriptionRenderer
from syncengine.domain.fieldcheck import check_config
from syncengine.domain.fields import TicketTemplate, build_fields, identity_label
from syncengine.domain.groups import GroupSnapshot
from syncengine.domain.impact import ImpactPolicy, check_mapping
from syncengine.errors import ConfigError, JiraError, SyncEngineError
from syncengine.jira import jql
from syncengine.jira.client import JiraClient
from syncengine.jira.config import JiraConfig
from syncengine.jira.diagnostics import Check, ScreenSpec, diagnose, failed_check
from syncengine.jira.errors import JiraInvalidIssueType
from syncengine.store.groups import GroupRepository
from syncengine.store.projects import ProjectRepository
from syncengine.sync.tickets import group_key

__all__ = ["PERMISSIONS", "Check", "Doctor", "DoctorProject", "as_json"]

# What the engine does in Jira, by Jira permission key, with the words users see.
PERMISSIONS = {
    "BROWSE_PROJECTS": "Browse Projects",
    "CREATE_ISSUES": "Create Issues",
    "EDIT_ISSUES": "Edit Issues",
    "TRANSITION_ISSUES": "Transition Issues",
    "ASSIGN_ISSUES": "Assign Issues",
    "ADD_COMMENTS": "Add Comments",
    "CREATE_ATTACHMENTS": "Create Attachments",
    # Regressions, duplicates found by the sweep and back-links to the group page.
    "LINK_ISSUES": "Link Issues",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class DoctorProject:
    """What doctor knows of one project's configuration.

    ``jira`` is the client configuration its ``[jira]`` section makes, or the
    :class:`~syncengine.errors.ConfigError` saying why it makes none; None when no
    Jira URL is set (the bundled simulator stands in).
    """

    jira: JiraConfig | ConfigError | None
    template: TicketTemplate
    screens: tuple[ScreenSpec, ...] = ()
    """The kinds of issue the project files (default: the crash tickets of ``template``)."""
    impact: ImpactPolicy = field(default_factory=ImpactPolicy)
    """The impact fields, checked against an issue's edit screen (``editmeta``)."""


def _url_check(project: DoctorProject, slug: str) -> Check:
    config = project.jira
    if config is None:
        return Check(
            name="Jira URL",
            ok=True,
            detail="no Jira URL is set: the bundled Jira simulator stands in "
            "(set projects.{slug}.jira.url to use a real Jira)".replace("{slug}", slug),
        )
    if isinstance(config, ConfigError):
        return Check(
            name="Jira URL",
            ok=False,
            detail="; ".join(config.problems),
            fix="give the site (https://your-site.atlassian.net) or the REST v2 root "
            "(…/rest/api/2/)",
        )
    if config.deployment == "datacenter" and config.api_version == 3:
        return Check(
            name="Jira URL",
            ok=False,
            detail="the URL names REST v3, which Data Center does not have",
            fix="use the …/rest/api/2/ endpoint",
        )
    return Check(name="Jira URL", ok=True, detail=f"{config.site} (REST v{config.api_version})")


async def _permission_check(client: JiraClient, project_key: str) -> Check:
    try:
        held = await client.my_permissions(project_key, list(PERMISSIONS))
    except JiraError as exc:
        return failed_check("permissions", exc, site=client.config.site)
    missing = [PERMISSIONS[key] for key, ok in held.items() if not ok]
    if missing:
        return Check(
            name="permissions",
            ok=False,
            detail=f"the Jira user lacks: {', '.join(missing)}",
            fix=f"grant these in project {project_key}'s permission scheme "
            "(Project settings → Permissions) to the user syncengine signs in as",
        )
    return Check(
        name="permissions",
        ok=True,
        detail="browse, create, edit, transition, assign, comment, attach and link are all granted",
    )


async def _createmeta(client: JiraClient, project_key: str, issue_type: str) -> CreateMeta | None:
    try:
        return await client.create_meta(project_key, issue_type)
    except JiraInvalidIssueType:
        return None  # the issue-type check already failed and said why


async def impact_check(client: JiraClient, template: TicketTemplate, policy: ImpactPolicy) -> Check:
    """The impact mapping against the edit screen of a recent issue of the ticket type."""
    name = "impact fields"
    recent = [
        issue
        async for issue in client.search(
            f"project = {jql.quote(template.project_key)} ORDER BY created DESC",
            fields=["issuetype"],
            page_size=20,
        )
    ][:20]
    sample = next(
        (i for i in recent if (i.issue_type or "").casefold() == template.issue_type.casefold()),
        None,
    )
    if sample is None:
        return Check(
            name=name,
            ok=True,
            detail=f"no {template.issue_type} in {template.project_key} yet to read the edit "
            "screen of; the first refresh checks the mapping (and logs what does not fit)",
        )
    _, problems = check_mapping(policy, await client.editmeta(sample.id))
    if problems:
        return Check(
            name=name,
            ok=False,
            detail=f"on the edit screen of {sample.key}: "
            + "; ".join(f"{p.stat.value} → {p.field} {p.message}" for p in problems),
            fix="; ".join(
                dict.fromkeys(f"impact.fields.{p.stat.value}: {p.fix}" for p in problems)
            ),
        )
    return Check(
        name=name,
        ok=True,
        detail=f"{len(policy.fields)} statistic(s) map to fields on {sample.key}'s edit screen",
    )


class Doctor:
    """Runs the checks of a project's Jira set-up (``syncengine doctor``, the admin page)."""

    def __init__(
        self,
        *,
        projects: Mapping[str, DoctorProject],
        clients: Callable[[str], JiraClient],
        stored: ProjectRepository,
        groups: GroupRepository,
        renderer: DescriptionRenderer,
        credentials: Callable[[str], Awaitable[list[Check]]] | None = None,
    ) -> None:
        self._credentials = credentials
        self._projects = dict(projects)
        self._clients = clients
        self._stored = stored
        self._groups = groups
        self._renderer = renderer

    def knows(self, slug: str) -> bool:
        """True when ``slug`` is a configured project."""
        return slug in self._projects

    async def _sample(self, slug: str) -> GroupSnapshot | None:
        project = await self._stored.get(slug)
        if project is None:
            return None
        page = await self._groups.page(project.id, limit=1)
        return page.groups[0] if page.groups else None

    async def _field_checks(
        self, slug: str, template: TicketTemplate, client: JiraClient
    ) -> list[Check]:
        template = replace(template, api_version=client.config.api_version)
        createmeta = await _createmeta(client, template.project_key, template.issue_type)
        if createmeta is None:
            return []  # the issue-type check already failed and said why
        cloud = await client.flavour() == "cloud"
        renderer = self._renderer
        sample = await self._sample(slug)
        problems = check_config(template, createmeta, cloud=cloud, sample=sample, renderer=renderer)
        checks = [
            Check(
                name="field configuration",
                ok=not problems,
                detail="; ".join(f"{p.field}: {p.message}" for p in problems)
                or "every configured field is on the create screen and fits its schema",
                fix="; ".join(dict.fromkeys(f"{p.field}: {p.fix}" for p in problems)),
            )
        ]
        if sample is not None:
            built = build_fields(
                template,
                sample,
                renderer=renderer,
                createmeta=createmeta,
                cloud=cloud,
                identity=identity_label(group_key(slug, sample.fingerprint)),
            )
            blocking = [p for p in built.problems if p.blocking]
            checks.append(
                Check(
                    name="sample group",
                    ok=not blocking,
                    detail=f"group {sample.id} renders to a {len(built.fields)}-field "
                    "create request"
                    if not blocking
                    else "; ".join(f"{p.field}: {p.message}" for p in blocking),
                    fix="; ".join(p.fix for p in blocking),
                )
            )
        return checks

    async def run(self, slug: str) -> list[Check]:
        """Every check of project ``slug``'s Jira set-up, in order (see the module docstring).

        Never raises for Jira or configuration problems: they are failed checks.
        """
        project = self._projects[slug]
        url = _url_check(project, slug)
        if not url.ok:
            return [url]
        checks = [url]
        if self._credentials is not None:
            checks += await self._credentials(slug)
        try:
            client = self._clients(slug)
        except ConfigError as exc:
            return [
                *checks,
                Check(
                    name="Jira client",
                    ok=False,
                    detail="; ".join(exc.problems),
                    fix="fix the keys named above",
                ),
            ]
        template = project.template
        provided = {template.description_field, template.labels_field, *template.custom_fields}
        screens = project.screens or (
            ScreenSpec(issue_type=template.issue_type, provided=provided),
        )
        basics = await diagnose(client, project_key=template.project_key, screens=screens)
        by_name = {c.name: c for c in basics}
        for check in basics:
            checks.append(check)
            if check.name == "project" and check.ok:
                checks.append(await _permission_check(client, template.project_key))
        # The field checks stand on their own: a problem on the create screen (said above)
        # does not hide what they find. They need only the ticket issue type to exist.
        kind = by_name.get("issue type")
        if kind is not None and kind.ok:
            try:
                checks += await self._field_checks(slug, template, client)
            except JiraError as exc:
                checks.append(failed_check("field configuration", exc, site=client.config.site))
            except SyncEngineError as exc:
                checks.append(
                    Check(
                        name="field configuration",
                        ok=False,
                        detail=str(exc),
                        fix=getattr(exc, "fix", ""),
                    )
                )
        if project.impact.enabled and by_name.get("project") and by_name["project"].ok:
            try:
                checks.append(await impact_check(client, template, project.impact))
            except JiraError as exc:
                checks.append(failed_check("impact fields", exc, site=client.config.site))
        return checks


def as_json(results: dict[str, list[Check]]) -> dict[str, Any]:
    """The results by project, for ``--json``."""
    return {
        "ok": all(c.ok for checks in results.values() for c in checks),
        "projects": {slug: [asdict(c) for c in checks] for slug, checks in results.items()},
    }
