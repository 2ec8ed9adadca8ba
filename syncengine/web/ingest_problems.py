"""RFC 9457 problem documents for the intake's errors, and the per-item error lists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.responses import JSONResponse

from syncengine.errors import IngestError, StoreError, StoreRejected
from syncengine.ingest.problems import PROBLEM_TYPE_PREFIX, ItemProblem, RequestProblem
from syncengine.web.problem_documents import problem

__all__ = ["item_errors", "problem_response", "store_unavailable"]


def item_errors(problems: Sequence[ItemProblem]) -> list[dict[str, Any]]:
    """The bad items of a batch, as the answer lists them."""
    return [
        {
            "index": p.index,
            "type": PROBLEM_TYPE_PREFIX + p.kind,
            "status": p.status,
            "errors": [{"field": e.field, "problem": e.problem} for e in p.errors],
        }
        for p in problems
    ]


def problem_response(exc: IngestError) -> JSONResponse:
    """The problem document for an intake error (any 4xx of the tree)."""
    status = int(getattr(exc, "status_code", 400))
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="syncengine"'
    if isinstance(exc, RequestProblem):
        extra = {"errors": item_errors(exc.items)} if exc.items else {}
        return problem(status, exc.detail, kind=exc.kind, title=exc.title, headers=headers, **extra)
    return problem(
        status,
        str(exc),
        kind=str(getattr(exc, "kind", "bad-request")),
        title=str(getattr(exc, "title", "Bad request")),
        headers=headers,
    )


def store_unavailable(exc: StoreError) -> JSONResponse:
    """503 when the store could not take the reports: nothing was stored, retry later.

    422 instead when the store refused the data itself (retrying will not help).
    """
    if isinstance(exc, StoreRejected):
        return problem(
            422,
            f"the store refused the reports ({exc}); none was stored: fix them first",
            kind="report-rejected-by-store",
            title="Reports not stored",
        )
    return problem(
        503,
        f"the store could not take the reports ({exc}); none was stored: retry later",
        kind="store-unavailable",
        title="Reports not stored",
        headers={"Retry-After": "5"},
    )
