"""Support portal latency through the real app (ASGI, SQLite), against GET /healthz.

Run: .venv/bin/python bench/portal.py
Signs in once, then times: the reference (GET /healthz), filing a request with a
10 KB attachment (POST, one transaction), the list page with 1,000 requests in the
project, one detail page, and the JSON list. Figures per call and as a ratio to
the reference (the machine is shared: ratios travel better than milliseconds).
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syncengine.bootstrap import bootstrap, prepare_projects
from syncengine.settings import Settings
from syncengine.store.support import NewSupportRequest
from syncengine.web import create_app
from syncengine.web.passwords import hash_password

ROUNDS = 50


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(ROUNDS):
            await call()
        best = min(best, (time.perf_counter() - start) / ROUNDS)
    return best


async def main() -> None:
    folder = Path(tempfile.mkdtemp())
    settings = Settings(
        data_dir=folder,
        projects={"api": {"integration_active": False, "support": {"enabled": True}}},
        web={
            "session_secret": "x" * 40,
            "users": {"root": {"password_hash": hash_password("pw"), "role": "admin"}},
        },
    )
    container = await bootstrap(settings, support_jira={})
    await prepare_projects(container, lambda _line: None)
    project = await container.projects.get("api")
    assert project is not None
    for n in range(1000):
        await container.support.requests.file(
            NewSupportRequest(
                project_id=project.id,
                reporter="root",
                label="Bug",
                summary=f"Request {n}",
                description="d",
            ),
            [],
            now=container.clock(),
        )
    app = create_app(container.web)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench"
    ) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', (await client.get("/login")).text)
        assert token
        await client.post(
            "/login", data={"username": "root", "password": "pw", "csrf_token": token.group(1)}
        )
        page = (await client.get("/projects/api/support/new")).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf
        form = {"csrf_token": csrf.group(1), "label": "Bug", "summary": "s", "description": "d"}
        attachment = [("attachments", ("log.txt", b"x" * 10_240, "text/plain"))]

        async def file() -> None:
            answer = await client.post("/projects/api/support", data=form, files=attachment)
            assert answer.status_code == 303

        cases = {
            "reference: GET /healthz": lambda: client.get("/healthz"),
            "file a request (10 KB file)": file,
            "list page (1,000 in project)": lambda: client.get("/projects/api/support"),
            "detail page": lambda: client.get("/projects/api/support/1"),
            "JSON list, 50 items": lambda: client.get("/api/v1/projects/api/support-requests"),
        }
        reference = None
        for name, case in cases.items():
            seconds = await timed(case)
            reference = reference or seconds
            print(f"{name:32} {seconds * 1e3:8.2f} ms  {seconds / reference:7.1f}x")
    await container.aclose()


if __name__ == "__main__":
    asyncio.run(main())
