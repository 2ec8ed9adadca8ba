"""Support requests, their attachments and the Jira comments pulled back for them.

A request is filed in ONE transaction with its attachments and the outbox item
that will create its Jira issue (:meth:`SupportRepository.file`): once the call
returns, nothing the user sent can be lost, whatever Jira does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from syncengine.errors import NotFound
from syncengine.store.database import Database
from syncengine.store.outbox import OutboxRepository
from syncengine.store.tables import Attachment, Comment, SupportRequest
from syncengine.store.work_kinds import SUPPORT_COMMENT, SUPPORT_CREATE

__all__ = [
    "COMMENT_KIND",
    "CREATE_KIND",
    "AttachmentFile",
    "AttachmentInfo",
    "CommentRecord",
    "JiraCommentData",
    "NewAttachment",
    "NewSupportRequest",
    "ReplyRecord",
    "SupportRepository",
    "SupportRequestRecord",
]

CREATE_KIND = SUPPORT_CREATE
COMMENT_KIND = SUPPORT_COMMENT


@dataclass(frozen=True, kw_only=True, slots=True)
class NewAttachment:
    """A file a user attached, as received (already checked against the limits)."""

    filename: str
    content_type: str
    content: bytes
    sha256: str


@dataclass(frozen=True, kw_only=True, slots=True)
class NewSupportRequest:
    """A support request as the portal accepted it (already validated)."""

    project_id: int
    reporter: str
    label: str
    summary: str
    description: str
    category: str = ""
    api_product: str = ""
    endpoint: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class AttachmentInfo:
    """An attachment without its content."""

    id: int
    support_request_id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    jira_attachment_id: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class AttachmentFile:
    """An attachment with its content."""

    info: AttachmentInfo
    content: bytes


@dataclass(frozen=True, kw_only=True, slots=True)
class CommentRecord:
    """A comment on a support request's issue, as text: written in Jira, or a portal reply
    (``from_portal``), which is ``pending`` until Jira has it."""

    jira_comment_id: str
    author: str
    body: str
    created_at: datetime
    updated_at: datetime
    from_portal: bool = False

    @property
    def pending(self) -> bool:
        """A portal reply Jira does not have yet."""
        return self.from_portal and not self.jira_comment_id


@dataclass(frozen=True, kw_only=True, slots=True)
class ReplyRecord:
    """A requester's portal reply, as the ``support.comment`` handler sends it."""

    id: int
    support_request_id: int
    author: str
    body: str
    jira_comment_id: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class JiraCommentData:
    """A comment as Jira reported it (input of :meth:`SupportRepository.apply_pull`)."""

    id: str
    author: str
    body: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class SupportRequestRecord:
    """A support request as the rest of the engine sees it."""

    id: int
    project_id: int
    reporter: str
    label: str
    summary: str
    description: str
    category: str
    api_product: str
    endpoint: str
    jira_issue_id: str | None
    jira_issue_key: str | None
    jira_status: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def identity_label(self) -> str:
        """The Jira label that identifies this request's issue (exactly-once create)."""
        return identity_label(self.id)


def identity_label(request_id: int) -> str:
    """The identity label of support request ``request_id``."""
    return f"syncengine-sr-{request_id}"


