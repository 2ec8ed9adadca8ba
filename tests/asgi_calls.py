"""Requests httpx cannot make: a sender that hangs up halfway through its body."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp


async def hang_up_mid_body(
    app: ASGIApp,
    path: str,
    body: bytes,
    headers: list[tuple[bytes, bytes]],
    *,
    query: bytes = b"",
) -> list[dict[str, Any]]:
    """POST half of ``body`` (JSON) to ``app``, then ``http.disconnect``, as ASGI says a
    sender (or a proxy) that cut the connection; returns what the app sent back."""
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": body[: len(body) // 2], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [
            (b"host", b"test"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("test", 80),
    }
    await app(scope, receive, send)
    return sent
