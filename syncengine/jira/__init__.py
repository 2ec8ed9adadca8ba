"""Jira: the REST client and, in ``jira.simulator``, a stateful Jira stand-in.

The client covers Cloud (REST v2 and v3) and Data Center (REST v2): start at
:class:`JiraClient`; errors are in :mod:`syncengine.jira.errors`.
"""

from __future__ import annotations

from syncengine.jira.bodies import NewIssue, RichText
from syncengine.jira.budget import (
    JiraRequestShed,
    LocalBudget,
    Priority,
    SiteBudget,
    current_priority,
    request_priority,
)
from syncengine.jira.client import JiraClient
from syncengine.jira.config import JiraConfig, parse_base_url
from syncengine.jira.models import (
    BulkCreateFailure,
    BulkCreateResult,
    CreatedIssue,
    IssueTypeMeta,
    JiraAttachment,
    JiraComment,
    JiraIssue,
    JiraProject,
    JiraStatus,
    JiraTransition,
    JiraUser,
    JiraVersion,
    RemoteLink,
    SearchPage,
    ServerInfo,
    StatusCategory,
    WebhookRegistration,
)
from syncengine.jira.retry import RetryDecision, RetryPolicy, SiteLimiter, SiteLimiters
from syncengine.jira.session import JiraSession

__all__ = [
    "BulkCreateFailure",
    "BulkCreateResult",
    "CreatedIssue",
    "IssueTypeMeta",
    "JiraAttachment",
    "JiraClient",
    "JiraComment",
    "JiraConfig",
    "JiraIssue",
    "JiraProject",
    "JiraRequestShed",
    "JiraSession",
    "JiraStatus",
    "JiraTransition",
    "JiraUser",
    "JiraVersion",
    "LocalBudget",
    "NewIssue",
    "Priority",
    "RemoteLink",
    "RetryDecision",
    "RetryPolicy",
    "RichText",
    "SearchPage",
    "ServerInfo",
    "SiteBudget",
    "SiteLimiter",
    "SiteLimiters",
    "StatusCategory",
    "WebhookRegistration",
    "current_priority",
    "parse_base_url",
    "request_priority",
]
