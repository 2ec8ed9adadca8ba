"""The simulator's state: a Jira site's catalogs, users, permissions and issues.

Lookups raise :class:`JiraHttpError` with the answer Jira gives, so routes stay
thin. Issue life-cycle operations live in ``issues.py``; this module holds the
records and who may do what.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from syncengine.jira.simulator.clock import Clock
from syncengine.jira.simulator.errors import ISSUE_NOT_FOUND, JiraHttpError, not_found
from syncengine.jira.simulator.model import (
    ChangeItem,
    FieldDef,
    History,
    Issue,
    IssueType,
    Permission,
    Priority,
    Project,
    Resolution,
    Status,
    StatusCategory,
    User,
    Version,
)
from syncengine.jira.simulator.search_index import SearchIndex

__all__ = [
    "CATEGORIES",
    "ChangeItem",
    "Flavour",
    "IssueEvent",
    "SimState",
    "digest",
    "links_via",
]

_LINK_BASE: ContextVar[str | None] = ContextVar("simulator_link_base", default=None)


@contextmanager
def links_via(base: str | None) -> Iterator[None]:
    """Within the block, answers link to ``base`` (None: the site)."""
    token = _LINK_BASE.set(base)
    try:
        yield
    finally:
        _LINK_BASE.reset(token)


Flavour = Literal["cloud", "datacenter"]

CATEGORIES = {
    "new": StatusCategory(id=2, key="new", name="To Do", color="blue-gray"),
    "indeterminate": StatusCategory(id=4, key="indeterminate", name="In Progress", color="yellow"),
    "done": StatusCategory(id=3, key="done", name="Done", color="green"),
}


def digest(token: str) -> str:
    """SHA-256 of a token: the state never holds a token in clear."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class IssueEvent:
    """Something happened to an issue; webhooks turn it into a delivery."""

    webhook_event: str
    event_type: str
    issue: Issue
    user: User
    changelog: tuple[ChangeItem, ...] = ()
    comment_id: str | None = None
    changelog_id: str | None = None


