"""Jira REST paths, relative to ``<site>/rest/api/<version>`` unless said otherwise.

Placeholders are filled with :func:`path`, which quotes each value.
"""

from __future__ import annotations

from urllib.parse import quote

__all__ = [
    "ASSIGNEE",
    "ATTACHMENTS",
    "BULK_CREATE_LIMIT",
    "COMMENTS",
    "CREATEMETA_FIELDS",
    "CREATEMETA_ISSUE_TYPES",
    "EDITMETA",
    "ISSUE",
    "ISSUES",
    "ISSUES_BULK",
    "ISSUE_LINKS",
    "ISSUE_PROPERTY",
    "ISSUE_TYPES_FOR_PROJECT",
    "MYSELF",
    "PROJECT",
    "PROJECT_STATUSES",
    "PROJECT_VERSIONS",
    "REMOTE_LINKS",
    "SEARCH",
    "SEARCH_JQL",
    "SERVER_INFO",
    "STATUSES",
    "STATUS_CATEGORIES",
    "TRANSITIONS",
    "USER_ASSIGNABLE_SEARCH",
    "USER_SEARCH",
    "WEBHOOK_CLOUD",
    "WEBHOOK_DATACENTER",
    "path",
]

SERVER_INFO = "/serverInfo"
MYSELF = "/myself"
MY_PERMISSIONS = "/mypermissions"
PROJECT = "/project/{project}"
PROJECT_VERSIONS = "/project/{project}/versions"
PROJECT_STATUSES = "/project/{project}/statuses"
ISSUE_TYPES_FOR_PROJECT = "/issuetype/project"  # Cloud only; ?projectId=
CREATEMETA_ISSUE_TYPES = "/issue/createmeta/{project}/issuetypes"
CREATEMETA_FIELDS = "/issue/createmeta/{project}/issuetypes/{issue_type_id}"
ISSUES = "/issue"
ISSUES_BULK = "/issue/bulk"
ISSUE = "/issue/{issue}"
EDITMETA = "/issue/{issue}/editmeta"
TRANSITIONS = "/issue/{issue}/transitions"
ASSIGNEE = "/issue/{issue}/assignee"
COMMENTS = "/issue/{issue}/comment"
ATTACHMENTS = "/issue/{issue}/attachments"
ISSUE_PROPERTY = "/issue/{issue}/properties/{property_key}"
REMOTE_LINKS = "/issue/{issue}/remotelink"
ISSUE_LINKS = "/issueLink"
USER_SEARCH = "/user/search"
USER_ASSIGNABLE_SEARCH = "/user/assignable/search"
STATUSES = "/status"
STATUS_CATEGORIES = "/statuscategory"
SEARCH_JQL = "/search/jql"  # Cloud: nextPageToken paging, no total
SEARCH = "/search"  # Data Center: startAt paging (410 Gone on Cloud)
WEBHOOK_CLOUD = "/webhook"  # under /rest/api/N; Connect and OAuth 2.0 apps only
WEBHOOK_DATACENTER = "/rest/webhooks/1.0/webhook"  # relative to the site, not the API root

BULK_CREATE_LIMIT = 50
"""Jira creates at most 50 issues per ``/issue/bulk`` call."""


def path(template: str, **values: str) -> str:
    """``template`` with each ``{name}`` replaced by the URL-quoted value."""
    return template.format(**{k: quote(str(v), safe="") for k, v in values.items()})
