"""A group's issue in Jira, found by its identity through reads that can be trusted.

Every issue the engine creates carries its group's identity twice: the label
``syncengine-<key>`` (JQL finds it) and the issue property ``syncengine``
(``{"group": key, "project": slug, "group_id": id}``, set atomically with the
create). Labels can be typed by anyone with edit rights, so a label only
*nominates* an issue: it is the group's only when its property names the same
group key and project and it sits in the project's Jira project.

Two read paths, because Cloud's JQL search lags writes by seconds to minutes:

1. issues this process created but could not link (the link's write failed) are
   read with ``GET /issue/{id}``, which is always current, and also named in the
   search's ``reconcileIssues``;
2. a JQL search by label, with the property returned beside each issue; each hit
   is read again with ``GET`` (the search's copy can be minutes old) and kept only
   when it still carries both label and property.

What the search cannot see yet is the caller's problem: it must wait out the
consistency window before trusting a miss (see :mod:`syncengine.sync.tickets`).

One group's failed read is that group's alone: :func:`find_issues` answers which
groups it could not decide (and why) beside the issues it found, so a 503 on one
candidate issue never holds back the other groups of a batch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from syncengine.domain.fields import identity_label
from syncengine.jira import jql
from syncengine.jira.client import JiraClient
from syncengine.jira.errors import JiraError, JiraNotFound
from syncengine.jira.models import JiraIssue
from syncengine.jira.search import RECONCILE_LIMIT

__all__ = [
    "IDENTITY_PROPERTY",
    "LOOKUP_FIELDS",
    "Found",
    "Identity",
    "find_issues",
    "identity_of",
    "owns",
]

IDENTITY_PROPERTY = "syncengine"
LOOKUP_FIELDS = (
    "status",
    "assignee",
    "fixVersions",
    "labels",
    "updated",
    "created",
    "resolution",
    "project",
)
_LABELS_PER_QUERY = 50  # keeps the JQL short; one search per 50 groups


@dataclass(frozen=True, kw_only=True, slots=True)
class Identity:
    """Who an issue must say it belongs to: the group key and the engine's project slug."""

    key: str
    slug: str
    group_id: int

    @property
    def label(self) -> str:
        return identity_label(self.key)


def identity_of(issue: JiraIssue) -> dict[str, Any] | None:
    """The identity property on ``issue`` (Data Center may hand it back as JSON text)."""
    value = issue.properties.get(IDENTITY_PROPERTY)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def owns(issue: JiraIssue, identity: Identity, project_key: str) -> bool:
    """True when ``issue`` is ``identity``'s: property and Jira project agree, not a label alone."""
    found = identity_of(issue)
    if found is None or found.get("group") != identity.key or found.get("project") != identity.slug:
        return False
    in_project = issue.project_key or issue.key.rpartition("-")[0]
    return in_project.upper() == project_key.upper()


@dataclass(frozen=True, kw_only=True, slots=True)
class Found:
    """What a lookup decided, by group id.

    ``issues``: the group's issue (the oldest if several). ``failed``: the groups the
    lookup could not decide because a read of theirs failed (a group there may have an
    issue: it must not be created for yet).
    """

    issues: dict[int, JiraIssue]
    failed: dict[int, JiraError]


def _oldest(issues: Sequence[JiraIssue]) -> JiraIssue:
    return min(issues, key=lambda i: int(i.id) if i.id.isdigit() else 0)


async def find_issues(
    client: JiraClient,
    project_key: str,
    identities: Sequence[Identity],
    *,
    remembered: Mapping[int, str] | None = None,
) -> Found:
    """The issue each of ``identities`` already has, and the groups it could not decide.

    ``remembered``: group id → issue id of issues this process knows it created.
    A failed read fails only the groups it was for: the read of one candidate issue
    that group, one search its chunk of identities (a missing remembered issue is no
    error). Raises nothing from Jira.
    """
    remembered = remembered or {}
    owners: dict[int, list[JiraIssue]] = {}
    failed: dict[int, JiraError] = {}
    by_group = {i.group_id: i for i in identities}
    for group_id, issue_id in remembered.items():
        identity = by_group.get(group_id)
        if identity is None:
            continue
        try:
            issue = await client.get_issue(
                issue_id, fields=LOOKUP_FIELDS, properties=(IDENTITY_PROPERTY,)
            )
        except JiraNotFound:
            continue  # deleted since: the search decides
        except JiraError as exc:
            failed[group_id] = exc
            continue
        if owns(issue, identity, project_key):
            owners.setdefault(group_id, []).append(issue)
    reconcile = [v for k, v in remembered.items() if k in by_group][:RECONCILE_LIMIT]
    nominated = await _nominated(client, project_key, identities, reconcile, failed)
    for issue_id, identity in nominated.items():
        if identity.group_id in failed or any(
            k.id == issue_id for k in owners.get(identity.group_id, ())
        ):
            continue
        # The search's copy may be minutes old (a label removed since, a property changed):
        # what decides is the issue as Jira has it now.
        try:
            current = await client.get_issue(
                issue_id, fields=LOOKUP_FIELDS, properties=(IDENTITY_PROPERTY,)
            )
        except JiraNotFound:
            continue
        except JiraError as exc:
            failed[identity.group_id] = exc
            continue
        if identity.label in current.labels and owns(current, identity, project_key):
            owners.setdefault(identity.group_id, []).append(current)
    # A group with an undecided candidate is undecided: the one it did not read may be older.
    issues = {g: _oldest(found) for g, found in owners.items() if g not in failed}
    return Found(issues=issues, failed=failed)


async def _nominated(
    client: JiraClient,
    project_key: str,
    identities: Sequence[Identity],
    reconcile: list[str],
    failed: dict[int, JiraError],
) -> dict[str, Identity]:
    """Issue ids the search says carry one of the identities (label and property), by id.

    A search that fails marks its chunk's groups in ``failed``; the other chunks go on.
    """
    by_label = {i.label: i for i in identities}
    labels = list(by_label)
    found: dict[str, Identity] = {}
    for start in range(0, len(labels), _LABELS_PER_QUERY):
        chunk = labels[start : start + _LABELS_PER_QUERY]
        query = (
            f"project = {jql.quote(project_key)} AND labels in {jql.values(chunk)} "
            "ORDER BY created ASC"
        )
        try:
            async for issue in client.search(
                query, fields=LOOKUP_FIELDS, properties=(IDENTITY_PROPERTY,), reconcile=reconcile
            ):
                for label in issue.labels:
                    identity = by_label.get(label)
                    if identity is not None and owns(issue, identity, project_key):
                        found.setdefault(issue.id, identity)
        except JiraError as exc:  # what the chunk found before it failed is skipped as failed
            for label in chunk:
                failed.setdefault(by_label[label].group_id, exc)
    return found
