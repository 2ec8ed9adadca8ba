"""What the first start leaves in the data folder for the dashboard: the generated admin and
the key that signs session cookies, each readable by its owner only."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from syncengine.bootstrap.startup import (
    ADMIN_FILE,
    SESSION_SECRET_FILE,
    with_generated_admin,
    with_session_secret,
)
from syncengine.errors import ConfigError
from syncengine.settings import Settings


def _demo(tmp_path: Path, **web: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", web={"generate_admin": True, **web})


def _admin(settings: Settings, said: list[str]) -> Settings:
    """``settings`` with the generated admin, announced as a server that started would."""
    settings, sign_in = with_generated_admin(settings)
    assert sign_in is not None
    sign_in.announce(said.append)
    return settings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_session_key_is_made_once_kept_private_and_never_printed(tmp_path: Path) -> None:
    said: list[str] = []
    first = with_session_secret(_admin(_demo(tmp_path), said), said.append)
    second = with_session_secret(_admin(_demo(tmp_path), said), said.append)
    key = first.web.session_secret
    assert key is not None
    assert second.web.session_secret == key  # a restart signs cookies with the same key
    path = tmp_path / "data" / SESSION_SECRET_FILE
    assert _mode(path) == 0o600
    assert _mode(tmp_path / "data" / ADMIN_FILE) == 0o600
    assert key.get_secret_value() in path.read_text()
    assert len(said) == 2  # the password once, then where to sign in; never the key
    assert not any(key.get_secret_value() in line for line in said)
    assert key.get_secret_value() in first.secret_values()  # so logs redact it


def test_a_configured_session_secret_or_no_sign_in_makes_no_file(tmp_path: Path) -> None:
    configured = _demo(tmp_path, session_secret="a-configured-secret-of-forty-characters!!")
    assert with_session_secret(configured, print) is configured
    nobody = Settings(data_dir=tmp_path / "data")
    assert with_session_secret(nobody, print) is nobody
    assert not (tmp_path / "data" / SESSION_SECRET_FILE).exists()


def test_a_session_key_file_others_can_read_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "data" / SESSION_SECRET_FILE
    path.parent.mkdir()
    path.write_text("k" * 64)
    path.chmod(0o644)
    said: list[str] = []
    assert with_session_secret(_demo(tmp_path), said.append).web.session_secret is not None
    assert said == [f"warning: {path} can be read by other users; chmod 600 it"]
    path.write_text("short")
    with pytest.raises(ConfigError, match="delete it"):
        with_session_secret(_demo(tmp_path), said.append)


def test_the_admin_password_is_kept_and_shown_only_when_announced(tmp_path: Path) -> None:
    settings, sign_in = with_generated_admin(_demo(tmp_path))
    assert sign_in is not None
    assert sign_in.password is not None
    assert not (tmp_path / "data" / ADMIN_FILE).exists()  # a start that fails keeps nothing
    assert sign_in.password.get_secret_value() not in repr(sign_in)
    said: list[str] = []
    sign_in.announce(said.append)
    (line,) = said
    assert sign_in.password.get_secret_value() in line
    assert settings.web.users["admin"].password_hash in (tmp_path / "data" / ADMIN_FILE).read_text()
