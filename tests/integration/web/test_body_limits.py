"""Every route reads at most its limit before authentication or parsing; memory stays bounded.

In-process (httpx's ASGI transport runs the app in this process), so the RSS of
this process is the server's. Bodies are made as they are read: the test never
holds them, and counts how much of each the app pulled.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from syncengine.bootstrap import Container, bootstrap, prepare_projects
from syncengine.domain.webhooks import sign
from syncengine.settings import Settings
from syncengine.support.validation import MAX_ATTACHMENTS
from syncengine.web import create_app
from tests.integration.web.conftest import csrf_of, sign_in, web_settings_data
from tests.memory import MiB, StreamedBody

HOOK_SECRET = "hook-secret-for-limits"
TOKEN = "submission-token-for-limits"
# Far past every limit: today's main reads and parses all of it.
HUGE = 256 * MiB
# What may be held at once around a refused body: a few chunks and the answer.
BOUND = 24 * MiB
CHUNK = 64 * 1024


@pytest.fixture
async def container(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Container]:
    path = tmp_path / "store.db"
    shutil.copyfile(sqlite_template, path)
    data = web_settings_data(f"sqlite+aiosqlite:///{path}")
    data["projects"]["api"]["jira"]["webhook_secret"] = HOOK_SECRET
    data["projects"]["api"]["submission_tokens"] = [TOKEN]
    data["http"] = {"body_timeout_seconds": 0.5}
    built = await bootstrap(Settings(**data), migrate=False, support_jira={})
    try:
        await prepare_projects(built, lambda _line: None)
        yield built
    finally:
        await built.aclose()


def _client(container: Container) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(container.web))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30)


FORM = "application/x-www-form-urlencoded"
# The head of a multipart body whose one file then never ends.
MULTIPART_FILE = (
    b'--b\r\nContent-Disposition: form-data; name="attachments"; filename="a.txt"\r\n'
    b"Content-Type: text/plain\r\n\r\n"
)


ROUTES = [
    ("/api/v1/jira/webhooks/api", "application/json", 5 * MiB),  # the webhook receiver
    # A JSON body model: FastAPI reads and parses it before the auth dependency runs.
    ("/api/v1/projects/api/groups/1/state", "application/json", 1 * MiB),
    ("/admin/groups/1/state", FORM, 1 * MiB),  # a dashboard form (read for its CSRF token)
    ("/login", FORM, 64 * 1024),  # sign-in
    # The portal's upload form: every attachment at its limit, and the fields.
    ("/projects/api/support", "multipart/form-data; boundary=b", 2000 * MAX_ATTACHMENTS + MiB),
]


@pytest.mark.parametrize(("url", "content_type", "limit"), ROUTES)
async def test_a_streamed_body_past_the_limit_is_refused_as_it_passes(
    container: Container, url: str, content_type: str, limit: int
) -> None:
    async with _client(container) as client:
        prefix = MULTIPART_FILE if content_type.startswith("multipart/") else b""
        body = StreamedBody(HUGE, chunk=CHUNK, prefix=prefix)
        answer = await client.post(url, content=body, headers={"Content-Type": content_type})
    assert answer.status_code == 413, answer.text[:300]
    assert "larger than" in answer.text
    assert answer.headers["connection"] == "close"
    # The app stopped reading at the limit (plus the chunk in hand and the one httpx
    # reads ahead), not at the end.
    assert body.pulled <= limit + 2 * CHUNK, (url, body.pulled)
    assert body.growth < BOUND, f"{url}: RSS grew {body.growth / MiB:.0f} MiB"


@pytest.mark.parametrize(("url", "content_type", "limit"), ROUTES)
async def test_an_announced_body_past_the_limit_is_refused_before_a_byte_is_read(
    container: Container, url: str, content_type: str, limit: int
) -> None:
    async with _client(container) as client:
        body = StreamedBody(limit + 1, chunk=CHUNK)
        answer = await client.post(
            url,
            content=body,
            headers={"Content-Length": str(limit + 1), "Content-Type": content_type},
        )
    assert answer.status_code == 413, url
    assert body.pulled <= 2 * CHUNK, "only what httpx reads ahead"
    assert answer.headers["connection"] == "close"


async def test_bodies_within_their_limit_are_read_as_before(container: Container) -> None:
    payload = b"{}"
    signed = {"X-Hub-Signature": sign(HOOK_SECRET.encode(), payload)}
    async with _client(container) as client:
        hook = await client.post("/api/v1/jira/webhooks/api", content=payload, headers=signed)
        assert hook.status_code == 400
        assert "not a Jira issue event" in hook.json()["detail"]
        state = await client.post("/api/v1/projects/api/groups/1/state", json={"state": "open"})
        assert state.status_code == 401
        assert "connection" not in state.headers, "a body read whole keeps the connection"


async def test_browsers_get_a_page_and_the_api_a_problem_document(container: Container) -> None:
    async with _client(container) as client:
        page = await client.post(
            "/login",
            content=b"x" * (65 * 1024),
            headers={"Accept": "text/html", "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert page.status_code == 413
        assert page.headers["content-type"].startswith("text/html")
        assert "larger than 64 KiB" in page.text
        api = await client.post(
            "/api/v1/projects/api/support-requests",
            content=MULTIPART_FILE + b"x" * (2 * MiB),
            headers={"Accept": "text/html", "Content-Type": "multipart/form-data; boundary=b"},
        )
        assert api.status_code == 413
        assert api.headers["content-type"] == "application/problem+json"
        assert "attach fewer or smaller files" in api.json()["detail"]


async def test_the_intake_keeps_its_own_limit_and_answer(container: Container) -> None:
    limit = container.settings.ingest.max_request_bytes
    async with _client(container) as client:
        body = StreamedBody(limit + 4 * MiB)
        answer = await client.post(
            "/api/v1/projects/api/reports",
            content=body,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        assert answer.status_code == 413
        assert answer.json()["type"].endswith("body-too-large")
        assert "ingest.max_request_bytes" in answer.json()["detail"]
        assert body.pulled <= limit + MiB
        # Bigger than the default limit of other routes, smaller than the intake's: accepted.
        reports = b"\n".join(
            b'{"classifier":"E","message":"m","attributes":{"pad":"%s"}}' % (b"p" * 1000)
            for _ in range(1500)
        )
        assert len(reports) > container.web.config.max_body_bytes
        accepted = await client.post(
            "/api/v1/projects/api/reports",
            content=reports,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"},
        )
        assert accepted.status_code == 202, accepted.text[:300]


async def _dripped(parts: list[bytes], gap: float) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
        await asyncio.sleep(gap)


async def test_a_body_that_does_not_arrive_in_time_gets_408(container: Container) -> None:
    # http.body_timeout_seconds is 0.5 here: one byte every 0.2 s never finishes 100 bytes.
    async with _client(container) as client:
        started = asyncio.get_running_loop().time()
        answer = await client.post(
            "/api/v1/jira/webhooks/api",
            content=_dripped([b"x"] * 100, 0.2),
            headers={"Content-Type": "application/json"},
        )
        took = asyncio.get_running_loop().time() - started
    assert answer.status_code == 408, answer.text
    assert "http.body_timeout_seconds" in answer.json()["detail"]
    assert took < 3


async def test_a_signed_in_form_within_the_limit_still_works(container: Container) -> None:
    async with _client(container) as client:
        csrf = await sign_in(client, "root")
        page = await client.get("/admin/integration")
        assert csrf_of(page.text)
        switched = await client.post(
            "/admin/integration/api", data={"active": "false", "csrf_token": csrf}
        )
        assert switched.status_code == 303
    project = await container.projects.get("api")
    assert project is not None
    assert not project.integration_active
