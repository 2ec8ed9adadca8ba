"""Problem-details (RFC 9457) responses: every 4xx says what to fix."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

__all__ = ["problem"]


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    """A ``application/problem+json`` response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")
