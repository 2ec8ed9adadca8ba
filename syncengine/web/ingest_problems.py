"""RFC 9457 problem documents for the intake's errors, and the per-item error lists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.responses import JSONResponse

from syncengine.errors import IngestError, StoreError, StoreRejected
from syncengine.ingest.problems import PROBLEM_TYPE_PREFIX, ItemProblem, RequestProblem

__all__ = ["item_errors", "problem_response", "store_unavailable"]

PROBLEM_JSON = "application/problem+json"


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


def _document(
    *, kind: str, title: str, status: int, detail: str, items: Sequence[ItemProblem] = ()
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_PREFIX + kind,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if items:
        body["errors"] = item_errors(items)
    return body


def problem_response(exc: IngestError) -> JSONResponse:
    """The problem document for an intake error (any 4xx of the tree)."""
    status = int(getattr(exc, "status_code", 400))
    headers: dict[str, str] = {}
    if isinstance(exc, RequestProblem):
        body = _document(
            kind=exc.kind, title=exc.title, status=status, detail=exc.detail, items=exc.items
        )
    else:
        body = _document(
            kind=str(getattr(exc, "kind", "bad-request")),
            title=str(getattr(exc, "title", "Bad request")),
            status=status,
            detail=str(exc),
        )
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="syncengine"'
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def store_unavailable(exc: StoreError) -> JSONResponse:
    """503 when the store could not take the reports: nothing was stored, retry later.

    422 instead when the store refused the data itself (retrying will not help).
    """
    if isinstance(exc, StoreRejected):
        body = _document(
            kind="report-rejected-by-store",
            title="Reports not stored",
            status=422,
            detail=f"the store refused the reports ({exc}); none was stored: fix them first",
        )
        return JSONResponse(body, status_code=422, media_type=PROBLEM_JSON)
    body = _document(
        kind="store-unavailable",
        title="Reports not stored",
        status=503,
        detail=f"the store could not take the reports ({exc}); none was stored: retry later",
    )
    return JSONResponse(
        body, status_code=503, media_type=PROBLEM_JSON, headers={"Retry-After": "5"}
    )
