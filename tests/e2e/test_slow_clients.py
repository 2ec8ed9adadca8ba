"""Slow and idle clients against the real ``serve`` process, over real sockets.

A client dripping a byte every half second (in its request head or its body), a
thousand connections that never finish a request, or a body far past its limit
cannot hold the server's sockets or memory for long. The server runs with short
timeouts (1 s for a head, 1.5 s for a body) so each test is bounded in seconds.
"""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from syncengine.domain.webhooks import sign
from tests.e2e.conftest import Server
from tests.memory import MiB, reset_peak, status_bytes

pytestmark = pytest.mark.slow

SECRET = "hook-secret-for-slow-clients"
HEAD_TIMEOUT, BODY_TIMEOUT = 1.0, 1.5
SLACK = 2.0  # scheduling on a loaded two-core machine
HALF_OPEN = 1000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("slow-clients")
    config = folder / "syncengine.toml"
    config.write_text(
        f'data_dir = "{folder}/data"\n'
        "[http]\n"
        f"header_timeout_seconds = {HEAD_TIMEOUT}\n"
        f"body_timeout_seconds = {BODY_TIMEOUT}\n"
        "keep_alive_seconds = 1\n"
        f"max_connections = {HALF_OPEN + 200}\n"
        "[projects.shop]\n"
        'submission_tokens = ["slow-clients-token"]\n'
        "[projects.shop.jira]\n"
        f'webhook_secret = "{SECRET}"\n',
        encoding="utf-8",
    )
    started = Server(config)
    try:
        started.wait_ready()
        yield started
    finally:
        if started.proc.poll() is None:
            started.stop()
        started.close()


def _connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _closed_by_server(sock: socket.socket) -> bool:
    """True when the server has closed (EOF or reset); reads any answer it sent first."""
    try:
        sock.setblocking(False)
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except BlockingIOError:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True
    finally:
        sock.setblocking(True)


def _drip(sock: socket.socket, data: bytes, *, gap: float, give_up: float) -> float | None:
    """Send ``data`` a byte every ``gap`` seconds; seconds until the server closed, or None."""
    started = time.monotonic()
    for byte in data:
        if time.monotonic() - started > give_up:
            return None
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - started
        time.sleep(gap)
        if _closed_by_server(sock):
            return time.monotonic() - started
    return None


def _open_fds(server: Server) -> int:
    return len(list(Path(f"/proc/{server.proc.pid}/fd").iterdir()))


def test_a_request_head_dripped_a_byte_at_a_time_is_cut_off(server: Server) -> None:
    with _connect(server) as sock:
        took = _drip(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" * 4, gap=0.5, give_up=10)
    assert took is not None, "the server kept a dripping request head open for 10 s"
    assert took < HEAD_TIMEOUT + SLACK


def test_a_body_dripped_a_byte_at_a_time_gets_408_and_is_cut_off(server: Server) -> None:
    head = (
        b"POST /api/v1/jira/webhooks/shop HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    with _connect(server) as sock:
        sock.sendall(head)
        started = time.monotonic()
        answer = b""
        for _ in range(40):  # 20 s at most
            try:
                sock.sendall(b" ")
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.5)
            sock.setblocking(False)
            try:
                chunk = sock.recv(65536)
            except BlockingIOError:
                chunk = None
            except ConnectionResetError:
                break
            finally:
                sock.setblocking(True)
            if chunk == b"":
                break
            answer += chunk or b""
        took = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"http.body_timeout_seconds" in answer
    assert took < BODY_TIMEOUT + SLACK


def test_a_thousand_half_open_connections_are_closed_and_others_are_served(
    server: Server,
) -> None:
    baseline = _open_fds(server)
    sockets = []
    try:
        for index in range(HALF_OPEN):
            sock = _connect(server)
            if index % 2:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # a head that never ends
            sockets.append(sock)
        opened = time.monotonic()
        # Meanwhile, anyone else is served.
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
        waiting = selectors.DefaultSelector()
        for sock in sockets:
            waiting.register(sock, selectors.EVENT_READ)
        open_ones = set(sockets)
        deadline = opened + HEAD_TIMEOUT + SLACK + 3
        while open_ones and time.monotonic() < deadline:
            for key, _ in waiting.select(timeout=0.2):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if _closed_by_server(sock):
                    waiting.unregister(sock)
                    open_ones.discard(sock)
        waiting.close()
        assert not open_ones, f"{len(open_ones)} of {HALF_OPEN} still open after the deadline"
        # The server let go of them all.
        assert _open_fds(server) < baseline + 20
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
    finally:
        for sock in sockets:
            sock.close()


def test_a_huge_chunked_body_is_refused_at_its_limit_with_bounded_memory(server: Server) -> None:
    pid = server.proc.pid
    reset_peak(pid)
    before = status_bytes("VmRSS", pid)
    head = (
        b"POST /api/v1/jira/webhooks/shop HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        b"X-Hub-Signature: " + sign(SECRET.encode(), b"{}").encode() + b"\r\n\r\n"
    )
    piece = MiB
    chunk = f"{piece:x}\r\n".encode() + b"x" * piece + b"\r\n"
    sent = 0
    answer = b""
    with _connect(server) as sock:
        sock.sendall(head)
        try:
            for _ in range(128):  # 128 MiB offered; the limit is 5 MiB
                sock.sendall(chunk)
                sent += piece
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(5)
        try:
            while data := sock.recv(65536):
                answer += data
        except (ConnectionResetError, TimeoutError):
            pass
    grown = status_bytes("VmHWM", pid) - before
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"larger than 5 MiB" in answer
    assert sent < 64 * MiB, f"the server kept reading: {sent // MiB} MiB taken"
    assert grown < 32 * MiB, f"server RSS grew {grown / MiB:.0f} MiB"


def _answer_and_close(sock: socket.socket) -> tuple[bytes, bool]:
    answer, closed = b"", False
    sock.settimeout(5)
    try:
        while data := sock.recv(65536):
            answer += data
        closed = True
    except ConnectionResetError:
        closed = True
    except TimeoutError:
        pass
    return answer, closed


@pytest.mark.parametrize("whole", [True, False], ids=["whole-head", "unfinished-head"])
def test_a_request_head_past_max_header_bytes_is_refused_and_closed(
    server: Server, whole: bool
) -> None:
    # http.max_header_bytes is 16 KiB by default, with either HTTP parser.
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"p" * 40_000
    with _connect(server) as sock:
        sock.sendall(head + (b"\r\n\r\n" if whole else b""))
        answer, closed = _answer_and_close(sock)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert closed
    with _connect(server) as sock:  # a normal head on a new connection is served
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"p" * 8000 + b"\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
