"""A realistic site to start from: CRASH (Bug, Task) and SUP (support portal) projects.

CRASH's workflow is To Do → In Progress → Done / Won't Do with reopen
transitions; Done and Won't Do ask for a resolution. Bug requires the
``Severity`` select (customfield_10050); versions 2.2.0, 2.3.0 and 2.4.0 exist.
SUP's Task carries the support portal's fields: category (10070, required),
API product (10071) and endpoint (10072).
"""

from __future__ import annotations

from syncengine.jira.simulator.model import (
    FieldDef,
    IssueType,
    Option,
    Priority,
    Project,
    Resolution,
    ScreenField,
    Status,
    Transition,
    Version,
    Workflow,
)
from syncengine.jira.simulator.state import CATEGORIES, SimState

__all__ = [
    "DEFAULT_LOGIN",
    "DEFAULT_TOKEN",
    "IMPACT_FIELDS",
    "SeedUsers",
    "default_login",
    "seed_site",
]

DEFAULT_LOGIN = "bot@example.com"
DEFAULT_TOKEN = "sim-api-token"  # noqa: S105 - the documented token of the local simulator
ADMIN_TOKEN = "sim-admin-token"  # noqa: S105 - the documented token of the local simulator

TO_DO, IN_PROGRESS, DONE, WONT_DO = "10001", "3", "10002", "10003"
BUG, TASK = "10004", "10002"


class SeedUsers:
    """Logins of the seeded users (the bot's may be overridden)."""

    admin = "admin@example.com"
    alice = "alice@example.com"
    bob = "bob@example.com"


def _catalogs(state: SimState) -> None:
    for st in (
        Status(id=TO_DO, name="To Do", category=CATEGORIES["new"]),
        Status(id=IN_PROGRESS, name="In Progress", category=CATEGORIES["indeterminate"]),
        Status(id=DONE, name="Done", category=CATEGORIES["done"]),
        Status(id=WONT_DO, name="Won't Do", category=CATEGORIES["done"]),
    ):
        state.statuses[st.id] = st
    for res in (
        Resolution(id="10000", name="Done", description="Work has been completed on this issue."),
        Resolution(id="10001", name="Won't Do", description="This issue won't be actioned."),
        Resolution(id="10002", name="Duplicate", description="The problem is a duplicate."),
        Resolution(
            id="10003", name="Cannot Reproduce", description="The problem cannot be reproduced."
        ),
    ):
        state.resolutions[res.id] = res
    for pid, name in (
        ("1", "Highest"),
        ("2", "High"),
        ("3", "Medium"),
        ("4", "Low"),
        ("5", "Lowest"),
    ):
        state.priorities[pid] = Priority(id=pid, name=name)
    state.issue_types[BUG] = IssueType(id=BUG, name="Bug", description="A problem or error.")
    state.issue_types[TASK] = IssueType(
        id=TASK, name="Task", description="A small, distinct piece of work."
    )
    fields = [
        FieldDef(id="summary", name="Summary", kind="string"),
        FieldDef(id="description", name="Description", kind="text"),
        FieldDef(id="environment", name="Environment", kind="text"),
        FieldDef(id="labels", name="Labels", kind="labels"),
        FieldDef(id="priority", name="Priority", kind="priority"),
        FieldDef(id="assignee", name="Assignee", kind="user"),
        FieldDef(id="reporter", name="Reporter", kind="user"),
        FieldDef(id="fixVersions", name="Fix versions", kind="versions"),
        FieldDef(id="versions", name="Affects versions", kind="versions"),
        FieldDef(id="duedate", name="Due date", kind="date"),
        FieldDef(
            id="customfield_10050",
            name="Severity",
            kind="option",
            custom_type="com.atlassian.jira.plugin.system.customfieldtypes:select",
            options=tuple(
                Option(id=str(10100 + i), value=v)
                for i, v in enumerate(("Critical", "Major", "Minor", "Trivial"))
            ),
        ),
        FieldDef(
            id="customfield_10051",
            name="Crash details",
            kind="text",
            custom_type="com.atlassian.jira.plugin.system.customfieldtypes:textarea",
        ),
        FieldDef(
            id="customfield_10052",
            name="Occurrences",
            kind="number",
            custom_type="com.atlassian.jira.plugin.system.customfieldtypes:float",
        ),
        # Impact fields: what a crash group's statistics map to (see [projects.*.impact]).
        FieldDef(
            id="customfield_10053",
            name="Affected users",
            kind="number",
            custom_type="com.atlassian.jira.plugin.system.customfieldtypes:float",
        ),
        FieldDef(
            id="customfield_10054",
            name="Regressions",
            kind="number",
            custom_type="com.atlassian.jira.plugin.system.customfieldtypes:float",
        ),
        FieldDef(
            id="customfield_10055",
            name="Last seen",
            kind="datetime",
            custom_type="com.atlassian.jira.plugin.system.customfieldtypes:datetime",
        ),
        FieldDef(
            id="customfield_10056",
            name="Crash group",
            kind="string",
            custom_type="com.atlassian.jira.plugin.system.customfieldtypes:url",
        ),
        FieldDef(
            id="customfield_10057",
            name="Versions affected",
            kind="labels",
            custom_type="com.atlassian.jira.plugin.system.customfieldtypes:labels",
        ),
        FieldDef(
            id="customfield_10058",
            name="First version",
            kind="string",
            custom_type="com.atlassian.jira.plugin.system.customfieldtypes:textfield",
        ),
        FieldDef(
            id="customfield_10059",
            name="Last version",
            kind="string",
            custom_type="com.atlassian.jira.plugin.system.customfieldtypes:textfield",
        ),
        FieldDef(
            id="customfield_10070",
            name="Request category",
            kind="option",
            custom_type="com.atlassian.jira.plugin.system.customfieldtypes:select",
            options=tuple(
                Option(id=str(10200 + i), value=v)
                for i, v in enumerate(("Bug report", "Question", "Feature request", "Billing"))
            ),
        ),
        FieldDef(
            id="customfield_10071",
            name="API product",
            kind="option",
            custom_type="com.atlassian.jira.plugin.system.customfieldtypes:select",
            options=tuple(
                Option(id=str(10300 + i), value=v)
                for i, v in enumerate(("Crash API", "Symbols API", "Ingest API"))
            ),
        ),
        FieldDef(
            id="customfield_10072",
            name="Endpoint",
            kind="string",
            custom_type="com.atlassian.jira.plugin.system.customfieldtypes:textfield",
        ),
    ]
    for definition in fields:
        state.fields[definition.id] = definition


