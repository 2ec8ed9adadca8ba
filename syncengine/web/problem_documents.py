"""Problem-details (RFC 9457) responses: every 4xx says what to fix, and is documented.

:func:`problem_document` is the one builder of a problem body, for the whole app (the
intake's answers in :mod:`syncengine.web.ingest_problems` included). Every ``type`` is
``urn:syncengine:problem:<kind>``: the kind a caller names (``body-too-large``,
``invalid-json``…), or, when the status says it all, the status's phrase
(``not-found``, ``conflict``).
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from syncengine.ingest.problems import PROBLEM_TYPE_PREFIX

__all__ = [
    "PROBLEM_JSON",
    "ProblemDetails",
    "problem",
    "problem_document",
    "problem_responses",
    "status_kind",
]

PROBLEM_JSON = "application/problem+json"


class ProblemDetails(BaseModel):
    """An error answer (RFC 9457): what went wrong and what to do about it."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description=f"``{PROBLEM_TYPE_PREFIX}<kind>``, e.g. ``…not-found``")
    title: str
    status: int
    detail: str


def status_kind(status: int) -> str:
    """The kind of a problem the status alone describes: ``404`` -> ``not-found``."""
    return re.sub(r"[^a-z0-9]+", "-", HTTPStatus(status).phrase.lower()).strip("-")


def problem_document(
    status: int, detail: str, *, kind: str | None = None, title: str | None = None, **extra: Any
) -> dict[str, Any]:
    """The body of a problem answer; ``extra`` members are added to it."""
    return {
        "type": PROBLEM_TYPE_PREFIX + (kind or status_kind(status)),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }


def problem(
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """An ``application/problem+json`` response (see :func:`problem_document`)."""
    body = problem_document(status, detail, kind=kind, title=title, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting problem answers with these statuses."""
    schema = {"$ref": "#/components/schemas/ProblemDetails"}
    return {
        status: {
            "model": ProblemDetails,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {"schema": schema}},
        }
        for status in statuses
    }
