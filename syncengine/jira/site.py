"""The site-level half of the Jira client: server info, projects, metadata, users, webhooks.

:class:`~syncengine.jira.client.JiraClient` adds the issue calls on top; use that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from syncengine.domain.createmeta import CreateMeta, FieldMeta
from syncengine.jira import endpoints as ep
from syncengine.jira import parsing, site_parsing
from syncengine.jira.config import JiraConfig
from syncengine.jira.errors import JiraInvalidIssueType, JiraPermanentError
from syncengine.jira.models import (
    Flavour,
    IssueTypeMeta,
    JiraProject,
    JiraStatus,
    JiraUser,
    JiraVersion,
    ServerInfo,
    StatusCategory,
    WebhookRegistration,
)
from syncengine.jira.session import JiraSession
from syncengine.jira.webhooks import (
    delete_webhooks,
    dynamic_webhook_expiries,
    refresh_webhooks,
    register_webhook,
    webhooks_to,
)

__all__ = ["JiraSiteClient"]

_PAGE = 50


class JiraSiteClient:
    """Calls about the site rather than one issue. Methods map one-to-one onto REST calls."""

    def __init__(self, session: JiraSession) -> None:
        self.session = session
        self.config: JiraConfig = session.config
        self._server_info: ServerInfo | None = None

    @classmethod
    def open(cls, config: JiraConfig, **session_options: Any) -> Self:
        """A client with its own :class:`JiraSession` (options go to the session)."""
        return cls(JiraSession(config, **session_options))

    async def aclose(self) -> None:
        """Close the connections."""
        await self.session.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _get(self, path: str, operation: str, **kwargs: Any) -> Any:
        context = self.session.context(operation, **kwargs.pop("ctx", {}))
        return await self.session.json("GET", path, context=context, **kwargs)

    # -- the site ---------------------------------------------------------------------------

    async def server_info(self) -> ServerInfo:
        """``GET /rest/api/2/serverInfo`` (v2 exists on every Jira), cached after the first call."""
        if self._server_info is None:
            data = await self._get(
                "/rest/api/2" + ep.SERVER_INFO, "read the server info", root="site"
            )
            self._server_info = site_parsing.parse_server_info(data)
        return self._server_info

    async def flavour(self) -> Flavour:
        """``cloud`` or ``datacenter``: the configured deployment, else what serverInfo says.

        Raises:
            JiraPermanentError: REST v3 is configured against Data Center.
        """
        if self.config.deployment != "auto":
            return self.config.deployment
        flavour = (await self.server_info()).flavour
        if flavour == "datacenter" and self.config.api_version == 3:
            raise JiraPermanentError(
                "this Jira is Data Center, which has no REST v3",
                fix="set jira.api_version = 2 (or a URL ending in /rest/api/2/)",
            )
        return flavour

    async def myself(self) -> JiraUser:
        """``GET /myself``: the user the token belongs to (``doctor``'s credential check)."""
        return parsing.parse_user(await self._get(ep.MYSELF, "read the current user"))

    async def my_permissions(self, project_key: str, permissions: Sequence[str]) -> dict[str, bool]:
        """``GET /mypermissions``: which of ``permissions`` (Jira keys such as
        ``CREATE_ISSUES``) the user holds in the project.

        Cloud requires the ``permissions`` filter; Data Center's API does not declare
        it, so there every permission is read and the wanted ones picked out.
        """
        params = {"projectKey": project_key}
        if await self.flavour() == "cloud":
            params["permissions"] = ",".join(permissions)
        data = await self._get(
            ep.MY_PERMISSIONS,
            f"read the user's permissions in {project_key}",
            params=params,
            ctx={"project_key": project_key},
        )
        held = data.get("permissions", {}) if isinstance(data, dict) else {}
        return {
            name: bool(isinstance(held.get(name), dict) and held[name].get("havePermission"))
            for name in permissions
        }

    async def project(self, project_key: str) -> JiraProject:
        """``GET /project/{key}``, with its issue types."""
        ctx = {"project_key": project_key, "permission": "Browse Projects"}
        data = await self._get(
            ep.path(ep.PROJECT, project=project_key), f"read project {project_key}", ctx=ctx
        )
        return site_parsing.parse_project(data)

    async def issue_types_for_project(self, project_key: str) -> tuple[IssueTypeMeta, ...]:
        """The project's issue types: ``GET /issuetype/project`` on Cloud, the project on DC."""
        project = await self.project(project_key)
        if await self.flavour() == "datacenter":
            return project.issue_types
        ctx = {"project_key": project_key, "permission": "Browse Projects"}
        data = await self._get(
            ep.ISSUE_TYPES_FOR_PROJECT,
            f"list the issue types of {project_key}",
            params={"projectId": project.id},
            ctx=ctx,
        )
        return site_parsing.parse_issue_types(data)

    async def _pages(
        self,
        url: str,
        operation: str,
        ctx: dict[str, Any],
        parse: Callable[[Any], tuple[Any, bool]],
    ) -> tuple[Any, ...]:
        """Every page of a ``startAt``/``maxResults`` listing, ``parse`` reading each one."""
        found: list[Any] = []
        while True:
            data = await self._get(
                url, operation, params={"startAt": len(found), "maxResults": _PAGE}, ctx=ctx
            )
            page, last = parse(data)
            found.extend(page)
            if last or not page:
                return tuple(found)

    async def createmeta_issue_types(self, project_key: str) -> tuple[IssueTypeMeta, ...]:
        """``GET /issue/createmeta/{project}/issuetypes``, every page: the creatable types."""
        return await self._pages(
            ep.path(ep.CREATEMETA_ISSUE_TYPES, project=project_key),
            f"read the create metadata of {project_key}",
            {"project_key": project_key, "permission": "Create Issues"},
            site_parsing.parse_createmeta_issue_types,
        )

    async def createmeta_fields(
        self, project_key: str, issue_type_id: str
    ) -> tuple[FieldMeta, ...]:
        """``GET /issue/createmeta/{project}/issuetypes/{id}``, every page: the create screen."""
        return await self._pages(
            ep.path(ep.CREATEMETA_FIELDS, project=project_key, issue_type_id=issue_type_id),
            f"read the create screen of {project_key} issue type {issue_type_id}",
            {"project_key": project_key, "permission": "Create Issues"},
            site_parsing.parse_createmeta_fields,
        )

    async def create_meta(self, project_key: str, issue_type: str) -> CreateMeta:
        """The create screen of ``issue_type`` (by name, any case) in the project.

        Raises:
            JiraInvalidIssueType: the user cannot create that type there; ``choices``
                names the types they can create.
        """
        types = await self.createmeta_issue_types(project_key)
        chosen = next((t for t in types if t.name.casefold() == issue_type.casefold()), None)
        if chosen is None:
            choices = tuple(sorted(t.name for t in types))
            error = JiraInvalidIssueType(
                f"issue type {issue_type!r} is not valid for project {project_key}",
                fix=f"set jira.issue_type to one of: {', '.join(choices) or 'none'}",
            )
            error.choices = choices
            raise error
        return CreateMeta(
            project_key=project_key,
            issue_type=chosen.name,
            issue_type_id=chosen.id,
            fields=await self.createmeta_fields(project_key, chosen.id),
        )

    async def project_versions(self, project_key: str) -> tuple[JiraVersion, ...]:
        """``GET /project/{key}/versions``."""
        data = await self._get(
            ep.path(ep.PROJECT_VERSIONS, project=project_key),
            f"list the versions of {project_key}",
            ctx={"project_key": project_key, "permission": "Browse Projects"},
        )
        return site_parsing.parse_versions(data)

    async def statuses(self) -> tuple[JiraStatus, ...]:
        """``GET /status``: every status, with its category."""
        return site_parsing.parse_statuses(await self._get(ep.STATUSES, "list the statuses"))

    async def project_statuses(self, project_key: str) -> dict[str, tuple[JiraStatus, ...]]:
        """``GET /project/{key}/statuses``: issue type name → its workflow's statuses."""
        data = await self._get(
            ep.path(ep.PROJECT_STATUSES, project=project_key),
            f"list the statuses of {project_key}",
            ctx={"project_key": project_key, "permission": "Browse Projects"},
        )
        return site_parsing.parse_project_statuses(data)

    async def status_categories(self) -> tuple[StatusCategory, ...]:
        """``GET /statuscategory``."""
        data = await self._get(ep.STATUS_CATEGORIES, "list the status categories")
        return site_parsing.parse_status_categories(data)

    async def search_users(self, query: str, *, max_results: int = 50) -> tuple[JiraUser, ...]:
        """``GET /user/search``: by e-mail or name (``query`` on Cloud, ``username`` on DC)."""
        key = "query" if await self.flavour() == "cloud" else "username"
        data = await self._get(
            ep.USER_SEARCH, "search users", params={key: query, "maxResults": max_results}
        )
        return site_parsing.parse_users(data)

    async def search_assignable_users(
        self, project_key: str, query: str, *, max_results: int = 50
    ) -> tuple[JiraUser, ...]:
        """``GET /user/assignable/search``: users who may be assigned issues of the project."""
        key = "query" if await self.flavour() == "cloud" else "username"
        data = await self._get(
            ep.USER_ASSIGNABLE_SEARCH,
            f"search assignable users of {project_key}",
            params={"project": project_key, key: query, "maxResults": max_results},
            ctx={"project_key": project_key, "permission": "Browse Users"},
        )
        return site_parsing.parse_users(data)

    async def register_webhook(
        self,
        url: str,
        *,
        events: Sequence[str],
        jql: str | None = None,
        name: str = "syncengine",
        secret: str | None = None,
    ) -> WebhookRegistration:
        """Register a webhook (Cloud ``/webhook``; DC ``/rest/webhooks/1.0/webhook``, signed
        with ``secret``).

        Raises:
            JiraPermissionError: Cloud lets only Connect/OAuth apps do this, DC only admins;
                the fix says how to register it by hand.
        """
        return await register_webhook(
            self.session,
            await self.flavour(),
            url,
            events=events,
            jql=jql,
            name=name,
            secret=secret,
        )

    async def webhooks_to(self, url: str, *, jql: str | None) -> tuple[str, ...]:
        """The ids of this engine's webhooks for one project found in Jira (see
        :func:`~syncengine.jira.webhooks.webhooks_to`)."""
        return await webhooks_to(self.session, await self.flavour(), url, jql=jql)

    async def dynamic_webhooks(self) -> dict[str, datetime | None]:
        """``GET /webhook`` (Cloud, OAuth 2.0 apps): the app's webhooks and their expiry."""
        return await dynamic_webhook_expiries(self.session)

    async def refresh_webhooks(self, webhook_ids: Sequence[str]) -> datetime | None:
        """``PUT /webhook/refresh`` (Cloud): extend dynamic webhooks; their new expiry."""
        return await refresh_webhooks(self.session, webhook_ids)

    async def delete_webhooks(self, webhook_ids: Sequence[str]) -> None:
        """Remove registered webhooks (Cloud dynamic ones, or DC admin ones)."""
        await delete_webhooks(self.session, await self.flavour(), webhook_ids)
