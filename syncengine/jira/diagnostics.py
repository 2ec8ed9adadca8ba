"""What ``doctor`` asks Jira: can we reach it, log in, see the project, and create the issue?

:func:`diagnose` runs the checks in order and stops at the first one that makes
the rest meaningless (no site, no login, no project). Each result is a value
saying what was found and, when it failed, what to fix.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

from syncengine.domain.createmeta import FieldMeta
from syncengine.jira.client import JiraClient
from syncengine.jira.errors import JiraAuthError, JiraError, JiraUnavailable
from syncengine.jira.models import IssueTypeMeta

__all__ = ["ALWAYS_SET", "Check", "ScreenSpec", "diagnose", "failed_check"]

ALWAYS_SET = frozenset({"project", "issuetype", "summary", "reporter"})
"""Fields the engine always sends (or Jira fills itself) on create."""


@dataclass(frozen=True, kw_only=True)
class Check:
    """One diagnostic: ``ok`` or not, what was found, and the fix when it failed."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def failed_check(name: str, error: JiraError, *, site: str) -> Check:
    """The failed check ``name`` for ``error``, with a fix for the person running doctor.

    A Jira that cannot be reached gets its own fix: doctor retries nothing, so the
    engine's "the work is kept and retried" would not say what to do.
    """
    fix = error.fix
    if isinstance(error, JiraUnavailable):
        fix = {
            "refused": f"nothing accepts connections at {site}: check jira.url (host and "
            "port), that Jira is running, and that no firewall or proxy blocks this host",
            "silent": f"{site} took the connection but did not answer: check that jira.url "
            "is Jira itself (not another service or a stuck proxy) and that Jira is not hung",
            "cut": f"the connection to {site} broke: check the proxy or load balancer in "
            "front of Jira",
            None: "Jira is failing or overloaded: look at its health, then run doctor again"
            if error.status is not None
            else f"check that {site} is reachable from this host, then run doctor again",
        }[error.unreached]
    return Check(name=name, ok=False, detail=str(error), fix=fix)


@dataclass(frozen=True, kw_only=True)
class ScreenSpec:
    """One kind of issue the engine creates: its type and the fields it fills (ids or names).

    ``label`` prefixes the check names (``""`` for the crash tickets: "issue type",
    "create screen"; ``"support"`` for portal requests: "support issue type", ...).
    """

    issue_type: str
    provided: Collection[str] = ()
    label: str = ""
    fix: str = "give them a value in jira.custom_fields"
    """What to do about a required field nothing fills."""

    def name(self, check: str) -> str:
        return f"{self.label} {check}" if self.label else check


async def diagnose(
    client: JiraClient,
    *,
    project_key: str,
    issue_type: str = "Bug",
    provided_fields: Collection[str] = (),
    screens: Sequence[ScreenSpec] | None = None,
) -> tuple[Check, ...]:
    """Check the site, the credentials, the project, and each issue type and create screen.

    ``screens`` are the kinds of issue the engine creates (default: one, ``issue_type``
    with ``provided_fields``): the field ids or names it sends besides
    :data:`ALWAYS_SET` (description, labels, configured custom fields). Never raises
    a :class:`JiraError`: failures become failed checks.
    """
    checks, reached = await _site_checks(client)
    if not reached:
        return checks
    wanted = (
        screens
        if screens is not None
        else [ScreenSpec(issue_type=issue_type, provided=provided_fields)]
    )
    return checks + await _project_checks(client, project_key, wanted)


async def _site_checks(client: JiraClient) -> tuple[tuple[Check, ...], bool]:
    try:
        info = await client.server_info()
        await client.flavour()
    except JiraAuthError as exc:
        # Jira answered, and refused the credentials even for serverInfo.
        reached = Check(name="reach Jira", ok=True, detail=f"Jira answered at {client.config.site}")
        return (reached, failed_check("credentials", exc, site=client.config.site)), False
    except JiraError as exc:
        return (failed_check("reach Jira", exc, site=client.config.site),), False
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
        return (site, failed_check("credentials", exc, site=client.config.site)), False
    who = me.email or me.name or me.account_id or "?"
    login = Check(name="credentials", ok=True, detail=f"signed in as {me.display_name} ({who})")
    return (site, login), True


async def _project_checks(
    client: JiraClient, project_key: str, screens: Sequence[ScreenSpec]
) -> tuple[Check, ...]:
    try:
        project = await client.project(project_key)
        types = await client.createmeta_issue_types(project_key)
    except JiraError as exc:
        return (failed_check("project", exc, site=client.config.site),)
    checks = [Check(name="project", ok=True, detail=f"{project.key}: {project.name}")]
    for spec in screens:
        checks += await _screen_checks(client, project_key, types, spec)
    return tuple(checks)


async def _screen_checks(
    client: JiraClient, project_key: str, types: Sequence[IssueTypeMeta], spec: ScreenSpec
) -> list[Check]:
    chosen = next((t for t in types if t.name.casefold() == spec.issue_type.casefold()), None)
    if chosen is None:
        names = ", ".join(t.name for t in types) or "none"
        key = "support.issue_type" if spec.label == "support" else "jira.issue_type"
        return [
            Check(
                name=spec.name("issue type"),
                ok=False,
                detail=f"issue type {spec.issue_type!r} is not valid for project {project_key} "
                f"(the user can create: {names})",
                fix=f"set {key} to one of those",
            )
        ]
    kind = Check(name=spec.name("issue type"), ok=True, detail=f"{chosen.name} (id {chosen.id})")
    try:
        fields = await client.createmeta_fields(project_key, chosen.id)
    except JiraError as exc:
        return [kind, failed_check(spec.name("create screen"), exc, site=client.config.site)]
    screen = _screen_check(fields, set(spec.provided), await client.flavour(), spec.fix)
    return [kind, replace(screen, name=spec.name("create screen"))]


def _resolve(provided: set[str], metas: Collection[FieldMeta]) -> tuple[set[str], list[str]]:
    """The ids of the ``provided`` fields (given by id or by name, any case), and those
    on no field of the screen."""
    by_name = {m.name.casefold(): m.id for m in metas}
    ids = {m.id for m in metas}
    found: set[str] = set()
    absent: list[str] = []
    for key in provided:
        if key in ids:
            found.add(key)
        elif key.strip().casefold() in by_name:
            found.add(by_name[key.strip().casefold()])
        else:
            absent.append(key)
    return found, sorted(absent)


def _screen_check(
    metas: Collection[FieldMeta], provided: set[str], flavour: str, fix: str
) -> Check:
    on_screen = {f.id for f in metas}
    filled, absent = _resolve(provided, metas)
    missing = [
        f"{f.id} ({f.name})"
        for f in metas
        if f.required and not f.has_default and f.id not in filled | ALWAYS_SET
    ]
    problems = []
    fixes = []
    if missing:
        problems.append(f"required fields with no value: {', '.join(missing)}")
        fixes.append(fix)
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
