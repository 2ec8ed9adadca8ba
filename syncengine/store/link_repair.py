"""What a successful poll repairs in a project's link syncs (issue 19: one poll cycle).

A poll that got Jira's answer is proof that Jira answers again, so:

- link syncs (``link.push``, ``link.pull``, ``link.regression``) waiting on a backoff
  after failures are due now (a much-failed item would otherwise wait up to the
  15-minute backoff cap, longer than the poll period);
- a link whose last push died because it ran out of attempts on passing failures
  (``payload["exhausted"]``, set by the worker) and was not followed by any later push
  gets a new ``link.push``: it merges the group with Jira's current issue under the
  conflict policy and pushes what the engine changed. The dead item stays for the
  operator. A push that died for good (a state no path reaches, an unmapped user) is
  not queued again: the next poll would only meet the same refusal;
- a regression that was replacing the group's issue with a new one (``new_issue_for``
  noted) and ran out of attempts the same way is queued again as a ``link.regression``
  with what it had noted, unless a later regression of the group followed it: it resumes
  the replacement (a create already sent is found by its identity first), so the group
  gets its new issue and its later pushes do not go to the old one (a push merged
  instead would update the old issue, or find no link once the old one was detached).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from syncengine.store.database import Database
from syncengine.store.outbox import OutboxRepository, State
from syncengine.store.tables import IssueLink, OutboxItem
from syncengine.store.work_kinds import LATEST_WINS, LINK_PUSH, LINK_REGRESSION, PUSHING_KINDS

__all__ = ["LinkRepair", "Repaired"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Repaired:
    """What :meth:`LinkRepair.after_poll` did: items made due, pushes queued again."""

    woken: int = 0
    requeued: int = 0


class LinkRepair:
    """Wakes backed-off link syncs and re-queues exhausted pushes of a project."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def after_poll(self, project_id: int, *, now: datetime) -> Repaired:
        """Repair project ``project_id``'s link syncs (see the module docstring)."""
        async with self._db.session() as session:
            woken = await session.execute(
                update(OutboxItem)
                .where(
                    OutboxItem.project_id == project_id,
                    OutboxItem.kind.in_(LATEST_WINS),
                    OutboxItem.state == State.PENDING,
                    OutboxItem.attempts > 0,
                    OutboxItem.next_attempt_at > now,
                )
                .values(next_attempt_at=now)
            )
            later = aliased(OutboxItem)
            superseded = exists().where(
                later.group_id == OutboxItem.group_id,
                later.id > OutboxItem.id,
                later.kind.in_(PUSHING_KINDS),
            )
            linked = exists().where(IssueLink.group_id == OutboxItem.group_id)
            dead = await session.execute(
                select(OutboxItem.group_id, OutboxItem.payload).where(
                    OutboxItem.project_id == project_id,
                    OutboxItem.kind.in_(PUSHING_KINDS),
                    OutboxItem.state == State.DEAD,
                    OutboxItem.group_id.is_not(None),
                    linked,
                    ~superseded,
                )
            )
            requeued = await self._resume_replacements(session, project_id, now=now)
            for group_id, payload in dead:
                if payload.get("exhausted") is not True or "unreachable" in payload:
                    continue
                if payload.get("new_issue_for"):
                    continue  # a replacement: resumed above, never pushed to the old issue
                OutboxRepository.add(
                    session,
                    project_id=project_id,
                    group_id=group_id,
                    kind=LINK_PUSH,
                    payload={"fields": ["state", "assignee"], "actor": "sync", "repair": True},
                    now=now,
                )
                requeued += 1
            return Repaired(
                woken=int(woken.rowcount),  # type: ignore[attr-defined]
                requeued=requeued,
            )

    @staticmethod
    async def _resume_replacements(session: AsyncSession, project_id: int, *, now: datetime) -> int:
        """Queue again each exhausted replacement no later regression followed."""
        later = aliased(OutboxItem)
        followed = exists().where(
            later.group_id == OutboxItem.group_id,
            later.id > OutboxItem.id,
            later.kind == LINK_REGRESSION,
        )
        dead = await session.execute(
            select(OutboxItem.group_id, OutboxItem.payload, IssueLink.jira_issue_key)
            .outerjoin(IssueLink, IssueLink.group_id == OutboxItem.group_id)
            .where(
                OutboxItem.project_id == project_id,
                OutboxItem.kind == LINK_REGRESSION,
                OutboxItem.state == State.DEAD,
                OutboxItem.group_id.is_not(None),
                ~followed,
            )
        )
        resumed = 0
        for group_id, payload, link in dead:
            if payload.get("exhausted") is not True or not payload.get("new_issue_for"):
                continue
            if link not in (None, payload["new_issue_for"]) and not payload.get("created"):
                continue  # linked to another issue since (by a person): nothing to replace
            again = {k: v for k, v in payload.items() if k != "exhausted"}
            OutboxRepository.add(
                session,
                project_id=project_id,
                group_id=group_id,
                kind=LINK_REGRESSION,
                payload={**again, "repair": True},
                now=now,
            )
            resumed += 1
        return resumed
