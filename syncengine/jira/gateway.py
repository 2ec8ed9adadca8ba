"""Finding a Cloud site's cloudId, to reach it through Atlassian's API gateway.

Scoped API tokens and service accounts work only through
``https://api.atlassian.com/ex/jira/{cloudId}``. The cloudId is public: the site
answers it, without credentials, at ``https://<site>/_edge/tenant_info``. That
call carries no token (the site is not where a scoped token is good, and the
answer needs none), is bounded in time and size, and its answer is checked
before it becomes part of a URL.
"""

from __future__ import annotations

import asyncio
import json
import re

import httpx

from syncengine.jira.errors import JiraPermanentError, JiraUnavailable

__all__ = ["TENANT_INFO", "find_cloud_id"]

TENANT_INFO = "/_edge/tenant_info"
_MAX_BYTES = 64 * 1024
_CLOUD_ID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


async def find_cloud_id(http: httpx.AsyncClient, site: str, *, deadline_seconds: float) -> str:
    """The cloudId of the Cloud site at ``site``.

    Raises:
        JiraUnavailable: the site could not be reached or answered 5xx (retry later).
        JiraPermanentError: the site answered without a cloudId (not a Jira Cloud site);
            the fix says how to give the gateway URL instead.
    """
    url = site + TENANT_INFO
    request = http.build_request("GET", url)
    request.headers.pop("Authorization", None)  # a bearer token set on the client
    fix = (
        "check jira.url is the Cloud site (https://your-site.atlassian.net), or give "
        "https://api.atlassian.com/ex/jira/<cloudId> as jira.url and the site as jira.site_url"
    )
    try:
        async with asyncio.timeout(deadline_seconds):
            response = await http.send(request, auth=None, stream=True)
            try:
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > _MAX_BYTES:
                        raise JiraPermanentError(
                            f"{url} answered more than {_MAX_BYTES} bytes: no tenant_info",
                            fix=fix,
                        )
            finally:
                await response.aclose()
    except (httpx.HTTPError, TimeoutError) as exc:
        raise JiraUnavailable(
            f"could not ask {url} for the site's cloudId ({type(exc).__name__})",
            fix="check that the Jira site is reachable from this host; the work is kept",
        ) from exc
    if response.status_code >= 500:
        raise JiraUnavailable(f"{url} answered {response.status_code}", status=response.status_code)
    try:
        cloud_id = json.loads(body).get("cloudId") if response.is_success else None
    except (ValueError, AttributeError):
        cloud_id = None
    if not isinstance(cloud_id, str) or not _CLOUD_ID.match(cloud_id):
        raise JiraPermanentError(
            f"{url} answered {response.status_code} without a cloudId",
            status=response.status_code,
            fix=fix,
        )
    return cloud_id.lower()
