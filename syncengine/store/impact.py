"""What the impact refresh reads (linked groups due a look, their statistics) and writes
(what it wrote to each issue, and when), and the back-link marks of links."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from syncengine.domain.impact import ImpactFacts, order_versions
from syncengine.errors import NotFound
from syncengine.store.database import Database
from syncengine.store.outbox import State
from syncengine.store.tables import (
    AttributeCount,
    AttributeName,
    ErrorGroup,
    GroupDayCount,
    IssueLink,
    OutboxItem,
)
from syncengine.store.work_kinds import LINK_PULL, LINK_PUSH, LINK_REGRESSION, TICKET_CREATE

__all__ = ["USER_ATTRIBUTES", "ImpactCandidate", "ImpactRepository", "ImpactWritten"]

USER_ATTRIBUTES = ("user.id", "user.email")
"""Affected users: distinct ``user.id`` values, else distinct ``user.email`` values."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ImpactWritten:
    """The impact last written to a linked issue: when, on which facts, which values."""

    at: datetime
    facts: ImpactFacts | None
    fields: dict[str, Any]
    # The values of a write sent since, whose answer never came (it may have landed).
    sending: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class ImpactCandidate:
    """A linked group whose impact may be due a write, with its facts now."""

    link_id: int
    group_id: int
    issue_id: str
    issue_key: str
    facts: ImpactFacts
    written: ImpactWritten | None


def _written(row: IssueLink) -> ImpactWritten | None:
    if row.impact_written_at is None:
        return None
    data = row.impact_written or {}
    try:
        facts = ImpactFacts.from_json(data.get("facts") or {})
    except (KeyError, TypeError, ValueError):
        facts = None
    return ImpactWritten(
        at=row.impact_written_at,
        facts=facts,
        fields=dict(data.get("fields") or {}),
        sending=dict(data.get("sending") or {}),
    )


def _facts(
    group: ErrorGroup, users: dict[int, int], versions: dict[int, list[str]], url: str
) -> ImpactFacts:
    return ImpactFacts(
        count=group.count,
        affected_users=users.get(group.id, 0),
        last_seen=group.last_seen,
        first_version=group.first_version,
        last_version=group.last_version,
        versions=order_versions(versions.get(group.id, ())),
        regression_count=group.regression_count,
        state=group.state,
        url=url,
    )


class ImpactRepository:
    """Reads groups' impact and records what was written to their issues."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def sync_due(self, project_id: int, *, now: datetime) -> bool:
        """True while a create or a state sync of the project is due (those go first)."""
        async with self._db.session() as session:
            found = await session.scalar(
                select(OutboxItem.id)
                .where(
                    OutboxItem.project_id == project_id,
                    OutboxItem.kind.in_((TICKET_CREATE, LINK_PUSH, LINK_PULL, LINK_REGRESSION)),
                    OutboxItem.state.in_((State.PENDING, State.RUNNING)),
                    OutboxItem.next_attempt_at <= now,
                )
                .limit(1)
            )
            return found is not None

    async def candidates(
        self, project_id: int, *, written_before: datetime, limit: int, url_of: Any
    ) -> list[ImpactCandidate]:
        """Linked groups never written, or written before ``written_before`` and changed since.

        Biggest groups first; ``url_of(group_id)`` gives the group page's address.
        """
        async with self._db.session() as session:
            rows = (
                await session.execute(
                    select(IssueLink, ErrorGroup)
                    .join(ErrorGroup, ErrorGroup.id == IssueLink.group_id)
                    .where(
                        IssueLink.project_id == project_id,
                        or_(
                            IssueLink.impact_written_at.is_(None),
                            and_(
                                IssueLink.impact_written_at <= written_before,
                                ErrorGroup.updated_at >= IssueLink.impact_written_at,
                            ),
                        ),
                    )
                    .order_by(ErrorGroup.count.desc(), ErrorGroup.id)
                    .limit(limit)
                )
            ).all()
            group_ids = [group.id for _, group in rows]
            users = await self._users(session, group_ids)
            versions = await self._versions(session, group_ids)
            return [
                ImpactCandidate(
                    link_id=link.id,
                    group_id=group.id,
                    issue_id=link.jira_issue_id,
                    issue_key=link.jira_issue_key,
                    facts=_facts(group, users, versions, url_of(group.id)),
                    written=_written(link),
                )
                for link, group in rows
            ]

    async def facts(self, group_id: int, *, url: str) -> ImpactFacts:
        """The group's impact now; raises NotFound for an unknown group."""
        async with self._db.session() as session:
            group = await session.get(ErrorGroup, group_id)
            if group is None:
                raise NotFound(f"there is no error group {group_id}")
            users = await self._users(session, [group_id])
            versions = await self._versions(session, [group_id])
            return _facts(group, users, versions, url)

    @staticmethod
    async def _users(session: Any, group_ids: list[int]) -> dict[int, int]:
        if not group_ids:
            return {}
        rows = await session.execute(
            select(AttributeCount.group_id, AttributeName.name, func.count())
            .join(AttributeName, AttributeName.id == AttributeCount.attribute_id)
            .where(AttributeCount.group_id.in_(group_ids), AttributeName.name.in_(USER_ATTRIBUTES))
            .group_by(AttributeCount.group_id, AttributeName.name)
        )
        counts: dict[int, dict[str, int]] = {}
        for group_id, name, count in rows:
            counts.setdefault(int(group_id), {})[str(name)] = int(count)
        return {
            gid: next((by[name] for name in USER_ATTRIBUTES if by.get(name)), 0)
            for gid, by in counts.items()
        }

    @staticmethod
    async def _versions(session: Any, group_ids: list[int]) -> dict[int, list[str]]:
        if not group_ids:
            return {}
        rows = await session.execute(
            select(GroupDayCount.group_id, GroupDayCount.version)
            .where(GroupDayCount.group_id.in_(group_ids), GroupDayCount.version != "")
            .distinct()
        )
        found: dict[int, list[str]] = {}
        for group_id, version in rows:
            found.setdefault(int(group_id), []).append(str(version))
        return found

    async def record(
        self,
        link_id: int,
        *,
        facts: ImpactFacts,
        fields: dict[str, Any],
        now: datetime,
        names: dict[str, str] | None = None,
    ) -> None:
        """Remember what was written to the link's issue (the next refresh compares to it);
        ``names`` are the fields' names, for the dashboard."""
        async with self._db.session() as session:
            await session.execute(
                update(IssueLink)
                .where(IssueLink.id == link_id)
                .values(
                    impact_written={
                        "facts": facts.as_json(),
                        "fields": fields,
                        "names": names or {},
                    },
                    impact_written_at=now,
                )
            )

    async def note_sending(self, link_id: int, fields: dict[str, Any]) -> None:
        """Note the values about to be written to the link's issue, before they are sent: if
        the answer is lost, the next refresh takes them for ours, not for a person's edit."""
        async with self._db.session() as session:
            row = await session.get(IssueLink, link_id)
            if row is not None:
                row.impact_written = {**(row.impact_written or {}), "sending": fields}

    async def written(self, group_id: int) -> ImpactWritten | None:
        """What was last written to the group's issue (the dashboard shows it)."""
        async with self._db.session() as session:
            row = await session.scalar(select(IssueLink).where(IssueLink.group_id == group_id))
            return None if row is None else _written(row)

    async def mark_backlinked(self, link_id: int, *, now: datetime) -> None:
        """The link's back-link (comment and remote link) is in Jira."""
        async with self._db.session() as session:
            await session.execute(
                update(IssueLink).where(IssueLink.id == link_id).values(backlinked_at=now)
            )
