"""Jira's error answers, parsed defensively and mapped to errors that say what to fix.

Every error body shape Jira is known to send is understood: ``errorMessages`` (a
list, or a bare string), ``errors`` per field, Cloud's ``{"message",
"status-code"}``, ``errorMessage``, HTML pages (429s and old 401s), plain text and
empty bodies. The tree below hangs under :mod:`syncengine.errors`::

    JiraTransientError
    ├── JiraRateLimited        429: Jira asked us to slow down (``retry_after``)
    ├── JiraUnavailable        5xx, timeouts, connection failures
    ├── JiraOutcomeUnknown     a create/comment/transition may or may not have happened
    │   └── JiraBulkOutcomeUnknown  a bulk create chunk was lost; ``partial`` has the rest
    └── JiraNotSent            the request's send-by time had passed: nothing was sent
        └── JiraBulkNotSent    a later bulk create chunk was not sent; ``partial`` has the rest
    JiraPermanentError
    ├── JiraAuthError          401: the token or user was rejected
    ├── JiraPermissionError    403: the user lacks a permission
    ├── JiraNotFound           404: project, issue or endpoint unknown (or invisible)
    ├── JiraBadRequest         400: Jira refused the body (``field_errors``)
    │   └── JiraInvalidIssueType  400 on ``issuetype``
    ├── JiraGone               410: the endpoint was removed (old Cloud /search)
    ├── JiraRequestRejected    any other 4xx
    └── JiraUnexpectedResponse a 2xx whose body is not what the API documents
        └── JiraResponseTooLarge  the answer passed ``jira.max_response_bytes``

A 2xx answer to a request that is not safe to repeat (a create, a comment) whose
body is unusable (not JSON, too large) is a :class:`JiraOutcomeUnknown`: the work
was probably done, so it is looked up before being sent again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import unescape
from typing import Any, Literal

from syncengine.errors import JiraError, JiraPermanentError, JiraTransientError
from syncengine.jira.models import BulkCreateResult

__all__ = [
    "TOKEN_URL_CLOUD",
    "ErrorBody",
    "JiraAuthError",
    "JiraBadRequest",
    "JiraBulkNotSent",
    "JiraBulkOutcomeUnknown",
    "JiraError",
    "JiraGone",
    "JiraInvalidIssueType",
    "JiraNotFound",
    "JiraNotSent",
    "JiraOutcomeUnknown",
    "JiraPermanentError",
    "JiraPermissionError",
    "JiraRateLimited",
    "JiraRequestRejected",
    "JiraResponseTooLarge",
    "JiraTransientError",
    "JiraUnavailable",
    "JiraUnexpectedResponse",
    "RequestContext",
    "error_from_response",
    "parse_error_body",
]

TOKEN_URL_CLOUD = "https://id.atlassian.com/manage-profile/security/api-tokens"  # noqa: S105 a URL, not a secret
_MAX_TEXT = 300
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, kw_only=True)
class ErrorBody:
    """What Jira said, whatever shape it said it in."""

    messages: tuple[str, ...] = ()
    field_errors: Mapping[str, str] = field(default_factory=dict)

    def all_messages(self) -> list[str]:
        """The general messages, then one ``field: why`` per field error."""
        return [*self.messages, *(f"{k}: {v}" for k, v in self.field_errors.items())]

    def summary(self) -> str:
        """All messages on one line, or an empty string."""
        return "; ".join(self.all_messages())


@dataclass(frozen=True, kw_only=True)
class RequestContext:
    """What the client was doing, so an error can name the thing to fix."""

    operation: str
    """A phrase: "create an issue", "read issue CRASH-1"."""
    user: str = ""
    project_key: str | None = None
    issue: str | None = None
    permission: str | None = None
    """The Jira permission the operation needs ("Create Issues")."""
    bearer: bool = False
    oauth: bool = False


class JiraRateLimited(JiraTransientError):
    """429: Jira asked us to slow down; ``retry_after`` says for how long when it said."""


class JiraUnavailable(JiraTransientError):
    """Jira answered 5xx, timed out, or could not be reached.

    ``unreached`` says how a call that got no answer failed: ``"refused"`` (no
    connection), ``"silent"`` (no answer in time) or ``"cut"`` (the connection broke);
    None when Jira answered (``status`` is its 5xx).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        fix: str = "",
        retry_after: float | None = None,
        unreached: Literal["refused", "silent", "cut"] | None = None,
    ) -> None:
        super().__init__(message, status=status, fix=fix, retry_after=retry_after)
        self.unreached = unreached


