"""The store side of syncing a link: in-flight pushes, and each sync outcome in one transaction.

A push records the value it is about to send (``payload["pushing"]`` of its
``link.push`` outbox item) BEFORE it calls Jira, and drops it in the same
transaction that stores the confirmed snapshot. So a Jira value equal to a
recorded one is recognised as our own echo even if the process died between
Jira's answer and the snapshot (the merge's ``in_flight``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from syncengine.store import work_kinds
from syncengine.store.audit import AuditRepository
from syncengine.store.database import Database
from syncengine.store.links import Snapshot
from syncengine.store.outbox import OutboxRepository, State
from syncengine.store.tables import AuditLog, ErrorGroup, IssueLink, OutboxItem
from syncengine.store.work_kinds import LINK_PULL, LINK_PUSH

__all__ = [
    "PULL_KIND",
    "AuditEntry",
    "GroupSyncView",
    "LinkSyncStore",
    "MergeInputs",
    "PollScope",
    "SyncWrite",
]

PUSH_KIND = LINK_PUSH
PULL_KIND = LINK_PULL
# Items that push link values (a regression pushes the reopened state).
PUSHING_KINDS = work_kinds.PUSHING_KINDS


@dataclass(frozen=True, kw_only=True, slots=True)
class GroupSyncView:
    """What syncing needs of a group."""

    id: int
    project_id: int
    state: str
    assignee: str | None
    resolve_rule: list[dict[str, Any]] | None
    resolved_at: datetime | None
    regression_count: int
    last_sync_error: str | None
    updated_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class MergeInputs:
    """The engine side of one merge, read in one transaction."""

    group: GroupSyncView
    pushing: list[dict[str, Any]]
    changed_at: dict[str, datetime]
    unreachable: tuple[dict[str, Any], ...] = ()
    # Status id -> state of each step on the way of an unconfirmed chained state push
    # (the running item's own too): Jira there is our own step, not a person's change.
    steps: dict[str, str] = field(default_factory=dict)
    # The running item's own unconfirmed push record (an earlier try of it may have landed).
    own: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class PollScope:
    """What the JQL poll of a project must cover."""

    links: int
    oldest: datetime | None
    moved_ids: tuple[str, ...]
    unseen_ids: tuple[str, ...] = ()
    """Linked issues to look for outside the project (moved while no webhook said so)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditEntry:
    """One audit line to write with a sync outcome."""

    actor: str
    action: str
    detail: dict[str, Any]


@dataclass(frozen=True, kw_only=True, slots=True)
class SyncWrite:
    """One sync outcome, written in one transaction by :meth:`LinkSyncStore.commit`.

    ``group`` sets columns of the group, but only while the columns in ``expect``
    still hold the values the decision was made on (a concurrent engine change
    wins: its own push merges again). ``confirm`` is (outbox item id, field)
    of a push Jira has accepted.
    """

    link_id: int
    group_id: int
    project_id: int
    now: datetime
    snapshot: Snapshot | None = None
    issue_key: str | None = None
    jira_updated_at: datetime | None = None
    group: dict[str, Any] = field(default_factory=dict)
    expect: dict[str, Any] = field(default_factory=dict)
    audits: tuple[AuditEntry, ...] = ()
    confirm: tuple[int, str] | None = None
    push_fields: tuple[str, ...] = ()
    expect_snapshot: Snapshot | None = None


def _still_fresh(link: IssueLink | None, write: SyncWrite) -> bool:
    """Whether the link still holds what ``write`` was decided on."""
    if write.expect_snapshot is not None and (
        link is None or _stored(link) != write.expect_snapshot
    ):
        return False  # another process synced the link meanwhile: merge again
    seen = link.jira_updated_at if link is not None else None
    # A newer issue was merged meanwhile: never store an older one.
    return write.jira_updated_at is None or seen is None or write.jira_updated_at >= seen


def _stored(row: IssueLink) -> Snapshot:
    return Snapshot(
        state=row.snapshot_state,
        status=row.snapshot_status,
        assignee=row.snapshot_assignee,
        fix_versions=tuple((row.snapshot_fix_versions or {}).get("names", [])),
    )


def _view(row: ErrorGroup) -> GroupSyncView:
    return GroupSyncView(
        id=row.id,
        project_id=row.project_id,
        state=row.state,
        assignee=row.assignee,
        resolve_rule=row.resolve_rule,
        resolved_at=row.resolved_at,
        regression_count=row.regression_count,
        last_sync_error=row.last_sync_error,
        updated_at=row.updated_at,
    )