@dataclass(kw_only=True)
class SimState:
    """Everything the simulated site holds. Built by ``seed.py`` or by tests."""

    flavour: Flavour
    clock: Clock
    site_url: str = "http://jira.local"
    gateway_url: str = "https://api.atlassian.com"
    statuses: dict[str, Status] = field(default_factory=dict)
    issue_types: dict[str, IssueType] = field(default_factory=dict)
    fields: dict[str, FieldDef] = field(default_factory=dict)
    priorities: dict[str, Priority] = field(default_factory=dict)
    resolutions: dict[str, Resolution] = field(default_factory=dict)
    projects: dict[str, Project] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    issues: dict[str, Issue] = field(default_factory=dict)
    denied: set[tuple[str, str, Permission]] = field(default_factory=set)
    listeners: list[Callable[[IssueEvent], None]] = field(default_factory=list)
    next_id: int = 10000
    hidden_emails: bool = False
    """Cloud users' profile visibility hides every ``emailAddress`` (search still finds them)."""
    reserved_ids: set[str] = field(default_factory=set)
    search_index: SearchIndex = field(init=False)

    def __post_init__(self) -> None:
        self.search_index = SearchIndex(self.clock, lambda: self.issues)

    @property
    def base_url(self) -> str:
        """Where the answer's links point: the site, or the API gateway when the call came
        through it (Cloud returns ``self`` links on the gateway host there)."""
        return _LINK_BASE.get() or self.site_url

    @property
    def cloud_id(self) -> str:
        """The site's cloudId (``/_edge/tenant_info``), stable for a site URL."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, self.site_url))

    @property
    def gateway_base(self) -> str:
        """``https://api.atlassian.com/ex/jira/{cloudId}``: the site through the gateway."""
        return f"{self.gateway_url}/ex/jira/{self.cloud_id}"

    # ---- ids -------------------------------------------------------------
    def new_id(self) -> str:
        """A fresh numeric id, unique across every kind of record (fixed seeded ones too)."""
        self.next_id += 1
        while str(self.next_id) in self.reserved_ids:
            self.next_id += 1
        return str(self.next_id)

    def reserve_ids(self) -> None:
        """Keep :meth:`new_id` off the seeded versions' ids (versions are also made at run
        time and looked up by id alone; other records live in tables of their own)."""
        self.reserved_ids |= {v.id for p in self.projects.values() for v in p.versions}

    def emit(self, event: IssueEvent) -> None:
        """Record an update's changelog in the issue's history, then tell every listener."""
        if event.changelog and event.webhook_event == "jira:issue_updated":
            history = History(
                id=self.new_id(),
                author=event.user.account_id,
                created=self.clock.now(),
                items=event.changelog,
            )
            event.issue.history.append(history)
            event = replace(event, changelog_id=history.id)
        for listener in self.listeners:
            listener(event)

    # ---- users and auth ----------------------------------------------------
    def add_user(
        self,
        *,
        name: str,
        email: str,
        display_name: str,
        token: str | None = None,
        admin: bool = False,
        account_id: str | None = None,
    ) -> User:
        """Add a user (with an API token/PAT if given) and return it."""
        account = account_id or hashlib.sha1(email.encode()).hexdigest()[:24]  # noqa: S324 - an id, not a secret
        user = User(
            account_id=account,
            name=name,
            key=f"JIRAUSER{self.new_id()}" if self.flavour == "datacenter" else name,
            email=email,
            display_name=display_name,
            admin=admin,
        )
        if token:
            user.token_digests.add(digest(token))
        self.users[account] = user
        return user

    def add_token(self, user: User, token: str, *, scoped: bool = False) -> None:
        (user.scoped_digests if scoped else user.token_digests).add(digest(token))

    def revoke_token(self, token: str) -> bool:
        """Revoke ``token`` wherever it is held; whether it was."""
        hit = False
        for user in self.users.values():
            for held in (user.token_digests, user.scoped_digests):
                if digest(token) in held:
                    held.discard(digest(token))
                    hit = True
        return hit

    def authenticate(
        self, login: str | None, token: str, *, via_gateway: bool = False
    ) -> User | None:
        """The active user whose token this is, or None.

        With Basic auth ``login`` must be the user's e-mail on Cloud (Cloud refuses
        usernames with API tokens) and the username on Data Center; a Bearer PAT
        (``login`` None) identifies the user by itself. A scoped token counts only
        through the gateway (``via_gateway``).
        """
        wanted = digest(token)
        for user in self.users.values():
            held = wanted in user.token_digests or (via_gateway and wanted in user.scoped_digests)
            if not held or not user.active:
                continue
            expected = user.email if self.flavour == "cloud" else user.name
            if login is None or login == expected:
                return user
        return None

    def user_ref(self, ref: str) -> User | None:
        """A user by account id (Cloud), username or key (Data Center), or e-mail."""
        if ref in self.users:
            return self.users[ref]
        return next(
            (u for u in self.users.values() if ref in (u.name, u.key, u.email)),
            None,
        )

    # ---- permissions -------------------------------------------------------
    def deny(self, user: User, project: Project, permission: Permission) -> None:
        self.denied.add((user.account_id, project.key, permission))

    def allow(self, user: User, project: Project, permission: Permission) -> None:
        self.denied.discard((user.account_id, project.key, permission))

    def can(self, user: User, project: Project, permission: Permission) -> bool:
        if (user.account_id, project.key, Permission.BROWSE) in self.denied:
            return False
        return (user.account_id, project.key, permission) not in self.denied

    def require(self, user: User, project: Project, permission: Permission, what: str) -> None:
        """Raise Jira's 403 unless ``user`` holds ``permission`` in ``project``."""
        if not self.can(user, project, permission):
            raise JiraHttpError(
                403,
                {
                    "errorMessages": [f"You do not have permission to {what} in this project."],
                    "errors": {},
                },
            )

    # ---- lookups -----------------------------------------------------------
    def project(self, ref: str, user: User | None = None) -> Project:
        """A project by key or id that ``user`` can browse; Jira's 404 otherwise."""
        found = self.projects.get(ref.upper()) or next(
            (p for p in self.projects.values() if p.id == ref), None
        )
        if found is None or (user is not None and not self.can(user, found, Permission.BROWSE)):
            raise not_found(f"No project could be found with key '{ref}'.")
        return found

    def project_by_id(self, project_id: str) -> Project:
        return next(p for p in self.projects.values() if p.id == project_id)

    def find_issue(self, ref: str) -> Issue | None:
        """An issue by id, key, or a key it had before it moved."""
        found = self._find_issue(ref)
        if found is not None:
            self.search_index.touch(found.id)  # the request may change it
        return found

    def _find_issue(self, ref: str) -> Issue | None:
        if ref.isdigit():
            return self.issues.get(ref)
        wanted = ref.upper()
        for issue in self.issues.values():
            if issue.key == wanted:
                return issue
        return next((i for i in self.issues.values() if wanted in i.previous_keys), None)

    def issue(self, ref: str, user: User | None = None) -> Issue:
        """An issue ``user`` can browse; Jira's 404 otherwise."""
        found = self.find_issue(ref)
        if found is None:
            raise not_found(self.missing_issue_message())
        if user is not None and not self.can(
            user, self.project_by_id(found.project_id), Permission.BROWSE
        ):
            raise not_found(self.missing_issue_message())
        return found

    def missing_issue_message(self) -> str:
        return ISSUE_NOT_FOUND if self.flavour == "cloud" else "Issue Does Not Exist"

    def version(self, project: Project, ref: dict[str, Any]) -> Version | None:
        for version in project.versions:
            if str(ref.get("id")) == version.id or ref.get("name") == version.name:
                return version
        return None

    def all_versions(self) -> dict[str, Version]:
        return {v.id: v for p in self.projects.values() for v in p.versions}

    def status_by_ref(self, ref: str) -> Status | None:
        return self.statuses.get(ref) or next(
            (s for s in self.statuses.values() if s.name.lower() == ref.lower()), None
        )
