"""The request-head deadline holds with either HTTP parser (h11, the fallback, and httptools).

A real uvicorn server on a free port serves a trivial app through
:func:`guarded_protocol`; a connection that sends no head, or drips one, is closed
within the deadline, and a client that sends its request in time is answered.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import uvicorn

from syncengine.entrypoints.server import guarded_protocol

DEADLINE = 0.5
SLACK = 3.0  # scheduling on a loaded two-core machine


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _serve(parser: str) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    config = uvicorn.Config(
        _app,
        host="127.0.0.1",
        port=0,
        http=guarded_protocol(DEADLINE, parser=parser),  # type: ignore[arg-type]
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(1000):  # up to 10 s to bind
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started, "the test server did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, int(port)


async def _closed_after(reader: asyncio.StreamReader) -> float:
    start = time.monotonic()
    await asyncio.wait_for(reader.read(), timeout=DEADLINE + SLACK)
    return time.monotonic() - start


@pytest.mark.parametrize("parser", ["h11", "httptools"])
async def test_a_silent_or_dripping_head_is_cut_off_and_a_prompt_one_answered(
    parser: str,
) -> None:
    server, task, port = await _serve(parser)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await _closed_after(reader) < DEADLINE + SLACK
        writer.close()

        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        start = time.monotonic()
        for byte in b"GET / HTTP/1.1\r\nHost: x\r\n":
            if reader.at_eof() or writer.is_closing():
                break
            writer.write(bytes([byte]))
            await asyncio.sleep(0.05)
        await asyncio.wait_for(reader.read(), timeout=DEADLINE + SLACK)
        assert time.monotonic() - start < DEADLINE + SLACK + 2
        writer.close()

        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(200), timeout=SLACK)
        assert answer.startswith(b"HTTP/1.1 200")
        # Answered, the connection waits for the next head under the same deadline.
        assert await _closed_after(reader) < DEADLINE + SLACK
        writer.close()
    finally:
        server.should_exit = True
        await task
