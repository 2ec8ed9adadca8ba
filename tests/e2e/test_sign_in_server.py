"""Sign-in throttling on the real server: real peers, real X-Forwarded-For, real uvicorn.

Loopback has many addresses: a guesser connects from 127.0.0.4, the admin from
127.0.0.2. Passwords are hashed with cheap argon2 parameters so the test is quick
(the check is the same code; only the hash's cost differs).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import Server
from tests.passwords import cheap_hash

pytestmark = pytest.mark.slow

GUESSERS = 21


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("sign-in")
    users = "".join(
        f'[web.users.user{n}]\npassword_hash = "{cheap_hash(f"pw-{n}")}"\n' for n in range(GUESSERS)
    )
    config = folder / "syncengine.toml"
    config.write_text(
        f'data_dir = "{folder}/data"\n[web]\nsession_secret = "{"s" * 40}"\n'
        f'[web.users.root]\npassword_hash = "{cheap_hash("root-password")}"\nrole = "admin"\n'
        f"{users}[projects.shop]\n",
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


def _client(server: Server, source: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=server.url, transport=transport, timeout=30)


def _try(client: httpx.Client, user: str, password: str, **headers: str) -> int:
    page = client.get("/login", headers=headers)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text[:300]
    answer = client.post(
        "/login",
        data={"username": user, "password": password, "csrf_token": found.group(1)},
        headers=headers,
    )
    client.cookies.clear()
    return answer.status_code


def test_a_guesser_cannot_lock_the_admin_out(server: Server) -> None:
    with _client(server, "127.0.0.4") as guesser:
        answers = [_try(guesser, "root", f"guess-{n}") for n in range(10)]
    assert answers[:5] == [401] * 5
    assert 429 in answers
    with _client(server, "127.0.0.2") as admin:
        assert _try(admin, "root", "root-password") == 303


def test_a_made_up_forwarded_for_buys_no_fresh_address(server: Server) -> None:
    # No http.trusted_proxies: X-Forwarded-For is not believed, even from 127.0.0.1
    # (uvicorn on its own believes it from there).
    with _client(server, "127.0.0.1") as guesser:
        answers = [
            _try(guesser, f"user{n}", "wrong", **{"X-Forwarded-For": f"198.51.100.{n}"})
            for n in range(GUESSERS)
        ]
    assert answers[:20] == [401] * 20
    assert answers[20] == 429
