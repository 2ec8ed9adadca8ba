"""Jira's error answers, raised inside the simulator and rendered by the app.

Each shape here is one Jira really sends (see ``/work/shared/jira/fixtures/
error_responses``): ``errorMessages`` + ``errors``, Cloud's ``message`` +
``status-code`` for 401, and plain text or HTML where Jira answers so.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ISSUE_NOT_FOUND",
    "ConnectionDropped",
    "JiraHttpError",
    "bad_request",
    "field_errors",
    "forbidden",
    "not_found",
]


class JiraHttpError(Exception):
    """An HTTP error answer: status, JSON (or text) body and extra headers."""

    def __init__(
        self,
        status: int,
        body: dict[str, Any] | str,
        *,
        headers: dict[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.media_type = media_type
        super().__init__(f"{status}: {body!r}"[:300])


class ConnectionDropped(Exception):
    """Raised after a write to make the server drop the connection unanswered."""


def _messages(*messages: str, errors: dict[str, str] | None = None) -> dict[str, Any]:
    return {"errorMessages": list(messages), "errors": dict(errors or {})}


def bad_request(*messages: str) -> JiraHttpError:
    """400 with ``errorMessages``."""
    return JiraHttpError(400, _messages(*messages))


def field_errors(errors: dict[str, str]) -> JiraHttpError:
    """400 with per-field ``errors``."""
    return JiraHttpError(400, _messages(errors=errors))


def forbidden(message: str) -> JiraHttpError:
    """403 with ``errorMessages``."""
    return JiraHttpError(403, _messages(message))


def not_found(message: str) -> JiraHttpError:
    """404 with ``errorMessages``."""
    return JiraHttpError(404, _messages(message))


ISSUE_NOT_FOUND = "Issue does not exist or you do not have permission to see it."
