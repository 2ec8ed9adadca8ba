"""Reading Jira's answers with a bound: a body is streamed and never held past its cap.

Jira (or a proxy in front of it) may answer with far more than any documented
answer holds. The body is read chunk by chunk, decoded (so a compressed bomb
counts at its decoded size), and the read stops as soon as the cap is passed.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

__all__ = ["BoundedBody", "read_bounded"]

# Hop headers that describe the wire form, not the decoded body kept.
_WIRE_HEADERS = ("content-encoding", "content-length", "transfer-encoding")


@dataclass(frozen=True, kw_only=True, slots=True)
class BoundedBody:
    """What was read of an answer: at most ``max_bytes``; ``complete`` when that was all."""

    response: httpx.Response
    """The answer with the bytes read as its content (already read; safe to ``.json()``)."""
    complete: bool


async def read_bounded(response: httpx.Response, *, max_bytes: int) -> BoundedBody:
    """Read a streamed ``response`` up to ``max_bytes`` decoded bytes, then close it.

    Raises:
        httpx.HTTPError: as reading the stream does (timeouts, a cut connection,
            undecodable content).
    """
    chunks: list[bytes] = []
    size = 0
    complete = True
    try:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                complete = False
                keep = len(chunk) - (size - max_bytes)
                chunks.append(chunk[:keep])
                break
            chunks.append(chunk)
    finally:
        await response.aclose()
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _WIRE_HEADERS]
    read = httpx.Response(
        response.status_code,
        headers=headers,
        content=b"".join(chunks),
        request=response.request,
        extensions=response.extensions,
    )
    return BoundedBody(response=read, complete=complete)
