"""Filing support requests: check, store with the outbox item in one transaction, wake.

:class:`SupportService` is what the web pages and the JSON API call. It never
talks to Jira: the ``support.create`` outbox item does that later (at once when
the project is Active, when it turns Active otherwise).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from syncengine.errors import InvalidInput, NotFound
from syncengine.store.projects import ProjectRecord, ProjectRepository
from syncengine.store.support import (
    AttachmentFile,
    AttachmentInfo,
    CommentRecord,
    NewAttachment,
    NewSupportRequest,
    SupportRepository,
    SupportRequestRecord,
)
from syncengine.support.config import SupportConfig
from syncengine.support.fields import (
    JIRA_TEXT_LIMIT,
    SupportFieldConfig,
    comment_length,
    description_length,
)
from syncengine.support.replies import attribution
from syncengine.support.validation import (
    MAX_ATTACHMENTS,
    RequestForm,
    validate_attachment,
    validate_request,
)

__all__ = ["MAX_REPLY_CHARS", "SupportService", "UploadedFile"]

MAX_REPLY_CHARS = 32_000
"""The longest portal reply: Jira takes 32,767 characters a comment, and the line that says
who wrote it comes first."""

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class UploadedFile:
    """A file as the browser or API client sent it, before any check."""

    filename: str
    content_type: str
    content: bytes


def _no_wake() -> None:
    return None


class SupportService:
    """Files support requests and answers which projects take them."""

    def __init__(
        self,
        *,
        configs: Mapping[str, SupportConfig],
        projects: ProjectRepository,
        requests: SupportRepository,
        clock: Callable[[], datetime],
        wake: Callable[[], None] = _no_wake,
        fields: Mapping[str, SupportFieldConfig] | None = None,
    ) -> None:
        self._configs = dict(configs)
        # Where requests go in Jira: a text is measured as Jira will store it.
        self._fields = dict(fields or {})
        self.projects = projects
        self.requests = requests
        self.clock = clock
        self.wake = wake

    async def _target_of(self, project_id: int) -> SupportFieldConfig | None:
        if not self._fields:
            return None
        slug = next((p.slug for p in await self.projects.all() if p.id == project_id), None)
        return self._fields.get(slug) if slug is not None else None

    def enabled_slugs(self) -> list[str]:
        """The configured projects that accept support requests, by slug."""
        return sorted(self._configs)

    def config(self, slug: str) -> SupportConfig:
        """The portal configuration of ``slug``; NotFound unless it takes support requests."""
        config = self._configs.get(slug)
        if config is None:
            raise NotFound(f"project {slug!r} does not take support requests")
        return config

    async def project(self, slug: str) -> ProjectRecord:
        """The stored project of ``slug``; NotFound unless it takes support requests."""
        self.config(slug)
        record = await self.projects.get(slug)
        if record is None:
            raise NotFound(f"project {slug!r} is configured but not in the store yet")
        return record

    async def file(
        self, slug: str, form: RequestForm, files: list[UploadedFile], *, reporter: str
    ) -> SupportRequestRecord:
        """Check and store a request with its attachments and queue its Jira issue.

        Raises InvalidInput naming every field to fix (nothing is stored then),
        NotFound when the project takes no support requests.
        """
        config = self.config(slug)
        project = await self.project(slug)
        problems: dict[str, str] = {}
        try:
            valid = validate_request(form, config)
        except InvalidInput as exc:
            problems.update(exc.problems)
        else:
            target = self._fields.get(slug)
            length = description_length(valid.description, reporter, target) if target else 0
            if length > JIRA_TEXT_LIMIT:
                problems["description"] = _too_long("the description", length)
        files = [f for f in files if f.filename or f.content]
        attachments: list[NewAttachment] = []
        if len(files) > MAX_ATTACHMENTS:
            problems["attachments"] = f"attach at most {MAX_ATTACHMENTS} files"
        else:
            for file in files:
                try:
                    attachments.append(
                        validate_attachment(file.filename, file.content_type, file.content, config)
                    )
                except InvalidInput as exc:
                    problems["attachments"] = "; ".join(
                        p for p in (problems.get("attachments"), exc.problems["attachments"]) if p
                    )
        if problems:
            raise InvalidInput(problems)
        record = await self.requests.file(
            NewSupportRequest(
                project_id=project.id,
                reporter=reporter,
                label=valid.label,
                summary=valid.summary,
                description=valid.description,
                category=valid.category,
                api_product=valid.api_product,
                endpoint=valid.endpoint,
            ),
            attachments,
            now=self.clock(),
        )
        log.info(
            "support request %s filed in %s by %s (%d attachments)",
            record.id,
            slug,
            reporter,
            len(attachments),
        )
        self.wake()
        return record

    async def page(
        self, *, project_id: int, reporter: str | None, search: str, limit: int, offset: int
    ) -> tuple[list[SupportRequestRecord], int]:
        """One page of a project's requests (``reporter``: only theirs) and the total."""
        return await self.requests.page(
            project_id=project_id, reporter=reporter, search=search, limit=limit, offset=offset
        )

    async def get(self, request_id: int) -> SupportRequestRecord | None:
        """One request by id."""
        return await self.requests.get(request_id)

    async def attachments(self, request_id: int) -> list[AttachmentInfo]:
        """The request's attachments."""
        return await self.requests.attachments(request_id)

    async def attachment(self, request_id: int, attachment_id: int) -> AttachmentFile | None:
        """One attachment with its content."""
        return await self.requests.attachment(request_id, attachment_id)

    async def comments(self, request_id: int) -> list[CommentRecord]:
        """The Jira comments on the request's issue."""
        return await self.requests.comments(request_id)

    async def reply(
        self, request: SupportRequestRecord, text: str, *, author: str
    ) -> CommentRecord:
        """Store ``author``'s reply on ``request`` (a request they may see) and queue it as a
        Jira comment, sent when the request's issue exists and the integration is Active.

        Raises InvalidInput for an empty or too long reply (nothing is stored then).
        """
        body = text.replace("\r\n", "\n").strip()
        if not body:
            raise InvalidInput({"reply": "write a reply first"})
        if len(body) > MAX_REPLY_CHARS:
            raise InvalidInput(
                {"reply": f"a reply takes at most {MAX_REPLY_CHARS:,} characters (Jira's limit)"}
            )
        target = await self._target_of(request.project_id)
        if target is not None:
            heading = attribution(author, 10**12)
            length = comment_length(heading, body, target.api_version)
            if length > JIRA_TEXT_LIMIT:
                raise InvalidInput({"reply": _too_long("the reply", length)})
        comment = await self.requests.add_reply(
            request.id, author=author, body=body, now=self.clock()
        )
        log.info("support request %s: %s replied from the portal", request.id, author)
        self.wake()
        return comment


def _too_long(what: str, length: int) -> str:
    return (
        f"{what} takes {length:,} characters once formatted for Jira, whose limit is "
        f"{JIRA_TEXT_LIMIT:,} (markup characters and line breaks count extra): shorten it, "
        "or attach long logs as a file"
    )
