"""Background runtime: singleton jobs, the SQLite process lock, metrics, integration switch."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest

from syncengine.bootstrap import bootstrap, prepare_projects
from syncengine.entrypoints.cli import main
from syncengine.errors import StoreError
from syncengine.settings import load_settings
from syncengine.store.database import Database
from syncengine.store.locks import ProcessLock, advisory_lock
from syncengine.sync.scheduler import PeriodicJob
from syncengine.web import create_app


def config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "c.toml"
    path.write_text(
        f'data_dir = "{tmp_path}/data"\n[projects.shop]\nsubmission_tokens = ["tok-1234567890"]\n'
        + extra,
        encoding="utf-8",
    )
    return path


def test_sqlite_process_lock_refuses_a_second_holder(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/x.db"
    first, second = ProcessLock(url), ProcessLock(url)
    first.acquire()
    with pytest.raises(StoreError, match="syncengine api"):
        second.acquire()
    first.release()
    second.acquire()
    second.release()


@pytest.mark.postgres
async def test_advisory_lock_is_held_by_one_process_at_a_time(postgres_url: str) -> None:
    a, b = Database(postgres_url), Database(postgres_url)
    try:
        async with advisory_lock(a, "job.x") as held_a, advisory_lock(b, "job.x") as held_b:
            assert (held_a, held_b) == (True, False)
        async with advisory_lock(b, "job.x") as held_b:
            assert held_b
    finally:
        await a.aclose()
        await b.aclose()


async def test_background_runtime_runs_jobs_and_stops(tmp_path: Path) -> None:
    settings = load_settings(config(tmp_path))
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    container = await bootstrap(settings, jobs=[PeriodicJob(name="tick", seconds=0.05, func=job)])
    try:
        container.start_background()
        await asyncio.wait_for(ran.wait(), timeout=5)
    finally:
        await container.aclose()
    assert container.runtime is None


async def test_readyz_reports_integrations_and_metrics_render(tmp_path: Path) -> None:
    settings = load_settings(config(tmp_path))
    container = await bootstrap(settings)
    try:
        await prepare_projects(container, lambda _line: None)
        await container.projects.set_active("shop", False, actor="t", now=container.clock())
        transport = httpx.ASGITransport(app=create_app(container.web))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            ready = (await client.get("/readyz")).json()
            assert ready["checks"]["integrations"]["shop"]["status"] == "passive"
            metrics = await client.get("/metrics")
            assert metrics.status_code == 200
            assert 'syncengine_outbox_items{state="pending"} 0.0' in metrics.text
    finally:
        await container.aclose()


def test_integration_command_switches_and_audits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(config(tmp_path))
    assert main(["--config", path, "integration", "deactivate", "shop"]) == 0
    assert "shop: passive" in capsys.readouterr().out
    assert main(["--config", path, "integration", "status"]) == 0
    assert "shop: passive (0 outbox item(s) waiting)" in capsys.readouterr().out
    assert main(["--config", path, "integration", "activate"]) == 0
    assert "shop: active" in capsys.readouterr().out
    assert main(["--config", path, "integration", "status", "nope"]) == 1
    assert "no project 'nope'" in capsys.readouterr().err


async def test_request_id_is_echoed_or_made(tmp_path: Path) -> None:
    settings = load_settings(config(tmp_path))
    container = await bootstrap(settings)
    try:
        transport = httpx.ASGITransport(app=create_app(container.web))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
            assert given.headers["x-request-id"] == "abc-123"
            made = await client.get("/healthz", headers={"X-Request-ID": "<script>"})
            assert len(made.headers["x-request-id"]) == 16
            # The intake's routes, served in front of the FastAPI stack, answer the same way.
            for auth, status in (({"Authorization": "Bearer wrong"}, 403), ({}, 401)):
                sent = await client.post(
                    "/api/v1/projects/shop/reports",
                    json={"classifier": "E", "message": "m"},
                    headers={**auth, "X-Request-ID": "ingest-1"},
                )
                assert sent.status_code == status
                assert sent.headers["x-request-id"] == "ingest-1"
                assert sent.headers["x-content-type-options"] == "nosniff"
                assert sent.headers["x-frame-options"] == "DENY"
    finally:
        await container.aclose()


async def test_stop_lets_a_running_job_finish(tmp_path: Path) -> None:
    settings = load_settings(config(tmp_path))
    started, finished = asyncio.Event(), asyncio.Event()

    async def slow() -> None:
        started.set()
        await asyncio.sleep(0.3)
        finished.set()

    container = await bootstrap(settings, jobs=[PeriodicJob(name="slow", seconds=0.05, func=slow)])
    try:
        container.start_background()
        await asyncio.wait_for(started.wait(), timeout=5)
    finally:
        await container.aclose()
    assert finished.is_set(), "the running job was cancelled instead of finishing"


async def test_a_job_cut_off_by_a_stop_ends_quietly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = config(tmp_path)
    path.write_text("stop_grace_seconds = 0.1\n" + path.read_text(), encoding="utf-8")
    settings = load_settings(path)
    started, ended = asyncio.Event(), asyncio.Event()

    async def hung() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            ended.set()

    container = await bootstrap(settings, jobs=[PeriodicJob(name="hung", seconds=0.05, func=hung)])
    try:
        container.start_background()
        await asyncio.wait_for(started.wait(), timeout=5)
    finally:
        await container.aclose()
    # Cut off and ended before the store closed; the stop's warning says so, no error does
    # (APScheduler logged the cancellation as a failed job, with a traceback).
    assert ended.is_set()
    assert "cutting it off" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_a_job_still_running_at_its_next_time_is_skipped_once_by_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(config(tmp_path))
    runs: list[float] = []
    second = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def slow() -> None:
        runs.append(loop.time())
        if len(runs) >= 2:
            second.set()
        await asyncio.sleep(0.4)  # eight periods

    caplog.set_level(logging.INFO)
    container = await bootstrap(settings, jobs=[PeriodicJob(name="slow", seconds=0.05, func=slow)])
    try:
        container.start_background()
        await asyncio.wait_for(second.wait(), timeout=10)
    finally:
        await container.aclose()
    # One run at a time, the next once the first ended; the skips said once, by name.
    assert runs[1] - runs[0] >= 0.4
    skipped = [r for r in caplog.records if "still running at its next time" in r.getMessage()]
    assert len(skipped) >= 1
    assert all("slow" in r.getMessage() and r.levelno == logging.INFO for r in skipped)
    assert len(skipped) < 3  # not once per period
    assert "maximum number of running instances" not in caplog.text


@pytest.mark.postgres
async def test_a_job_longer_than_the_idle_transaction_limit_keeps_its_lock(
    postgres_url: str,
) -> None:
    """The lock's connection is idle, not idle in a transaction the server would end."""
    a = Database(postgres_url, idle_in_transaction_seconds=0.5)
    b = Database(postgres_url)
    try:
        async with advisory_lock(a, "job.long") as held_a:
            assert held_a
            await asyncio.sleep(1.5)  # the job runs on, past the limit
            async with advisory_lock(b, "job.long") as held_b:
                assert not held_b
        async with advisory_lock(b, "job.long") as held_b:
            assert held_b
    finally:
        await a.aclose()
        await b.aclose()