class LinkSyncStore:
    """Reads and writes what the link-sync executor needs."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def group(self, group_id: int) -> GroupSyncView | None:
        """The group's sync-relevant values, or None when it is gone."""
        async with self._db.session() as session:
            row = await session.get(ErrorGroup, group_id)
            return None if row is None else _view(row)

    async def merge_inputs(
        self, group_id: int, *, exclude: int | None = None
    ) -> MergeInputs | None:
        """The group, its unconfirmed pushes, its change times and the targets its dead pushes
        found unreachable (``payload["unreachable"]``); None when the group is gone.

        ``exclude`` leaves out the item being run: its own earlier attempt is re-checked
        against Jira rather than trusted to have landed. A dead push is on its way nowhere:
        its values are not in flight.
        """
        async with self._db.session() as session:
            row = await session.get(ErrorGroup, group_id)
            if row is None:
                return None
            pushing, unreachable, steps, own = await _pushing(session, group_id, exclude)
            changed = await _changed_at(session, group_id)
            return MergeInputs(
                group=_view(row),
                pushing=pushing,
                changed_at=changed,
                unreachable=unreachable,
                steps=steps,
                own=own,
            )

    async def mark_pushing(self, item_id: int, field_name: str, value: Any) -> None:
        """Record that item ``item_id`` is about to send ``value`` for ``field_name``."""
        async with self._db.session() as session:
            row = await session.get(OutboxItem, item_id, with_for_update=self._db.is_postgres)
            if row is None:
                return
            payload = dict(row.payload)
            payload["pushing"] = {**dict(payload.get("pushing") or {}), field_name: value}
            row.payload = payload  # a new dict: JSON columns track assignment, not mutation

    async def mark_step(self, item_id: int, status_id: str, state: str | None) -> None:
        """Record that item ``item_id`` is about to take a step of a chained state push,
        to status ``status_id`` (``state`` there); kept until the state is confirmed."""
        async with self._db.session() as session:
            row = await session.get(OutboxItem, item_id, with_for_update=self._db.is_postgres)
            if row is None or state is None:
                return
            steps = {**dict(row.payload.get("steps") or {}), status_id: state}
            row.payload = {**row.payload, "steps": steps}

    async def poll_scope(self, project_id: int, project_key: str) -> PollScope:
        """How many links the project has, the oldest one's time, and the moved-away issues."""
        async with self._db.session() as session:
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(IssueLink.created_at)).where(
                        IssueLink.project_id == project_id
                    )
                )
            ).one()
            moved = await session.scalars(
                select(IssueLink.jira_issue_id).where(
                    IssueLink.project_id == project_id,
                    ~IssueLink.jira_issue_key.like(f"{project_key}-%"),
                )
            )
            return PollScope(links=int(count), oldest=oldest, moved_ids=tuple(moved))

    async def linked_issues_after(
        self, project_id: int, *, after: int, limit: int
    ) -> list[tuple[int, str]]:
        """``(link id, issue id)`` of the project's links past link ``after``, by link id."""
        async with self._db.session() as session:
            rows = await session.execute(
                select(IssueLink.id, IssueLink.jira_issue_id)
                .where(IssueLink.project_id == project_id, IssueLink.id > after)
                .order_by(IssueLink.id)
                .limit(limit)
            )
            return [(int(link_id), str(issue_id)) for link_id, issue_id in rows]

    async def unlink(
        self, link_id: int, *, group_id: int, project_id: int, detail: dict[str, Any], now: datetime
    ) -> bool:
        """Forget a link whose issue was deleted in Jira (the group stays), audited."""
        async with self._db.session() as session:
            link = await session.get(IssueLink, link_id)
            if link is None:
                return False
            await session.delete(link)
            AuditRepository.add(
                session,
                actor="sync",
                action="link.deleted",
                detail=detail,
                now=now,
                project_id=project_id,
                group_id=group_id,
            )
            return True

    async def queue_pull(self, *, project_id: int, group_id: int, now: datetime) -> bool:
        """Queue a ``link.pull`` of the group (merge Jira's issue later); False if one waits."""
        async with self._db.session() as session:
            waiting = await session.scalar(
                select(OutboxItem.id).where(
                    OutboxItem.group_id == group_id,
                    OutboxItem.kind == PULL_KIND,
                    OutboxItem.state == State.PENDING,
                )
            )
            if waiting is not None:
                return False
            OutboxRepository.add(
                session,
                project_id=project_id,
                group_id=group_id,
                kind=PULL_KIND,
                payload={"actor": "webhook"},
                now=now,
            )
            return True

    async def note(self, item_id: int, key: str, value: Any) -> None:
        """Remember a finished step of a multi-step item (``payload[key] = value``)."""
        async with self._db.session() as session:
            row = await session.get(OutboxItem, item_id, with_for_update=self._db.is_postgres)
            if row is not None:
                row.payload = {**dict(row.payload), key: value}

    async def set_error(self, group_id: int, error: str | None, *, now: datetime) -> None:
        """Show ``error`` on the group (None clears it)."""
        async with self._db.session() as session:
            await session.execute(
                update(ErrorGroup)
                .where(ErrorGroup.id == group_id)
                .values(last_sync_error=error[:4000] if error else None, updated_at=now)
            )

    async def commit(self, write: SyncWrite) -> bool:
        """Apply ``write`` in one transaction; False (nothing written) if an expectation fails."""
        async with self._db.session() as session:
            link = await session.get(IssueLink, write.link_id, with_for_update=self._db.is_postgres)
            if not _still_fresh(link, write):
                return False
            if write.group:
                query = update(ErrorGroup).where(ErrorGroup.id == write.group_id)
                for column, value in write.expect.items():
                    attr = getattr(ErrorGroup, column)
                    query = query.where(attr.is_(None) if value is None else attr == value)
                result = await session.execute(query.values(**write.group, updated_at=write.now))
                if not result.rowcount:  # type: ignore[attr-defined]
                    return False  # nothing was written yet: the empty transaction commits
            if link is not None and write.snapshot is not None:
                snap = write.snapshot
                link.snapshot_state = snap.state
                link.snapshot_status = snap.status
                link.snapshot_assignee = snap.assignee
                link.snapshot_fix_versions = {"names": list(snap.fix_versions)}
                link.synced_at = write.now
            if link is not None and write.issue_key is not None:
                link.jira_issue_key = write.issue_key
                await _backlink_moved(session, link, write.now)
            if link is not None and write.jira_updated_at is not None:
                link.jira_updated_at = write.jira_updated_at
            if write.confirm is not None:
                await _confirmed(session, *write.confirm)
            if write.push_fields:
                pending = await session.scalar(
                    select(OutboxItem.id).where(
                        OutboxItem.group_id == write.group_id,
                        OutboxItem.kind == PUSH_KIND,
                        OutboxItem.state == State.PENDING,
                    )
                )
                if pending is None:
                    OutboxRepository.add(
                        session,
                        project_id=write.project_id,
                        group_id=write.group_id,
                        kind=PUSH_KIND,
                        payload={"fields": list(write.push_fields), "actor": "sync"},
                        now=write.now,
                    )
            for entry in write.audits:
                AuditRepository.add(
                    session,
                    actor=entry.actor,
                    action=entry.action,
                    detail=entry.detail,
                    now=write.now,
                    project_id=write.project_id,
                    group_id=write.group_id,
                )
            return True


