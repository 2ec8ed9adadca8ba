"""Jinja2 pages: the bundled ``syncengine/templates/web/``, overridable by ``templates_dir``.

Autoescape is on for every page: whatever a user or Jira wrote is shown as text.
Templates get ``csrf_field()``, ``current_user`` and ``flashes()`` as globals;
:func:`flash` queues a message for the next page shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from syncengine.domain.sentences import audit_sentence, until_words
from syncengine.web.auth import current_user
from syncengine.web.csrf import csrf_field, csrf_token

__all__ = ["build_templates", "bundled_templates_dir", "flash", "page_csp", "render", "static_dir"]


def bundled_templates_dir() -> Path:
    """The templates shipped inside the package (``syncengine/templates``, in the wheel too)."""
    folder = Path(__file__).resolve().parent.parent / "templates"
    if not (folder / "web").is_dir():
        raise FileNotFoundError(f"bundled templates missing at {folder}: reinstall syncengine")
    return folder


def static_dir() -> Path:
    """The folder of the pages' CSS (served under ``/static``)."""
    return bundled_templates_dir() / "web" / "static"


def flash(request: Request, message: str, kind: str = "info") -> None:
    """Show ``message`` on the next page (kind: info, success or error)."""
    queued = list(request.session.get("flash", []))
    queued.append([kind, message])
    request.session["flash"] = queued[-5:]


def _flashes(request: Request) -> list[tuple[str, str]]:
    queued = request.session.pop("flash", [])
    return [(str(kind), str(message)) for kind, message in queued]


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def build_templates(templates_dir: Path | None) -> Jinja2Templates:
    """The page renderer: user templates first, then the bundled ones; autoescape on."""
    folders = [bundled_templates_dir()]
    if templates_dir is not None:
        folders.insert(0, templates_dir)
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(f)) for f in folders]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["until_words"] = until_words
    env.filters["audit_sentence"] = audit_sentence
    return Jinja2Templates(env=env)


# Pages use no script at all; styles only from this site.
_CSP = (
    "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


def page_csp(form_targets: Iterable[str] = ()) -> str:
    """The pages' policy, letting forms also lead to ``form_targets`` (origins): a form
    whose answer redirects elsewhere (the OAuth connect button, off to Jira) needs that."""
    return _CSP + "".join(f" {origin}" for origin in sorted(set(form_targets)))


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render page ``name`` with the common globals."""
    templates: Jinja2Templates = request.app.state.templates
    values: dict[str, Any] = {
        "current_user": current_user(request),
        "csrf_field": lambda: csrf_field(request),
        "csrf_token": lambda: csrf_token(request),
        "flashes": lambda: _flashes(request),
        **(context or {}),
    }
    return templates.TemplateResponse(
        request, name, values, status_code=status_code, headers=headers
    )
