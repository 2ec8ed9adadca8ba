"""The intake's fast path takes exactly the requests FastAPI would route to the intake."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send

from syncengine.web.ingest_front import IngestFront

router = APIRouter()


@router.post("/{universe}/{token}/json")
async def catch_all(universe: str, token: str, request: Request, services: Any) -> Response:
    return JSONResponse({"front": [universe, token], "services": services})


@router.post("/api/{name}/json")
async def earlier(name: str) -> Response:  # pragma: no cover - the app behind answers it
    return JSONResponse({})


async def _behind(scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"behind": scope["path"]})(scope, receive, send)


async def _call(front: IngestFront, method: str, path: str) -> bytes:
    scope: Scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "headers": [(b"x-request-id", b"rid-1")],
        "query_string": b"",
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await front(scope, receive, send)
    return b"".join(m.get("body", b"") for m in sent)


async def test_only_posts_the_intake_routes_match_skip_the_app() -> None:
    (first, second) = router.routes
    front = IngestFront(_behind, routes=[first], before=[second], services="svc")
    assert await _call(front, "POST", "/u/t/json") == b'{"front":["u","t"],"services":"svc"}'
    assert await _call(front, "GET", "/u/t/json") == b'{"behind":"/u/t/json"}'
    assert await _call(front, "POST", "/u/t/xml") == b'{"behind":"/u/t/xml"}'
    # A route the app tries first keeps the paths it matches.
    assert await _call(front, "POST", "/api/x/json") == b'{"behind":"/api/x/json"}'
