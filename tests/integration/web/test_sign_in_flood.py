"""Sign-in under attack: the guesser waits, the admin gets in, hashing starves no one."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from syncengine.bootstrap import bootstrap, prepare_projects
from syncengine.settings import Settings
from syncengine.web import create_app, signin
from tests.integration.web.conftest import PASSWORDS, Web, _hash, csrf_of, web_settings_data

API = "/api/v1/projects/api/support-requests"


@pytest.fixture
def quick_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Password checks without argon2's cost, for tests of the throttle (not of hashing)."""
    known = {_hash(name): password for name, password in PASSWORDS.items()}
    monkeypatch.setattr(signin, "verify_password", lambda h, p: h is not None and known.get(h) == p)


@pytest.fixture
async def behind_proxy(database_url: str) -> AsyncIterator[Web]:
    """The web app behind a trusted reverse proxy at 127.0.0.1 (the test client's address)."""
    data = web_settings_data(database_url)
    data["http"] = {"trusted_proxies": ["127.0.0.1/32"]}
    container = await bootstrap(Settings(**data), migrate=False, support_jira={})
    try:
        await prepare_projects(container, lambda _line: None)
        transport = httpx.ASGITransport(app=create_app(container.web))
        yield Web(container=container, jira=None, app_transport=transport)  # type: ignore[arg-type]
    finally:
        await container.aclose()


async def _try(client: httpx.AsyncClient, user: str, password: str, **headers: str) -> int:
    token = csrf_of((await client.get("/login", headers=headers)).text)
    answer = await client.post(
        "/login",
        data={"username": user, "password": password, "csrf_token": token},
        headers=headers,
    )
    return answer.status_code


async def test_guessing_the_admin_never_locks_the_admin_out(
    behind_proxy: Web, quick_checks: None
) -> None:
    guesser = {"X-Forwarded-For": "203.0.113.66"}
    async with behind_proxy.client() as attacker:
        answers = [await _try(attacker, "root", f"guess-{n}", **guesser) for n in range(12)]
    assert answers[:5] == [401] * 5
    assert 429 in answers, "the guesser is made to wait"
    async with behind_proxy.client() as admin:
        assert (
            await _try(admin, "root", PASSWORDS["root"], **{"X-Forwarded-For": "10.1.2.3"}) == 303
        )
        assert (await admin.get(API)).status_code == 200


async def test_the_wait_is_announced(behind_proxy: Web, quick_checks: None) -> None:
    async with behind_proxy.client() as attacker:
        for n in range(5):
            await _try(attacker, "bob", f"guess-{n}", **{"X-Forwarded-For": "203.0.113.9"})
        token = csrf_of((await attacker.get("/login")).text)
        answer = await attacker.post(
            "/login",
            data={"username": "bob", "password": PASSWORDS["bob"], "csrf_token": token},
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "1"
    assert "Try again in 1 second." in answer.text


async def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(
    web: Web, quick_checks: None
) -> None:
    # No trusted proxies: every X-Forwarded-For below is the same client, 127.0.0.1.
    async with web.client() as attacker:
        answers = [
            await _try(attacker, f"user{n}", "wrong", **{"X-Forwarded-For": f"198.51.100.{n}"})
            for n in range(21)
        ]
        assert answers[:20] == [401] * 20
        assert answers[20] == 429, "a made-up X-Forwarded-For did not buy a fresh address"


class _Recorder:
    """A stand-in password check that is slow and records how many run at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()

    def __call__(self, password_hash: str | None, password: str) -> bool:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.seconds)
        with self._lock:
            self.running -= 1
        return False


async def _flood(web: Web, count: int) -> list[int]:
    async def one(n: int) -> int:
        async with web.client() as client:
            return await _try(client, f"flood{n}", "wrong")

    return await asyncio.gather(*(one(n) for n in range(count)))


async def test_twelve_parallel_sign_ins_are_checked_one_at_a_time(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = _Recorder(0.05)
    monkeypatch.setattr(signin, "verify_password", recorder)
    answers = await _flood(web, 12)
    assert answers == [401] * 12
    assert recorder.most == 1, f"{recorder.most} password checks ran at once"


async def test_sign_ins_past_the_queue_are_turned_away_with_503(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder: Callable[[str | None, str], bool] = _Recorder(0.2)
    monkeypatch.setattr(signin, "verify_password", recorder)
    answers = await _flood(web, 19)  # 16 are let in (one checked, 15 waiting), 3 turned away
    assert answers.count(401) == 16
    assert answers.count(503) == 3