class JiraOutcomeUnknown(JiraTransientError):
    """A non-idempotent request was sent and its answer lost: it may have taken effect.

    Do not blindly retry: look the object up by its identity (label or issue
    property) first, and retry only when it is absent.
    """


class JiraBulkOutcomeUnknown(JiraOutcomeUnknown):
    """A chunk of a bulk create was sent and its answer lost.

    ``partial`` holds what the earlier chunks created or refused; ``unknown`` the
    input indices whose outcome is unknown (search for them before resending).
    """

    def __init__(
        self, message: str, *, partial: BulkCreateResult, unknown: range, fix: str = ""
    ) -> None:
        super().__init__(message, fix=fix)
        self.partial = partial
        self.unknown = unknown


class JiraNotSent(JiraTransientError):
    """The request was not sent: the time it had to be sent by (:func:`send_before`) had
    passed when its first byte was due. Nothing reached Jira; it may be sent again."""


class JiraBulkNotSent(JiraNotSent):
    """A later chunk of a bulk create was not sent (its send-by time had passed).

    ``partial`` holds what the earlier chunks created or refused; ``unsent`` the input
    indices that were not sent (nothing of theirs reached Jira).
    """

    def __init__(
        self, message: str, *, partial: BulkCreateResult, unsent: range, fix: str = ""
    ) -> None:
        super().__init__(message, fix=fix)
        self.partial = partial
        self.unsent = unsent


class JiraAuthError(JiraPermanentError):
    """401: Jira rejected the credentials."""


class JiraPermissionError(JiraPermanentError):
    """403: the user is known but lacks a permission."""


class JiraNotFound(JiraPermanentError):
    """404: the project, issue or endpoint does not exist, or the user cannot see it.

    ``messages`` holds what Jira said (it tells a missing issue from a missing property).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = 404,
        fix: str = "",
        messages: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message, status=status, fix=fix)
        self.messages = messages


class JiraBadRequest(JiraPermanentError):
    """400: Jira refused the request body; ``field_errors`` maps field id to the reason."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = 400,
        fix: str = "",
        field_errors: Mapping[str, str] | None = None,
        messages: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message, status=status, fix=fix)
        self.field_errors = dict(field_errors or {})
        self.messages = messages


class JiraInvalidIssueType(JiraBadRequest):
    """400 on ``issuetype``: the issue type is not valid for this project.

    ``choices`` names the types the user can create there, when they are known.
    """

    choices: tuple[str, ...] = ()


class JiraGone(JiraPermanentError):
    """410: Jira removed the endpoint (Cloud's old ``/search``)."""


class JiraRequestRejected(JiraPermanentError):
    """Any other 4xx answer."""


class JiraUnexpectedResponse(JiraPermanentError):
    """A successful answer whose body is not what the API documents."""


class JiraResponseTooLarge(JiraUnexpectedResponse):
    """The answer was larger than ``jira.max_response_bytes``; reading stopped at the cap."""


