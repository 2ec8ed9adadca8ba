"""A cheap HTTP/1.1 load generator, and the minimal server the single-event benches measure against.

The client keeps each connection alive and sends pre-built requests, reading
answers by ``Content-Length``: a fraction of httpx's cost per request, so the load
generator leaves the 2 cores to the server under test.

``python bench/raw_http.py PORT`` serves the reference: a bare asyncio server
that reads each request whole and answers ``200 {"id": "..."}``, i.e. what any
Python HTTP intake costs before it does any work (no framework, no parsing, no store).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field


def request(
    method: str, path: str, body: bytes, headers: dict[str, str], host: str = "127.0.0.1"
) -> bytes:
    """One HTTP/1.1 request, ready to write."""
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class Results:
    """What a load run saw: answers by status, latencies, wall time."""

    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    first_error: bytes = b""

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, close = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            close = True
    body = await reader.readexactly(length) if length else b""
    return status, body, close


async def send_all(
    port: int, requests: Sequence[bytes], concurrency: int, host: str = "127.0.0.1"
) -> Results:
    """Send every request once over ``concurrency`` keep-alive connections."""
    results = Results()
    position = 0

    async def worker() -> None:
        nonlocal position
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while position < len(requests):
                raw = requests[position]
                position += 1
                started = time.perf_counter()
                writer.write(raw)
                status, body, close = await _read_answer(reader)
                results.latencies.append(time.perf_counter() - started)
                results.statuses[status] = results.statuses.get(status, 0) + 1
                if status >= 300 and not results.first_error:
                    results.first_error = body[:500]
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    results.elapsed = time.perf_counter() - started
    return results


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    body = b'{"id":"00000000000000000000000000000000"}'
    answer = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(body), body)
    )
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            writer.write(answer)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve(port: int) -> None:
    server = await asyncio.start_server(_answer, "127.0.0.1", port, limit=1 << 24)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
