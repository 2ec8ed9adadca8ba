"""What the group API and pages show of a group, loaded once for both.

A group is always looked up under a project (API) or on its own (pages);
:func:`load_detail` raises NotFound when it is not where it was asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from syncengine.bootstrap import Container
from syncengine.domain.groups import GroupSnapshot
from syncengine.errors import ConfigError, NotFound
from syncengine.jira.config import site_of
from syncengine.store.audit import AuditEntry
from syncengine.store.history import DayCount, load_history
from syncengine.store.links import LinkRecord

__all__ = ["MAX_TOP", "AttributeShare", "GroupDetail", "issue_url", "load_detail"]

MAX_TOP = 100
HISTORY_DAYS = 30
_MAX_ID = 2**63 - 1


@dataclass(frozen=True, kw_only=True, slots=True)
class AttributeShare:
    """One value of an attribute: how many of the group's reports carried it, and their share."""

    value: str
    count: int
    share: float  # of all the group's reports, 0..1
    last_seen: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class GroupDetail:
    """A group with its top attribute values, Jira link, resolution and audit trail."""

    group: GroupSnapshot
    attributes: dict[str, list[AttributeShare]]
    link: LinkRecord | None
    issue_url: str | None
    resolve_rule: list[dict[str, Any]] | None
    resolved_at: datetime | None
    audit: list[AuditEntry]
    history: list[DayCount]


def issue_url(container: Container, project_slug: str, key: str) -> str | None:
    """The browser address of Jira issue ``key``: under the site, never under a REST root or
    the API gateway (None when the project has no usable Jira URL)."""
    project = container.settings.projects.get(project_slug)
    if project is None or not project.jira.url:
        return None
    try:
        site = site_of(project.jira.url, project.jira.site_url)
    except ConfigError:
        return None  # doctor and the start-up check say what is wrong with the URL
    return f"{site}/browse/{quote(key, safe='')}" if site else None


async def load_detail(
    container: Container, group_id: int, *, project: str | None = None, top: int = 10
) -> GroupDetail:
    """Everything the group page shows; raises NotFound (also for another project's group)."""
    missing = NotFound(
        f"project {project!r} has no group {group_id}" if project else f"no error group {group_id}"
    )
    if not 0 < group_id <= _MAX_ID:
        raise missing
    try:
        group = await container.groups.snapshot(group_id, top=top)
    except NotFound as exc:
        raise missing from exc
    if project is not None and group.project != project:
        raise missing
    total = max(group.count, 1)
    attributes = {
        name: [
            AttributeShare(
                value=v.value, count=v.count, share=v.count / total, last_seen=v.last_seen
            )
            for v in values
        ]
        for name, values in sorted(group.attributes.items())
    }
    link = await container.links.for_group(group_id)
    resolution = await container.sync.store.group(group_id) if container.sync else None
    return GroupDetail(
        group=group,
        attributes=attributes,
        link=link,
        issue_url=issue_url(container, group.project, link.issue_key) if link else None,
        resolve_rule=resolution.resolve_rule if resolution else None,
        resolved_at=resolution.resolved_at if resolution else None,
        audit=await container.audit.for_group(group_id, limit=50),
        history=await load_history(
            container.db, group_id, days=HISTORY_DAYS, today=container.clock().date()
        ),
    )
