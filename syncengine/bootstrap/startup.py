"""What a process does with a built engine before it serves: its projects and tokens."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from syncengine.bootstrap.container import Container
from syncengine.errors import ConfigError
from syncengine.settings import Settings, UserSettings
from syncengine.store.migrate import schema_is_current as _schema_is_current

__all__ = [
    "ADMIN_FILE",
    "SESSION_SECRET_FILE",
    "AdminSignIn",
    "prepare_projects",
    "schema_is_current",
    "session_secret_kept",
    "with_generated_admin",
    "with_session_secret",
]


async def schema_is_current(container: Container) -> bool:
    """True when the database is at the newest migration the code knows."""
    return await _schema_is_current(container.settings.effective_database_url)


async def prepare_projects(
    container: Container, echo: Callable[[str], None], *, only_new: bool = False
) -> None:
    """Make the configured projects and their tokens exist in the store.

    A project with ``generate_token`` and no token configured gets one generated
    on its first start — by whichever command starts first; it is printed once
    through ``echo`` and only its digest is kept. Configured tokens are only
    counted. With ``only_new`` nothing but a newly generated token is printed.
    """
    said = (lambda _line: None) if only_new else echo
    now = container.clock()
    for slug, project in container.settings.projects.items():
        record = await container.projects.ensure(
            slug, name=project.name, integration_active=project.integration_active, now=now
        )
        tokens = [t.get_secret_value() for t in project.submission_tokens]
        await container.projects.set_tokens(record.id, tokens, source="config", now=now)
        if tokens:
            # No character of a token is shown: a prefix and a length narrow a guess.
            said(f"project {slug}: {len(tokens)} submission token(s) configured")
        if tokens or not project.generate_token:
            continue
        token = await container.projects.generate_token_once(record.id, now=now)
        if token is None:
            env = project.submission_token_env or "a submission token"
            said(f"project {slug}: using the token generated at first start (set {env} to choose)")
            continue
        echo(f"project {slug}: generated submission token {token} (shown once: keep it)")


ADMIN_FILE = "dashboard-admin.json"
"""Where the generated dashboard admin's password hash is kept, under the data folder."""


@dataclass(frozen=True, kw_only=True)
class AdminSignIn:
    """How to sign in as the generated dashboard admin.

    At the first start ``password`` is the new password: nothing is kept or shown
    until :meth:`announce`, which the server calls once it listens, so a start that
    fails before (a taken port) does not use up the password shown only once.
    """

    path: Path
    login: str
    password: SecretStr | None = None
    """The new password (first start only); None when it was made at an earlier start."""
    password_hash: str = field(default="", repr=False)
    """The new password's hash, which :meth:`announce` keeps."""

    def announce(self, echo: Callable[[str], None]) -> None:
        """Keep a new password's hash (mode 0600) and say where to sign in, through ``echo``."""
        if self.password is None:
            echo(
                f"dashboard: sign in at {self.login} as admin with the password printed at "
                f"first start (delete {self.path} for a new one)"
            )
            return
        shown = f"{self.login} as admin, password {self.password.get_secret_value()}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Only the owner reads the hash: it is a password's offline target.
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"name": "admin", "password_hash": self.password_hash}, out)
        except FileExistsError:
            echo(
                f"dashboard: another process made the admin password at the same time (see its "
                f"output); restart this one to sign in with it (delete {self.path} for a new one)"
            )
        except OSError as exc:
            echo(
                f"dashboard: sign in at {shown}; it works only until this process stops: "
                f"{self.path} cannot be written ({exc.strerror or exc})"
            )
        else:
            echo(f"dashboard: sign in at {shown} (shown once: keep it)")


def with_generated_admin(settings: Settings) -> tuple[Settings, AdminSignIn | None]:
    """``settings`` with the generated dashboard admin, when ``web.generate_admin`` is on
    and no user is configured (else ``settings`` unchanged and None), and how to sign in.

    A first start makes a password; it is kept and shown by ``AdminSignIn.announce``.
    Raises ConfigError when the data folder's admin file is not one.
    """
    if not settings.web.generate_admin or settings.web.users:
        return settings, None
    path = settings.data_dir / ADMIN_FILE
    login = f"{settings.effective_public_url}/login"
    password: SecretStr | None = None
    try:
        password_hash = str(json.loads(path.read_text(encoding="utf-8"))["password_hash"])
    except FileNotFoundError:
        from syncengine.web.passwords import hash_password

        password = SecretStr(secrets.token_urlsafe(12))
        password_hash = hash_password(password.get_secret_value())
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            [f"{path}: not a dashboard admin file ({exc}); delete it to make a new admin"]
        ) from exc
    users = {"admin": UserSettings(password_hash=password_hash, role="admin")}
    web = settings.web.model_copy(update={"users": users})
    sign_in = AdminSignIn(
        path=path,
        login=login,
        password=password,
        password_hash=password_hash if password is not None else "",
    )
    return settings.model_copy(update={"web": web}), sign_in


SESSION_SECRET_FILE = "session-secret"  # noqa: S105 a file name, not a secret
"""Where the generated key that signs dashboard session cookies is kept, under the data folder."""


def session_secret_kept(settings: Settings) -> Path | None:
    """Where ``serve`` keeps the session key it generates (``<data_dir>/session-secret``);
    None when it makes none: one is configured, or nobody can sign in."""
    web = settings.web
    if web.session_secret is not None or not (web.users or web.generate_admin):
        return None
    return settings.data_dir / SESSION_SECRET_FILE


def with_session_secret(settings: Settings, echo: Callable[[str], None]) -> Settings:
    """``settings`` with ``web.session_secret`` from ``<data_dir>/session-secret`` when none
    is configured and someone can sign in (else ``settings`` unchanged).

    The first start makes the key (mode 0600: only the owner reads it), later starts and
    the other processes on the data folder read it, so sign-ins survive a restart. The key
    is never printed. Raises OSError when the data folder cannot be written, ConfigError
    when the file holds no key.
    """
    path = session_secret_kept(settings)
    if path is None:
        return settings
    web = settings.web
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it a moment ago: read that one
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(secrets.token_urlsafe(48) + "\n")
    if path.stat().st_mode & 0o077:
        echo(f"warning: {path} can be read by other users; chmod 600 it")
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < 32:
        raise ConfigError([f"{path}: not a session key (too short); delete it to make a new one"])
    return settings.model_copy(
        update={"web": web.model_copy(update={"session_secret": SecretStr(key)})}
    )