async def _backlink_moved(session: AsyncSession, link: IssueLink, now: datetime) -> None:
    """A followed move gets the back-link once, when the link never had one."""
    if link.backlinked_at is not None:
        return
    queued = await session.scalar(
        select(OutboxItem.id).where(
            OutboxItem.group_id == link.group_id,
            OutboxItem.kind == work_kinds.LINK_BACKLINK,
        )
    )
    if queued is None:
        OutboxRepository.add(
            session,
            project_id=link.project_id,
            group_id=link.group_id,
            kind=work_kinds.LINK_BACKLINK,
            payload={"link_id": link.id, "issue_id": link.jira_issue_id, "moved": True},
            now=now,
        )


async def _confirmed(session: AsyncSession, item_id: int, name: str) -> None:
    """The item's push of ``name`` is in Jira: no longer on its way (nor its steps)."""
    item = await session.get(OutboxItem, item_id)
    if item is not None and isinstance(item.payload.get("pushing"), dict):
        payload = dict(item.payload)
        pushing = dict(payload["pushing"])
        pushing.pop(name, None)
        payload["pushing"] = pushing
        if name == "state":
            payload.pop("steps", None)
        item.payload = payload


async def _pushing(
    session: AsyncSession, group_id: int, exclude: int | None
) -> tuple[list[dict[str, Any]], tuple[dict[str, Any], ...], dict[str, str], dict[str, Any]]:
    """Other items' unconfirmed pushes, dead items' unreachable states, every live item's
    chained steps (``exclude``'s too: its own step is not someone's change) and
    ``exclude``'s own push record."""
    query = select(OutboxItem.id, OutboxItem.state, OutboxItem.payload).where(
        OutboxItem.group_id == group_id,
        OutboxItem.kind.in_(PUSHING_KINDS),
        OutboxItem.state.in_(State.UNFINISHED),
    )
    pushing: list[dict[str, Any]] = []
    unreachable: list[dict[str, Any]] = []
    steps: dict[str, str] = {}
    own: dict[str, Any] = {}
    for item_id, state, payload in await session.execute(query.order_by(OutboxItem.id)):
        if state == State.DEAD:
            if isinstance(payload.get("unreachable"), dict) and item_id != exclude:
                unreachable.append(dict(payload["unreachable"]))
            continue
        if isinstance(payload.get("steps"), dict):
            steps.update(payload["steps"])
        if isinstance(payload.get("pushing"), dict):
            if item_id == exclude:
                own = dict(payload["pushing"])
            else:
                pushing.append(dict(payload["pushing"]))
    return pushing, tuple(unreachable), steps, own


async def _changed_at(session: AsyncSession, group_id: int) -> dict[str, datetime]:
    rows = await session.execute(
        select(AuditLog.action, func.max(AuditLog.created_at))
        .where(
            AuditLog.group_id == group_id,
            AuditLog.action.in_(("group.state", "group.assignee")),
        )
        .group_by(AuditLog.action)
    )
    return {str(action).removeprefix("group."): at for action, at in rows}
