"""`syncengine user hash-password`: a hash the sign-in accepts, without any config."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from syncengine.entrypoints.cli import main
from syncengine.web.passwords import verify_password


def test_hash_password_reads_stdin_and_needs_no_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no config/syncengine.toml here
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\n"))
    assert main(["user", "hash-password"]) == 0
    printed = capsys.readouterr().out.strip()
    # argon2-cffi's default cost (RFC 9106's second choice); tests sign in with cheaper
    # hashes (tests/passwords.py), so this is where the product's own cost is held.
    assert printed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert verify_password(printed, "correct horse battery")
    assert not verify_password(printed, "correct horse battery\n")


def test_hash_password_refuses_empty_input(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n"))
    assert main(["user", "hash-password"]) == 1
    assert "empty password" in capsys.readouterr().err


def test_hash_password_as_a_process(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "syncengine", "user", "hash-password"],
        input="pw-from-a-pipe-123",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert verify_password(done.stdout.strip(), "pw-from-a-pipe-123")
    assert "pw-from-a-pipe-123" not in done.stdout + done.stderr
