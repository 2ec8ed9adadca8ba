"""What ``doctor`` asks Jira: can we reach it, log in, see the project, and create the issue?

:func:`diagnose` runs the checks in order and stops at the first one that makes
the rest meaningless (no site, no login, no project). Each result is a value
saying what was found and, when it failed, what to fix.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from syncengine.jira.client import JiraClient
from syncengine.jira.errors import JiraAuthError, JiraError
from syncengine.jira.models import FieldMeta

__all__ = ["ALWAYS_SET", "Check", "diagnose"]

ALWAYS_SET = frozenset({"project", "issuetype", "summary", "reporter"})
"""Fields the engine always sends (or Jira fills itself) on create."""


@dataclass(frozen=True, kw_only=True)
class Check:
    """One diagnostic: ``ok`` or not, what was found, and the fix when it failed."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def _failed(name: str, error: JiraError) -> Check:
    return Check(name=name, ok=False, detail=str(error), fix=error.fix)


async def diagnose(
    client: JiraClient,
    *,
    project_key: str,
    issue_type: str,
    provided_fields: Collection[str] = (),
) -> tuple[Check, ...]:
    """Check the site, the credentials, the project, the issue type and the create screen.

    ``provided_fields`` are the field ids the engine will send besides
    :data:`ALWAYS_SET` (description, labels, configured custom fields). Never raises
    a :class:`JiraError`: failures become failed checks.
    """
    checks, reached = await _site_checks(client)
    if not reached:
        return checks
    return checks + await _project_checks(client, project_key, issue_type, set(provided_fields))


async def _site_checks(client: JiraClient) -> tuple[tuple[Check, ...], bool]:
    try:
        info = await client.server_info()
        await client.flavour()
    except JiraAuthError as exc:
        # Jira answered, and refused the credentials even for serverInfo.
        reached = Check(name="reach Jira", ok=True, detail=f"Jira answered at {client.config.site}")
        return (reached, _failed("credentials", exc)), False
    except JiraError as exc:
        return (_failed("reach Jira", exc),), False
    configured = client.config.deployment
    mismatch = configured not in ("auto", info.flavour)
    site = Check(
        name="reach Jira",
        ok=not mismatch,
        detail=f"{info.server_title or 'Jira'} {info.version} ({info.deployment_type}) "
        f"at {client.config.site}, REST v{client.config.api_version}",
        fix=f'set jira.deployment = "{info.flavour}" (or "auto")' if mismatch else "",
    )
    try:
        me = await client.myself()
    except JiraError as exc:
        return (site, _failed("credentials", exc)), False
    who = me.email or me.name or me.account_id or "?"
    login = Check(name="credentials", ok=True, detail=f"signed in as {me.display_name} ({who})")
    return (site, login), True


async def _project_checks(
    client: JiraClient, project_key: str, issue_type: str, provided: set[str]
) -> tuple[Check, ...]:
    try:
        project = await client.project(project_key)
        types = await client.createmeta_issue_types(project_key)
    except JiraError as exc:
        return (_failed("project", exc),)
    found = Check(name="project", ok=True, detail=f"{project.key}: {project.name}")
    chosen = next((t for t in types if t.name.casefold() == issue_type.casefold()), None)
    if chosen is None:
        names = ", ".join(t.name for t in types) or "none"
        wrong = Check(
            name="issue type",
            ok=False,
            detail=f"issue type {issue_type!r} is not valid for project {project_key} "
            f"(the user can create: {names})",
            fix="set jira.issue_type to one of those",
        )
        return (found, wrong)
    kind = Check(name="issue type", ok=True, detail=f"{chosen.name} (id {chosen.id})")
    try:
        fields = await client.createmeta_fields(project_key, chosen.id)
    except JiraError as exc:
        return (found, kind, _failed("create screen", exc))
    return (found, kind, _screen_check(fields, provided, await client.flavour()))


def _screen_check(metas: Collection[FieldMeta], provided: set[str], flavour: str) -> Check:
    on_screen = {f.field_id for f in metas}
    missing = [
        f"{f.field_id} ({f.name})"
        for f in metas
        if f.required and not f.has_default_value and f.field_id not in provided | ALWAYS_SET
    ]
    absent = sorted(provided - on_screen)
    problems = []
    fixes = []
    if missing:
        problems.append(f"required fields with no value: {', '.join(missing)}")
        fixes.append("give them a value in jira.custom_fields")
    if absent:
        problems.append(f"fields not on the create screen: {', '.join(absent)}")
        fixes.append("add them to the project's create screen or stop sending them")
    if problems:
        return Check(
            name="create screen", ok=False, detail="; ".join(problems), fix="; ".join(fixes)
        )
    return Check(
        name="create screen",
        ok=True,
        detail=f"{len(on_screen)} fields on the {flavour} create screen; every required one is set",
    )
