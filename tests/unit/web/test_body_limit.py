"""The upload limit also stops a streamed (chunked) body with no Content-Length."""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from syncengine.web.upload_limit import UploadLimit


async def _reading_app(scope: Scope, receive: Receive, send: Send) -> None:
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b"stored"})


async def _call(path: str, chunks: list[bytes]) -> list[Message]:
    sent: list[Message] = []
    queue = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]

    async def receive() -> Message:
        return queue.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": []}
    await UploadLimit(_reading_app, limit=10)(scope, receive, send)
    return sent


async def test_streamed_body_over_the_limit_gets_413() -> None:
    sent = await _call("/api/v1/projects/p/support-requests", [b"12345", b"67890", b"x"])
    assert sent[0]["status"] == 413
    assert b"larger than" in sent[1]["body"]


async def test_bodies_within_the_limit_and_other_routes_pass() -> None:
    assert (await _call("/projects/p/support", [b"12345", b"67890"]))[0]["status"] == 201
    assert (await _call("/api/v1/ingest", [b"x" * 100]))[0]["status"] == 201
