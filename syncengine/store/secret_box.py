"""Secrets at rest: what the store keeps of OAuth keys and tokens is Fernet ciphertext.

The key comes from the environment (``SYNCENGINE_SECRET_KEY`` by default) or a file; a
comma-separated list rotates keys: the first encrypts, every one decrypts, and
``syncengine secrets rotate`` re-encrypts what is stored with the first. The demo, with
neither set, makes a key file (mode 0600) under the data folder on first need.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from syncengine.errors import ConfigError, StoreError

__all__ = ["SecretBox", "SecretUnreadable", "generate_key", "load_secret_box"]


class SecretUnreadable(StoreError):
    """A stored secret cannot be decrypted with any configured key (permanent)."""

    transient = False


def generate_key() -> str:
    """A new random key (URL-safe base64, 32 bytes)."""
    return Fernet.generate_key().decode()


class SecretBox:
    """Encrypts and decrypts text with the configured keys (the first one encrypts)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ConfigError(["secrets: no encryption key; set SYNCENGINE_SECRET_KEY"])
        fernets: list[Fernet] = []
        for number, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.strip().encode()))
            except ValueError as exc:
                raise ConfigError(
                    [
                        f"secrets: key {number} is not a Fernet key (32 bytes, URL-safe base64); "
                        "make one with `syncengine secrets new-key`"
                    ]
                ) from exc
        self._box = MultiFernet(fernets)
        self.key_count = len(fernets)

    def seal(self, plaintext: str) -> str:
        """``plaintext`` encrypted (and authenticated) with the first key."""
        return self._box.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str) -> str:
        """The plaintext of ``sealed``.

        Raises:
            SecretUnreadable: no configured key opens it (a lost or removed key).
        """
        try:
            return self._box.decrypt(sealed.encode()).decode()
        except (InvalidToken, ValueError) as exc:
            raise SecretUnreadable(
                "a stored secret cannot be decrypted with the configured keys: put the key it "
                "was sealed with back in SYNCENGINE_SECRET_KEY (after the new one), or connect "
                "again (`syncengine jira connect PROJECT`)"
            ) from exc

    def reseal(self, sealed: str) -> str:
        """``sealed`` re-encrypted with the first key (key rotation)."""
        try:
            return self._box.rotate(sealed.encode()).decode()
        except InvalidToken as exc:
            raise SecretUnreadable(
                "a stored secret cannot be decrypted with the configured keys: keep the old "
                "key in SYNCENGINE_SECRET_KEY (after the new one) until `syncengine secrets "
                "rotate` has run"
            ) from exc


def load_secret_box(*, key_env: str, key_file: Path | None, data_dir: Path) -> SecretBox:
    """The box for the configured keys: ``$key_env``, else ``key_file``, else the demo's
    generated ``<data_dir>/secret.key`` (made, mode 0600, when missing).

    Raises:
        ConfigError: a key that is not a Fernet key, or a key file that cannot be read.
    """
    from_env = os.environ.get(key_env, "").strip()
    if from_env:
        return SecretBox([k for k in from_env.split(",") if k.strip()])
    path = key_file or data_dir / "secret.key"
    try:
        if key_file is None and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(generate_key() + "\n")
        text = path.read_text(encoding="ascii")
    except FileExistsError:
        text = path.read_text(encoding="ascii")
    except OSError as exc:
        raise ConfigError([f"secrets.key_file: cannot read {path}: {exc.strerror}"]) from exc
    return SecretBox([k for k in text.replace("\n", ",").split(",") if k.strip()])
