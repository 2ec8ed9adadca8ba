"""The command line: config check, db upgrade, and the served app's health."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from syncengine.bootstrap import bootstrap, prepare_projects
from syncengine.entrypoints.cli import main
from syncengine.settings import load_settings
from syncengine.web import create_app


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(f'data_dir = "{tmp_path}/data"\n' + text, encoding="utf-8")
    return path


def test_config_check_reports_every_problem_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        'colour = "blue"\nport = "x"\n[projects.p]\nsubmission_token_env = "UNSET_VAR_FOR_TEST"\n',
    )
    assert main(["--config", str(path), "config", "check"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"config error: {path}: ") for line in lines)
    assert any("colour: unknown key" in line for line in lines)
    assert any("projects.p.submission_token_env" in line for line in lines)


def test_config_check_masks_secrets_fully_and_shows_no_password_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token, jira_token = "Qx1-submission-value-Vb9", "Jt5-jira-api-value-Kp2"
    session = "Zq8-session-secret-value-xY7W"
    password_hash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
    monkeypatch.setenv("T", token)
    path = write(
        tmp_path,
        f'[web]\nsession_secret = "{session}"\n'
        f'[web.users.root]\npassword_hash = "{password_hash}"\nrole = "admin"\n'
        '[projects.p]\nsubmission_token_env = "T"\n'
        f'[projects.p.jira]\napi_token = "{jira_token}"\n',
    )
    assert main(["--config", str(path), "config", "check"]) == 0
    out = capsys.readouterr().out
    assert "configuration OK" in out
    # Not the secret, not its first or last characters, not its length.
    for secret in (token, jira_token, session):
        assert secret[:4] not in out
        assert secret[-3:] not in out
        assert f"{len(secret)} chars" not in out
    assert "$argon2" not in out
    assert password_hash[-12:] not in out
    assert out.count('"(set)"') >= 4


def test_db_upgrade(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "")
    assert main(["--config", str(path), "db", "upgrade"]) == 0
    assert "database at revision" in capsys.readouterr().out
    assert (tmp_path / "data" / "syncengine.db").exists()


async def test_app_health_and_generated_token(tmp_path: Path) -> None:
    path = write(tmp_path, "[projects.demo]\ngenerate_token = true\n")
    settings = load_settings(path)
    container = await bootstrap(settings)
    lines: list[str] = []
    try:
        await prepare_projects(container, lines.append)
        await prepare_projects(container, lines.append)
        app = create_app(container.web)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/healthz")).json() == {"status": "ok"}
            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text
    finally:
        await container.aclose()
    generated = [line for line in lines if "generated submission token" in line]
    assert len(generated) == 1, lines
    token = generated[0].split("token ")[1].split(" ")[0]
    assert "first start" in lines[1]
    container = await bootstrap(settings)
    try:
        assert await container.projects.authenticate("demo", token) is not None
    finally:
        await container.aclose()


def test_db_current_downgrade_and_upgrade(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from syncengine.store.migrate import head_revision

    path = write(tmp_path, "")
    assert main(["--config", str(path), "db", "current"]) == 0
    assert "database at revision base; the code's head is" in capsys.readouterr().out
    assert main(["--config", str(path), "db", "upgrade"]) == 0
    capsys.readouterr()
    assert main(["--config", str(path), "db", "current"]) == 0
    assert capsys.readouterr().out.strip() == f"database at revision {head_revision()} (head)"
    assert main(["--config", str(path), "db", "downgrade", "-1"]) == 0
    assert head_revision() not in capsys.readouterr().out
    assert main(["--config", str(path), "db", "downgrade", "base"]) == 0
    assert "base (no tables)" in capsys.readouterr().out
    assert main(["--config", str(path), "db", "upgrade"]) == 0


def test_db_revision_autogenerates_from_the_tables(tmp_path: Path) -> None:
    """A copy of the migrations without the newest file: the next revision writes it again."""
    import shutil

    from syncengine.store import migrate

    copy = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    newest = max((copy / "versions").glob("[0-9]*.py"))
    number = newest.name[:4]
    newest.unlink()
    written = migrate.new_revision("outbox waits for", migrations=copy)
    assert written.name == f"{number}_outbox_waits_for.py"
    text = written.read_text(encoding="utf-8")
    assert f"revision = '{number}'" in text
    assert "op." in text  # the difference between the tables and the older head, as operations
    empty = migrate.new_revision("nothing", migrations=copy, autogenerate=False)
    assert empty.name == f"{int(number) + 1:04d}_nothing.py"
    with pytest.raises(ValueError, match="message"):
        migrate.new_revision(" ", migrations=copy)
