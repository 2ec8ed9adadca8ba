"""The Jira REST client: one method per REST call, for Cloud (v2, v3) and Data Center (v2).

Build one per site with :meth:`JiraClient.open` (or pass a :class:`JiraSession`);
close it with :meth:`aclose` or ``async with``. Every method raises a subclass of
:class:`syncengine.errors.JiraError` on failure (see :mod:`syncengine.jira.errors`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, TypeVar

from syncengine.domain.createmeta import FieldMeta, field_meta
from syncengine.jira import endpoints as ep
from syncengine.jira import parsing
from syncengine.jira.bodies import (
    NewIssue,
    RichText,
    bulk_body,
    issue_body,
    remote_link_body,
    rich_text,
)
from syncengine.jira.errors import (
    JiraBulkNotSent,
    JiraBulkOutcomeUnknown,
    JiraNotFound,
    JiraNotSent,
    JiraOutcomeUnknown,
    JiraPermanentError,
    JiraUnexpectedResponse,
)
from syncengine.jira.models import (
    BulkCreateFailure,
    BulkCreateResult,
    CreatedIssue,
    JiraAttachment,
    JiraComment,
    JiraIssue,
    JiraTransition,
    RemoteLink,
    SearchPage,
)
from syncengine.jira.search import SearchRequest
from syncengine.jira.site import JiraSiteClient

__all__ = ["JiraClient"]


class JiraClient(JiraSiteClient):
    """Talks to one Jira site: the site calls, plus one method per issue and search call."""

    # -- issues ------------------------------------------------------------------------------

    async def create_issue(
        self,
        fields: Mapping[str, Any],
        *,
        properties: Mapping[str, Any] | None = None,
        update: Mapping[str, Any] | None = None,
    ) -> CreatedIssue:
        """``POST /issue``. ``properties`` are set atomically with the issue (identity).

        Raises:
            JiraOutcomeUnknown: the request was sent and the answer lost; search for the
                issue's identity before creating it again.
            JiraBadRequest: Jira refused fields (``field_errors``); JiraInvalidIssueType.
            ValueError: an ADF document in ``fields`` with REST v2 (nothing is sent).
        """
        body = issue_body(
            self.config.api_version,
            fields=fields,
            update=update,
            properties=properties,
            flavour=await self.flavour(),
        )
        ctx = self.session.context(
            "create an issue", project_key=_project_of(fields), permission="Create Issues"
        )
        data = await self.session.json("POST", ep.ISSUES, context=ctx, json=body)
        try:
            return parsing.parse_created(data)
        except JiraUnexpectedResponse as exc:
            # Answered 2xx, so very likely created: look it up before creating it again.
            raise JiraOutcomeUnknown(
                f"the outcome of the request to create an issue is unknown: {exc}",
                fix="look the object up (identity label or property) before sending it again",
            ) from exc

    async def bulk_create(self, issues: Sequence[NewIssue]) -> BulkCreateResult:
        """``POST /issue/bulk``, 50 issues a call; failures are per item (input index).

        Raises:
            JiraBulkOutcomeUnknown: a chunk's answer was lost; ``partial`` holds the
                earlier chunks' result, ``unknown`` the indices not known to be done.
            JiraNotSent: a :func:`~syncengine.jira.send_by.send_before` deadline passed
                before the first chunk went out; JiraBulkNotSent before a later one
                (``partial`` as above, ``unsent`` the indices not sent).
        """
        created: dict[int, CreatedIssue] = {}
        failed: list[BulkCreateFailure] = []
        flavour = await self.flavour() if issues else "cloud"
        for offset in range(0, len(issues), ep.BULK_CREATE_LIMIT):
            chunk = issues[offset : offset + ep.BULK_CREATE_LIMIT]
            ctx = self.session.context(
                f"bulk-create {len(chunk)} issues",
                project_key=_project_of(chunk[0].fields),
                permission="Create Issues",
            )
            try:
                data = await self.session.json(
                    "POST",
                    ep.ISSUES_BULK,
                    context=ctx,
                    json=bulk_body(self.config.api_version, chunk, flavour=flavour),
                    ok_statuses=frozenset({400}),
                )
            except JiraNotSent as exc:
                if not offset:
                    raise  # nothing of this call was sent
                raise JiraBulkNotSent(
                    f"issues {offset}..{len(issues) - 1} of the bulk create were not sent: {exc}",
                    partial=BulkCreateResult(created=dict(created), failed=tuple(failed)),
                    unsent=range(offset, len(issues)),
                    fix=exc.fix,
                ) from exc
            except JiraOutcomeUnknown as exc:
                raise JiraBulkOutcomeUnknown(
                    f"the outcome of bulk-creating issues {offset}..{offset + len(chunk) - 1} is "
                    f"unknown: {exc}",
                    partial=BulkCreateResult(created=dict(created), failed=tuple(failed)),
                    unknown=range(offset, len(issues)),
                    fix=exc.fix,
                ) from exc
            if not isinstance(data, dict) or ("errors" not in data and "issues" not in data):
                raise JiraPermanentError(
                    f"Jira refused the bulk create: {data!r}"[:300], status=400
                )
            result = parsing.parse_bulk_create(data, offset=offset, count=len(chunk))
            created.update(result.created)
            failed.extend(result.failed)
        return BulkCreateResult(created=created, failed=tuple(failed))

    async def get_issue(
        self,
        issue: str,
        *,
        fields: Sequence[str] | None = None,
        properties: Sequence[str] | None = None,
        expand: Sequence[str] | None = None,
    ) -> JiraIssue:
        """``GET /issue/{key}``; ``fields`` limits the answer (default: all navigable)."""
        params: dict[str, str] = {}
        if fields is not None:
            params["fields"] = ",".join(fields)
        if properties:
            params["properties"] = ",".join(properties)
        if expand:
            params["expand"] = ",".join(expand)
        data = await self._get(
            ep.path(ep.ISSUE, issue=issue), f"read issue {issue}", params=params,
            ctx={"issue": issue},
        )  # fmt: skip
        return parsing.parse_issue(data)

    async def edit_issue(
        self,
        issue: str,
        *,
        fields: Mapping[str, Any] | None = None,
        update: Mapping[str, Any] | None = None,
        notify: bool = True,
    ) -> None:
        """``PUT /issue/{key}`` with ``fields`` (set) and/or ``update`` (add/remove operations)."""
        ctx = self.session.context(f"edit issue {issue}", issue=issue, permission="Edit Issues")
        await self.session.json(
            "PUT",
            ep.path(ep.ISSUE, issue=issue),
            context=ctx,
            json=issue_body(self.config.api_version, fields=fields, update=update),
            params=None if notify else {"notifyUsers": "false"},
        )

    async def editmeta(self, issue: str) -> dict[str, FieldMeta]:
        """``GET /issue/{key}/editmeta``: the fields of the issue's edit screen, by id.

        Empty when the user may not edit the issue (Jira answers so, not an error).
        """
        data = await self._get(
            ep.path(ep.EDITMETA, issue=issue), f"read the edit screen of {issue}",
            ctx={"issue": issue},
        )  # fmt: skip
        fields = data.get("fields") if isinstance(data, dict) else None
        if not isinstance(fields, dict):
            return {}
        return {
            str(fid): field_meta(str(fid), raw)
            for fid, raw in fields.items()
            if isinstance(raw, dict)
        }

    async def transitions(self, issue: str) -> tuple[JiraTransition, ...]:
        """``GET /issue/{key}/transitions?expand=transitions.fields``."""
        data = await self._get(
            ep.path(ep.TRANSITIONS, issue=issue),
            f"list the transitions of {issue}",
            params={"expand": "transitions.fields"},
            ctx={"issue": issue},
        )
        return parsing.parse_transitions(data)

    async def transition_issue(
        self,
        issue: str,
        transition_id: str,
        *,
        fields: Mapping[str, Any] | None = None,
        update: Mapping[str, Any] | None = None,
    ) -> None:
        """``POST /issue/{key}/transitions`` (``fields`` e.g. ``{"resolution": {"name": ...}}``).

        Raises:
            JiraOutcomeUnknown: the answer was lost; re-read the issue's status.
        """
        ctx = self.session.context(
            f"transition issue {issue}", issue=issue, permission="Transition Issues"
        )
        body = issue_body(
            self.config.api_version, fields=fields, update=update, transition_id=transition_id
        )
        await self.session.json(
            "POST", ep.path(ep.TRANSITIONS, issue=issue), context=ctx, json=body
        )

    async def assign_issue(self, issue: str, assignee: str | None) -> None:
        """``PUT /issue/{key}/assignee``: accountId (Cloud) or name (DC); None unassigns."""
        key = "accountId" if await self.flavour() == "cloud" else "name"
        ctx = self.session.context(f"assign issue {issue}", issue=issue, permission="Assign Issues")
        await self.session.json(
            "PUT", ep.path(ep.ASSIGNEE, issue=issue), context=ctx, json={key: assignee}
        )

    async def add_comment(self, issue: str, body: RichText) -> JiraComment:
        """``POST /issue/{key}/comment``: wiki text (v2) or ADF (v3; text is wrapped).

        Raises:
            JiraOutcomeUnknown: the answer was lost; list the comments before re-posting.
            ValueError: an ADF document with REST v2 (nothing is sent).
        """
        ctx = self.session.context(f"comment on {issue}", issue=issue, permission="Add Comments")
        payload = {"body": rich_text(body, self.config.api_version, what="comment")}
        data = await self.session.json(
            "POST", ep.path(ep.COMMENTS, issue=issue), context=ctx, json=payload
        )
        return _made(parsing.parse_comment, data, f"comment on {issue}")

    async def comments(self, issue: str) -> tuple[JiraComment, ...]:
        """``GET /issue/{key}/comment``, every page, oldest first."""
        found: list[JiraComment] = []
        while True:
            data = await self._get(
                ep.path(ep.COMMENTS, issue=issue),
                f"list the comments of {issue}",
                params={"startAt": len(found), "maxResults": 100, "orderBy": "created"},
                ctx={"issue": issue},
            )
            page, total = parsing.parse_comments(data)
            found.extend(page)
            if not page or total is None or len(found) >= total:
                return tuple(found)

    async def add_attachment(
        self, issue: str, filename: str, content: bytes, mime_type: str = "application/octet-stream"
    ) -> tuple[JiraAttachment, ...]:
        """``POST /issue/{key}/attachments`` (multipart, ``X-Atlassian-Token: no-check``)."""
        ctx = self.session.context(
            f"attach {filename} to {issue}", issue=issue, permission="Create Attachments"
        )
        data = await self.session.json(
            "POST",
            ep.path(ep.ATTACHMENTS, issue=issue),
            context=ctx,
            files={"file": (filename, content, mime_type)},
            headers={"X-Atlassian-Token": "no-check"},
        )
        return _made(parsing.parse_attachments, data, f"attach {filename} to {issue}")

    async def get_issue_property(self, issue: str, key: str) -> Any | None:
        """``GET /issue/{key}/properties/{property}``: the value, or None when it is not set."""
        try:
            data = await self._get(
                ep.path(ep.ISSUE_PROPERTY, issue=issue, property_key=key),
                f"read property {key} of {issue}",
                ctx={"issue": issue},
            )
        except JiraNotFound as exc:
            # Jira answers 404 both for a missing issue and for a property never set.
            if any("propert" in m.lower() for m in exc.messages):
                return None
            raise
        return data.get("value") if isinstance(data, dict) else None

    async def set_issue_property(self, issue: str, key: str, value: Any) -> None:
        """``PUT /issue/{key}/properties/{property}`` with any JSON value."""
        ctx = self.session.context(
            f"set property {key} of {issue}", issue=issue, permission="Edit Issues"
        )
        await self.session.json(
            "PUT",
            ep.path(ep.ISSUE_PROPERTY, issue=issue, property_key=key),
            context=ctx,
            json=value,
        )

    async def link_issues(self, link_type: str, *, outward: str, inward: str) -> None:
        """``POST /issueLink``: ``outward`` <type's outward phrase> ``inward``.

        For ``"Duplicate"``: ``outward`` duplicates ``inward``. Repeating it adds no
        second link (Jira keeps one link per type and pair), so it is safe to retry.
        """
        ctx = self.session.context(
            f"link {outward} to {inward}", issue=outward, permission="Link Issues"
        )
        body = {
            "type": {"name": link_type},
            "outwardIssue": {"key": outward} if not outward.isdigit() else {"id": outward},
            "inwardIssue": {"key": inward} if not inward.isdigit() else {"id": inward},
        }
        await self.session.json("POST", ep.ISSUE_LINKS, context=ctx, json=body, idempotent=True)

    async def remote_links(self, issue: str) -> tuple[RemoteLink, ...]:
        """``GET /issue/{key}/remotelink``."""
        data = await self._get(
            ep.path(ep.REMOTE_LINKS, issue=issue),
            f"list the links of {issue}",
            ctx={"issue": issue},
        )
        return parsing.parse_remote_links(data)

    async def create_remote_link(
        self,
        issue: str,
        *,
        url: str,
        title: str,
        global_id: str | None = None,
        summary: str | None = None,
    ) -> int:
        """``POST /issue/{key}/remotelink``; with ``global_id`` it updates (safe to retry)."""
        ctx = self.session.context(f"link {issue} to {url}", issue=issue, permission="Link Issues")
        data = await self.session.json(
            "POST",
            ep.path(ep.REMOTE_LINKS, issue=issue),
            context=ctx,
            json=remote_link_body(url=url, title=title, global_id=global_id, summary=summary),
            idempotent=global_id is not None,
        )
        return int(data["id"]) if isinstance(data, dict) and "id" in data else 0

    # -- search ------------------------------------------------------------------------------

    async def search_page(
        self,
        jql: str,
        *,
        fields: Sequence[str] = ("*navigable",),
        properties: Sequence[str] = (),
        cursor: str | None = None,
        page_size: int = 100,
        reconcile: Sequence[str] = (),
    ) -> SearchPage:
        """One page: Cloud ``POST /search/jql`` (``nextPageToken``), DC ``POST /search``.

        ``reconcile``: issue ids Cloud searches as they are now (its search lags writes).
        """
        request = SearchRequest(
            jql=jql,
            fields=tuple(fields),
            properties=tuple(properties),
            page_size=page_size,
            reconcile=tuple(reconcile),
        )
        return await request.page(self.session, await self.flavour(), cursor)

    async def search(
        self,
        jql: str,
        *,
        fields: Sequence[str] = ("*navigable",),
        properties: Sequence[str] = (),
        page_size: int = 100,
        reconcile: Sequence[str] = (),
    ) -> AsyncIterator[JiraIssue]:
        """Every issue ``jql`` matches, page after page (``reconcile``: see search_page)."""
        cursor: str | None = None
        while True:
            page = await self.search_page(
                jql,
                fields=fields,
                properties=properties,
                cursor=cursor,
                page_size=page_size,
                reconcile=reconcile,
            )
            for issue in page.issues:
                yield issue
            if page.next_cursor is None:
                return
            cursor = page.next_cursor


def _project_of(fields: Mapping[str, Any]) -> str | None:
    project = fields.get("project")
    if isinstance(project, Mapping):
        key = project.get("key") or project.get("id")
        return str(key) if key is not None else None
    return str(project) if isinstance(project, str) else None


_T = TypeVar("_T")


def _made(parse: Callable[[Any], _T], data: Any, what: str) -> _T:
    """``parse(data)`` of a 2xx answer to a POST that makes something; an answer that is
    not what Jira sends (empty, cut short by a proxy) means it was very likely made, so
    it is the outcome-unknown case (look before sending again), not a refusal."""
    try:
        return parse(data)
    except JiraUnexpectedResponse as exc:
        raise JiraOutcomeUnknown(
            f"the outcome of the request to {what} is unknown: {exc}",
            fix="look for it in Jira before sending it again",
        ) from exc