def _text_of(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _short(text: str) -> str:
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def _from_html(text: str) -> str:
    title = _TITLE.search(text)
    if title:
        return _short(unescape(title.group(1)))
    return _short(unescape(_TAG.sub(" ", text)))


def _from_error_list(errors: list[Any]) -> list[str]:
    messages: list[str] = []
    for entry in errors:
        if isinstance(entry, dict) and isinstance(entry.get("elementErrors"), dict):
            # Bulk create: one entry per refused element, numbered from 0.
            inner = _from_json(entry["elementErrors"])
            number = entry.get("failedElementNumber", "?")
            messages.extend(f"issue {number}: {m}" for m in inner.all_messages())
        elif isinstance(entry, dict) and isinstance(entry.get("message"), str):
            # Atlassian's other error shape: [{"context", "message", "exceptionName"}].
            messages.append(_short(entry["message"]))
        elif isinstance(entry, str):
            messages.append(_short(entry))
    return messages


def _from_json(data: Any) -> ErrorBody:
    if isinstance(data, str):
        return ErrorBody(messages=(_short(data),) if data.strip() else ())
    if isinstance(data, list):
        return ErrorBody(messages=tuple(_short(_text_of(item)) for item in data))
    if not isinstance(data, dict):
        return ErrorBody(messages=(_short(_text_of(data)),)) if data is not None else ErrorBody()
    messages: list[str] = []
    raw_messages = data.get("errorMessages")
    if isinstance(raw_messages, list | tuple):
        messages.extend(_short(_text_of(m)) for m in raw_messages)
    elif raw_messages:
        messages.append(_short(_text_of(raw_messages)))
    for key in ("message", "errorMessage"):
        if isinstance(data.get(key), str) and data[key].strip():
            messages.append(_short(data[key]))
    errors = data.get("errors")
    field_errors: dict[str, str] = {}
    if isinstance(errors, dict):
        field_errors = {str(k): _short(_text_of(v)) for k, v in errors.items()}
    elif isinstance(errors, list):
        messages.extend(_from_error_list(errors))
    return ErrorBody(messages=tuple(messages), field_errors=field_errors)


def parse_error_body(
    status: int, headers: Mapping[str, str], text: str, content_type: str = ""
) -> ErrorBody:
    """Whatever Jira put in an error answer, as messages and per-field errors.

    Never raises: an unreadable body becomes its (shortened) text.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    reason = lowered.get("x-authentication-denied-reason")
    if status == 403 and reason:
        return ErrorBody(messages=(_short(reason),))
    if not text.strip():
        return ErrorBody()
    stripped = text.lstrip()
    if "html" in content_type.lower() or stripped[:1] == "<":
        return ErrorBody(messages=(_from_html(text),))
    try:
        data = json.loads(text)
    except ValueError:
        return ErrorBody(messages=(_short(text),))
    return _from_json(data)


def _who(context: RequestContext) -> str:
    return context.user or "the configured user"


def _auth_error(context: RequestContext, body: ErrorBody, headers: Mapping[str, str]) -> JiraError:
    login_reason = {k.lower(): v for k, v in headers.items()}.get("x-seraph-loginreason", "")
    if "AUTHENTICATION_DENIED" in login_reason:
        return JiraAuthError(
            f"Jira locked the login of {_who(context)} behind a CAPTCHA (401)",
            status=401,
            fix="log in to Jira once in a browser as that user to clear the CAPTCHA",
        )
    if context.oauth:
        return JiraAuthError(
            "Jira rejected the OAuth access (401): the grant was revoked or has expired",
            status=401,
            fix="connect again: `syncengine jira connect PROJECT` (or Connect on the "
            "integration page)",
        )
    if context.bearer:
        return JiraAuthError(
            "Jira rejected the personal access token (401)",
            status=401,
            fix="create a new personal access token in Jira (Profile → Personal Access Tokens)",
        )
    return JiraAuthError(
        f"Jira rejected the API token for {_who(context)} (401)",
        status=401,
        fix=(
            f"create a new token at {TOKEN_URL_CLOUD} (Cloud) or a personal access token "
            "(Data Center), and check the user is the account's e-mail (Cloud) or "
            "username (Data Center)"
        ),
    )


def _permission_error(context: RequestContext, body: ErrorBody) -> JiraError:
    if any("basic authentication has been disabled" in m.lower() for m in body.messages):
        # Data Center 10+ blocks Basic auth by default (the atlassian-authentication plugin).
        return JiraAuthError(
            "Basic authentication is disabled on this Jira (403)",
            status=403,
            fix='use a personal access token (jira.auth = "bearer") or OAuth (jira.auth = '
            '"oauth1" or "oauth2", then `syncengine jira connect PROJECT`)',
        )
    said = f": {body.summary()}" if body.messages or body.field_errors else ""
    where = f" in project {context.project_key}" if context.project_key else ""
    permission = f"the '{context.permission}' permission" if context.permission else "permission"
    return JiraPermissionError(
        f"Jira refused to {context.operation} for {_who(context)}: missing permission{said}",
        status=403,
        fix=f"grant {_who(context)} {permission}{where} (Jira project settings → Permissions)",
    )


def _not_found(context: RequestContext, body: ErrorBody, path: str) -> JiraError:
    said = body.summary()
    if context.issue:
        return JiraNotFound(
            f"Issue {context.issue} does not exist or {_who(context)} cannot see it (404)",
            status=404,
            fix="it may have been deleted or moved; check the issue and the user's Browse Projects"
            " permission",
            messages=body.messages,
        )
    if context.project_key:
        return JiraNotFound(
            f"Project {context.project_key} does not exist or the user cannot see it (404)",
            status=404,
            fix=(
                f"check jira.project_key ({context.project_key}) and that {_who(context)} has "
                "the Browse Projects permission on it"
            ),
            messages=body.messages,
        )
    return JiraNotFound(
        f"Jira has no {path} (404){': ' + said if said else ''}",
        status=404,
        fix="check jira.url: it should be the site or end in /rest/api/2/",
        messages=body.messages,
    )


def _bad_request(context: RequestContext, body: ErrorBody) -> JiraError:
    fields = body.field_errors
    if "issuetype" in fields:
        return JiraInvalidIssueType(
            f"The issue type is not valid for this project{_in(context)}: {fields['issuetype']}",
            fix="set jira.issue_type to one of the project's issue types (see `syncengine doctor`)",
            field_errors=fields,
            messages=body.messages,
        )
    if "project" in fields and context.project_key:
        return JiraBadRequest(
            f"Project {context.project_key} does not exist or the user cannot see it: "
            f"{fields['project']}",
            fix=f"check jira.project_key ({context.project_key}) and the user's permissions",
            field_errors=fields,
            messages=body.messages,
        )
    if fields:
        listed = "; ".join(f"{k}: {v}" for k, v in fields.items())
        extra = f" ({'; '.join(body.messages)})" if body.messages else ""
        return JiraBadRequest(
            f"Jira rejected fields to {context.operation}: {listed}{extra}",
            fix=(
                "put the fields on the project's create/edit screen, or remove them from "
                "jira.custom_fields; give every required custom field a value"
            ),
            field_errors=fields,
            messages=body.messages,
        )
    said = body.summary() or "no reason given"
    return JiraBadRequest(
        f"Jira refused to {context.operation}: {said}",
        fix="correct the request as the message says (required fields go in jira.custom_fields)",
        messages=body.messages,
    )


def _in(context: RequestContext) -> str:
    return f" {context.project_key}" if context.project_key else ""


def error_from_response(  # noqa: PLR0911 one return per status family reads best
    status: int,
    headers: Mapping[str, str],
    text: str,
    *,
    context: RequestContext,
    path: str,
    retry_after: float | None = None,
    content_type: str = "",
) -> JiraError:
    """The typed error for an answer with ``status`` >= 400, with a fix for the operator.

    ``text`` must already be free of secrets; it is only quoted shortened.
    """
    body = parse_error_body(status, headers, text, content_type)
    said = body.summary()
    if 300 <= status < 400:
        location = {k.lower(): v for k, v in headers.items()}.get("location", "elsewhere")
        return JiraRequestRejected(
            f"Jira redirected the request to {context.operation} ({status}) to {location}",
            status=status,
            fix="set jira.url to the address Jira lives at (https, final host name); a redirect "
            "to a login page means an SSO proxy stands in front of the REST API",
        )
    if status == 400:
        return _bad_request(context, body)
    if status == 401:
        return _auth_error(context, body, headers)
    if status == 403:
        return _permission_error(context, body)
    if status == 404:
        return _not_found(context, body, path)
    if status == 410:
        return JiraGone(
            f"Jira removed the endpoint {path} (410){': ' + said if said else ''}",
            status=410,
            fix="this site is Jira Cloud, which searches with /rest/api/3/search/jql: set "
            'jira.deployment = "cloud" (or "auto")',
        )
    if status == 429:
        wait = f" (retry after {retry_after:g}s)" if retry_after is not None else ""
        return JiraRateLimited(
            f"Jira rate-limited the request to {context.operation}{wait}",
            status=429,
            fix="lower jira.requests_per_second or jira.max_concurrency if this persists",
            # No Retry-After: still wait Atlassian's 5 s at least before the outbox tries again.
            retry_after=retry_after if retry_after is not None else 5.0,
        )
    if status >= 500:
        return JiraUnavailable(
            f"Jira failed to {context.operation}: {status}{': ' + said if said else ''}",
            status=status,
            fix="Jira is failing or overloaded; the work is kept and retried",
            retry_after=retry_after,
        )
    return JiraRequestRejected(
        f"Jira refused to {context.operation}: {status}{': ' + said if said else ''}",
        status=status,
        fix="correct the request as the message says",
    )