def crash_workflow() -> Workflow:
    """To Do → In Progress → Done / Won't Do, with reopen and stop-progress transitions."""
    open_states = frozenset({TO_DO, IN_PROGRESS})
    closed = frozenset({DONE, WONT_DO})
    return Workflow(
        name="CRASH workflow",
        initial_status=TO_DO,
        statuses=(TO_DO, IN_PROGRESS, DONE, WONT_DO),
        transitions=(
            Transition(
                id="11",
                name="Start Progress",
                to_status=IN_PROGRESS,
                from_statuses=frozenset({TO_DO}),
            ),
            Transition(
                id="21",
                name="Stop Progress",
                to_status=TO_DO,
                from_statuses=frozenset({IN_PROGRESS}),
            ),
            Transition(
                id="31",
                name="Done",
                to_status=DONE,
                from_statuses=open_states,
                requires_resolution=True,
            ),
            Transition(
                id="41",
                name="Won't Do",
                to_status=WONT_DO,
                from_statuses=open_states,
                requires_resolution=True,
            ),
            Transition(id="51", name="Reopen", to_status=TO_DO, from_statuses=closed),
            Transition(
                id="61", name="Reopen and Start", to_status=IN_PROGRESS, from_statuses=closed
            ),
        ),
    )


IMPACT_FIELDS = tuple(f"customfield_{n}" for n in range(10053, 10060))
"""The seeded impact fields (besides Occurrences, 10052): on the CRASH Bug edit screen only."""


def _screen(*ids: str, required: tuple[str, ...] = ("summary",)) -> tuple[ScreenField, ...]:
    return tuple(ScreenField(field_id=i, required=i in required) for i in ids)


def default_login(flavour: str, login: str = DEFAULT_LOGIN) -> str:
    """How the seeded bot signs in: its e-mail on Cloud, its username on Data Center."""
    return login if flavour == "cloud" else login.split("@", maxsplit=1)[0]


def seed_site(state: SimState, *, login: str = DEFAULT_LOGIN, token: str = DEFAULT_TOKEN) -> None:
    """Fill ``state`` with the seeded site; ``login``/``token`` are the bot's credentials."""
    _catalogs(state)
    name = login.split("@", maxsplit=1)[0] if "@" in login else login
    email = login if "@" in login else f"{login}@example.com"
    state.add_user(name=name, email=email, display_name="syncengine bot", token=token)
    admin = state.add_user(
        name="admin",
        email=SeedUsers.admin,
        display_name="Site Admin",
        token=ADMIN_TOKEN,
        admin=True,
    )
    state.add_user(name="alice", email=SeedUsers.alice, display_name="Alice Developer")
    state.add_user(name="bob", email=SeedUsers.bob, display_name="Bob Support")
    common = ("summary", "description", "labels", "priority", "assignee", "reporter")
    crash = Project(
        id="10000",
        key="CRASH",
        name="Crash Reports",
        lead=admin.account_id,
        issue_types=[BUG, TASK],
        screens={
            BUG: _screen(
                *common,
                "environment",
                "fixVersions",
                "versions",
                "duedate",
                "customfield_10050",
                "customfield_10051",
                "customfield_10052",
                required=("summary", "customfield_10050"),
            ),
            TASK: _screen(*common, "fixVersions", "duedate", "customfield_10051"),
        },
        workflow=crash_workflow(),
        edit_only={BUG: _screen(*IMPACT_FIELDS, required=())},
    )
    for vid, version, released in (
        ("10010", "2.2.0", True),
        ("10011", "2.3.0", True),
        ("10012", "2.4.0", False),
    ):
        crash.versions.append(Version(id=vid, name=version, project_id=crash.id, released=released))
    support = Project(
        id="10001",
        key="SUP",
        name="Support",
        lead=admin.account_id,
        issue_types=[TASK],
        screens={
            TASK: _screen(
                *common,
                "customfield_10070",
                "customfield_10071",
                "customfield_10072",
                required=("summary", "customfield_10070"),
            ),
        },
        workflow=crash_workflow(),
    )
    state.projects[crash.key] = crash
    state.projects[support.key] = support
    state.reserve_ids()
