"""The effective settings as plain data with every secret masked (``syncengine config check``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, SecretStr

from syncengine.settings import Settings, mask_secret

__all__ = ["display_settings"]


def _holds_secret(annotation: Any) -> bool:
    """A field typed ``SecretStr`` (or ``SecretStr | None``): shown "(unset)" when None too."""
    return annotation is SecretStr or SecretStr in get_args(annotation)


def _dump_for_display(value: Any) -> Any:
    """Settings as plain data with every secret masked (for ``config check``)."""
    if isinstance(value, SecretStr):
        return mask_secret(value)
    if isinstance(value, BaseModel):
        masked = getattr(type(value), "_masked", ())
        return {
            name: mask_secret(getattr(value, name))
            if name in masked or _holds_secret(field.annotation)
            else _dump_for_display(getattr(value, name))
            for name, field in type(value).model_fields.items()
        }
    if isinstance(value, dict):
        return {str(k): _dump_for_display(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_dump_for_display(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def display_settings(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data, secrets masked."""
    # Imported here: the bootstrap package builds the whole engine, config check needs one rule.
    from syncengine.bootstrap.startup import session_secret_kept

    shown: dict[str, Any] = _dump_for_display(settings)
    kept = session_secret_kept(settings)
    if kept is not None:
        # Not configured, yet serve signs sessions with a key it makes once and keeps.
        made = "generated" if kept.exists() else "generated at the first start"
        shown["web"]["session_secret"] = f"({made}, kept in {kept})"
    shown["database_url"] = _mask_url(settings.database_url)
    shown["effective_database_url"] = _mask_url(settings.effective_database_url)
    return shown


def _mask_url(url: str) -> str:
    return re.sub(r"://([^:/@]+):([^@]+)@", r"://\1:***@", url)