def _record(row: SupportRequest) -> SupportRequestRecord:
    return SupportRequestRecord(
        id=row.id,
        project_id=row.project_id,
        reporter=row.reporter,
        label=row.label,
        summary=row.summary,
        description=row.description,
        category=row.category,
        api_product=row.api_product,
        endpoint=row.endpoint,
        jira_issue_id=row.jira_issue_id,
        jira_issue_key=row.jira_issue_key,
        jira_status=row.jira_status,
        last_error=row.last_error,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _info(row: Attachment) -> AttachmentInfo:
    assert row.support_request_id is not None
    return AttachmentInfo(
        id=row.id,
        support_request_id=row.support_request_id,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        jira_attachment_id=row.jira_attachment_id,
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SupportRepository:
    """Reads and writes support requests, attachments and comments."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def file(
        self, request: NewSupportRequest, attachments: list[NewAttachment], *, now: datetime
    ) -> SupportRequestRecord:
        """Store the request, its attachments and its ``support.create`` outbox item at once."""
        async with self._db.session() as session:
            row = SupportRequest(
                project_id=request.project_id,
                reporter=request.reporter,
                label=request.label,
                summary=request.summary,
                description=request.description,
                category=request.category,
                api_product=request.api_product,
                endpoint=request.endpoint,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            await session.flush()
            for attachment in attachments:
                session.add(
                    Attachment(
                        support_request_id=row.id,
                        filename=attachment.filename,
                        content_type=attachment.content_type,
                        size=len(attachment.content),
                        sha256=attachment.sha256,
                        content=attachment.content,
                        created_at=now,
                    )
                )
            OutboxRepository.add(
                session,
                project_id=request.project_id,
                kind=CREATE_KIND,
                payload={"support_request_id": row.id},
                now=now,
                support_request_id=row.id,
            )
            return _record(row)

    async def get(self, request_id: int) -> SupportRequestRecord | None:
        """One request by id."""
        async with self._db.session() as session:
            row = await session.get(SupportRequest, request_id)
            return None if row is None else _record(row)

    async def page(
        self,
        *,
        project_id: int,
        reporter: str | None = None,
        search: str = "",
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[SupportRequestRecord], int]:
        """A page of a project's requests, newest update first, and how many match in all.

        ``reporter`` limits to one user's requests; ``search`` matches the Jira key
        (exactly, ignoring case) or a part of the summary.
        """
        where: list[Any] = [SupportRequest.project_id == project_id]
        if reporter is not None:
            where.append(SupportRequest.reporter == reporter)
        term = search.strip()
        if term:
            pattern = f"%{_escape_like(term.lower())}%"
            where.append(
                or_(
                    func.lower(SupportRequest.jira_issue_key) == term.lower(),
                    func.lower(SupportRequest.summary).like(pattern, escape="\\"),
                )
            )
        async with self._db.session() as session:
            total = await session.scalar(select(func.count(SupportRequest.id)).where(*where))
            rows = await session.scalars(
                select(SupportRequest)
                .where(*where)
                .order_by(SupportRequest.updated_at.desc(), SupportRequest.id.desc())
                .limit(limit)
                .offset(offset)
            )
            return [_record(row) for row in rows], int(total or 0)

    async def attachments(self, request_id: int) -> list[AttachmentInfo]:
        """A request's attachments, in the order they were filed."""
        async with self._db.session() as session:
            rows = await session.scalars(
                select(Attachment)
                .where(Attachment.support_request_id == request_id)
                .order_by(Attachment.id)
            )
            return [_info(row) for row in rows]

    async def attachment(self, request_id: int, attachment_id: int) -> AttachmentFile | None:
        """One attachment of one request, with its content."""
        async with self._db.session() as session:
            row = await session.get(Attachment, attachment_id)
            if row is None or row.support_request_id != request_id:
                return None
            return AttachmentFile(info=_info(row), content=row.content)

    async def comments(self, request_id: int) -> list[CommentRecord]:
        """The Jira comments of a request, oldest first."""
        async with self._db.session() as session:
            rows = await session.scalars(
                select(Comment)
                .where(Comment.support_request_id == request_id)
                .order_by(Comment.created_at, Comment.id)
            )
            return [
                CommentRecord(
                    jira_comment_id=row.jira_comment_id or "",
                    author=row.portal_author or row.author,
                    body=row.body,
                    created_at=row.created_at,
                    updated_at=row.updated_at,
                    from_portal=row.portal_author is not None,
                )
                for row in rows
            ]

    async def add_reply(
        self, request_id: int, *, author: str, body: str, now: datetime
    ) -> CommentRecord:
        """Store a requester's reply and its ``support.comment`` outbox item at once.

        Raises NotFound when the request does not exist.
        """
        async with self._db.session() as session:
            request = await session.get(SupportRequest, request_id)
            if request is None:
                raise NotFound(f"support request {request_id} does not exist")
            row = Comment(
                support_request_id=request_id,
                author=author,
                portal_author=author,
                body=body,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            await session.flush()
            OutboxRepository.add(
                session,
                project_id=request.project_id,
                kind=COMMENT_KIND,
                payload={"support_request_id": request_id, "comment_id": row.id},
                now=now,
                support_request_id=request_id,
            )
            request.updated_at = now
            return CommentRecord(
                jira_comment_id="",
                author=author,
                body=body,
                created_at=now,
                updated_at=now,
                from_portal=True,
            )

    async def reply(self, comment_id: int) -> ReplyRecord | None:
        """One portal reply by id (None: gone, or not a portal reply)."""
        async with self._db.session() as session:
            row = await session.get(Comment, comment_id)
            if row is None or row.portal_author is None or row.support_request_id is None:
                return None
            return ReplyRecord(
                id=row.id,
                support_request_id=row.support_request_id,
                author=row.portal_author,
                body=row.body,
                jira_comment_id=row.jira_comment_id,
            )

    async def mark_reply_sent(self, comment_id: int, jira_comment_id: str) -> None:
        """Note the Jira comment a portal reply became (a copy a pull-back or webhook took
        from Jira meanwhile is dropped: the reply stands for it)."""
        async with self._db.session() as session:
            reply = await session.get(Comment, comment_id)
            if reply is None:
                return
            await session.execute(
                delete(Comment).where(
                    Comment.support_request_id == reply.support_request_id,
                    Comment.jira_comment_id == jira_comment_id,
                    Comment.id != comment_id,
                )
            )
            await session.execute(
                update(Comment)
                .where(Comment.id == comment_id)
                .values(jira_comment_id=jira_comment_id)
            )

    async def by_issue(
        self, issue_id: str, *, project_id: int | None = None
    ) -> SupportRequestRecord | None:
        """The request linked to Jira issue ``issue_id`` (by id: keys change on a move), of
        project ``project_id`` when given (projects on different Jira sites share ids)."""
        query = select(SupportRequest).where(SupportRequest.jira_issue_id == issue_id)
        if project_id is not None:
            query = query.where(SupportRequest.project_id == project_id)
        async with self._db.session() as session:
            row = await session.scalar(query.limit(1))
            return None if row is None else _record(row)

    async def linked(self, project_id: int) -> list[SupportRequestRecord]:
        """A project's requests that have a Jira issue (the ones the pull-back refreshes)."""
        async with self._db.session() as session:
            rows = await session.scalars(
                select(SupportRequest)
                .where(
                    SupportRequest.project_id == project_id,
                    SupportRequest.jira_issue_id.is_not(None),
                )
                .order_by(SupportRequest.id)
            )
            return [_record(row) for row in rows]

    async def set_issue(
        self, request_id: int, *, issue_id: str, issue_key: str, now: datetime
    ) -> None:
        """Link the request to its Jira issue (kept at once: a later failure must not re-create)."""
        await self._update(
            request_id,
            jira_issue_id=issue_id,
            jira_issue_key=issue_key,
            last_error=None,
            updated_at=now,
        )

    async def set_error(self, request_id: int, error: str | None, *, now: datetime) -> None:
        """Record (or clear, with None) the last Jira error of the request, for admins."""
        await self._update(request_id, last_error=error)

    async def mark_uploaded(self, attachment_id: int, jira_attachment_id: str) -> None:
        """Remember that Jira has this attachment (so a retry does not upload it twice)."""
        async with self._db.session() as session:
            await session.execute(
                update(Attachment)
                .where(Attachment.id == attachment_id)
                .values(jira_attachment_id=jira_attachment_id)
            )

    async def apply_pull(
        self,
        request_id: int,
        *,
        status: str,
        issue_key: str,
        comments: list[JiraCommentData] | None,
        now: datetime,
    ) -> bool:
        """Store what Jira says now: status, key (it changes on a move), comments.

        Clears the request's last error (Jira just answered for its issue).
        Comments are matched by Jira id: new ones are added, edited ones updated,
        deleted ones removed; ``comments=None`` leaves them as they are. Returns
        True when anything changed (the request's ``updated_at`` then moves, so the
        list shows the latest activity first).
        """
        async with self._db.session() as session:
            row = await session.get(SupportRequest, request_id)
            if row is None:
                return False
            changed = row.jira_status != status or row.jira_issue_key != issue_key
            row.jira_status = status
            row.jira_issue_key = issue_key
            row.last_error = None  # Jira answered for this issue: an older error is over
            if comments is not None:
                changed = await self._merge_comments(session, request_id, comments) or changed
            if changed:
                row.updated_at = now
            return changed

    @staticmethod
    async def _merge_comments(
        session: AsyncSession, request_id: int, comments: list[JiraCommentData]
    ) -> bool:
        # Portal replies Jira does not have yet are not Jira's to remove.
        existing = {
            row.jira_comment_id: row
            for row in await session.scalars(
                select(Comment).where(
                    Comment.support_request_id == request_id, Comment.jira_comment_id.is_not(None)
                )
            )
        }
        changed = False
        seen: set[str] = set()
        for comment in comments:
            seen.add(comment.id)
            row = existing.get(comment.id)
            if row is None:
                session.add(
                    Comment(
                        support_request_id=request_id,
                        jira_comment_id=comment.id,
                        author=comment.author,
                        body=comment.body,
                        created_at=comment.created_at,
                        updated_at=comment.updated_at,
                    )
                )
                changed = True
            elif row.portal_author is not None:
                continue  # a portal reply: shown as its author wrote it, not as Jira words it
            elif (row.body, row.author, row.updated_at) != (
                comment.body,
                comment.author,
                comment.updated_at,
            ):
                row.body, row.author, row.updated_at = (
                    comment.body,
                    comment.author,
                    comment.updated_at,
                )
                changed = True
        for jira_id, row in existing.items():
            if jira_id not in seen:
                await session.delete(row)
                changed = True
        return changed

    async def _update(self, request_id: int, **values: Any) -> None:
        async with self._db.session() as session:
            await session.execute(
                update(SupportRequest).where(SupportRequest.id == request_id).values(**values)
            )
