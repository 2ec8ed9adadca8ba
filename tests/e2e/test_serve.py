"""The real server process: starts on the default shape, answers health, stops cleanly."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import httpx

from tests.e2e.conftest import Server

REPO = Path(__file__).resolve().parents[2]


def test_serve_default_config_answers_health(tmp_path: Path, serve: type[Server]) -> None:
    config = tmp_path / "syncengine.toml"
    shutil.copy(REPO / "config" / "syncengine.toml", config)
    text = config.read_text().replace('data_dir = "data"', f'data_dir = "{tmp_path}/data"')
    config.write_text(text)
    server = serve(config, {"SYNCENGINE_DEMO_TOKEN": "demo-token-for-the-e2e-test"})
    server.wait_ready()
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/readyz").status_code == 200
    assert server.stop() == 0
    log = server.log.read_text()
    assert "demo-token-for-the-e2e-test" not in log
    assert "project demo: 1 submission token(s) configured" in log
    assert "demo…" not in log
    assert (tmp_path / "data" / "syncengine.db").exists()


def test_broken_config_exits_before_binding(tmp_path: Path, serve: type[Server]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("port = 'nope'\n")
    server = serve(config)
    assert server.proc.wait(timeout=30) == 2
    assert "config error:" in server.log.read_text()
    try:
        httpx.get(f"{server.url}/healthz", timeout=1)
        raise AssertionError("something answered on the port")
    except httpx.TransportError:
        pass


def test_listening_is_said_only_once_the_port_is_bound(tmp_path: Path, serve: type[Server]) -> None:
    config = tmp_path / "syncengine.toml"
    config.write_text(f'data_dir = "{tmp_path}/data"\n')
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = serve(config, port=taken.getsockname()[1])
        assert server.proc.wait(timeout=60) != 0
    log = server.log.read_text()
    assert "address already in use" in log
    assert "listening on" not in log


def test_a_taken_port_keeps_the_one_time_password_and_says_what_to_do(
    tmp_path: Path, serve: type[Server]
) -> None:
    config = tmp_path / "syncengine.toml"
    config.write_text(f'data_dir = "{tmp_path}/data"\n[web]\ngenerate_admin = true\n')
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = serve(config, port=port)
        assert server.proc.wait(timeout=60) == 1
    log = server.log.read_text()
    assert f"cannot listen on 127.0.0.1:{port}" in log
    assert "--port" in log
    assert "Traceback" not in log
    assert "password" not in log
    assert not (tmp_path / "data" / "dashboard-admin.json").exists()
    server = serve(config)  # a free port: the first real start makes the password
    server.wait_ready()
    assert server.stop() == 0
    lines = server.log.read_text().splitlines()
    (said,) = [line for line in lines if "as admin, password" in line]
    assert lines.index(said) > next(i for i, x in enumerate(lines) if "listening on" in x)
