"""Reads the description templates once at start: the bundled ones and the user's folder.

The bundled templates ship inside the package (``syncengine/templates/``), so an
installed wheel has them; ``templates_dir`` (settings) holds the user's
overrides. Rendering (``syncengine.domain.description``) then works on the texts
and does no I/O.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from syncengine.domain.description import TemplateSources
from syncengine.errors import ConfigError

__all__ = ["load_template_sources"]

_SUFFIXES = (".j2", ".jinja", ".jinja2", ".html", ".txt")


def _walk(folder: Traversable, prefix: str = "") -> dict[str, str]:
    found: dict[str, str] = {}
    for entry in folder.iterdir():
        name = f"{prefix}{entry.name}"
        if entry.is_dir():
            found.update(_walk(entry, f"{name}/"))
        elif entry.name.endswith(_SUFFIXES):
            found[name] = entry.read_text(encoding="utf-8")
    return found


def bundled_templates() -> dict[str, str]:
    """The templates shipped in the package, by name (``jira/description.j2``)."""
    return _walk(resources.files("syncengine") / "templates")


def load_template_sources(templates_dir: Path | None) -> TemplateSources:
    """The bundled templates and those in ``templates_dir`` (when set).

    Raises :class:`~syncengine.errors.ConfigError` when ``templates_dir`` is set
    but is not a readable folder, or holds a template that is not UTF-8.
    """
    user: dict[str, str] = {}
    if templates_dir is not None:
        if not templates_dir.is_dir():
            raise ConfigError(
                [f"templates_dir: {templates_dir} is not a folder; create it or unset the key"]
            )
        try:
            user = _walk(templates_dir)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError([f"templates_dir: cannot read {templates_dir}: {exc}"]) from exc
    return TemplateSources(default=bundled_templates(), user=user)
