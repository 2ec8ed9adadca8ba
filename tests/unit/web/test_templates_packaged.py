"""The bundled pages ship inside the package (syncengine/templates/web)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from syncengine.web.page_templates import build_templates, bundled_templates_dir, static_dir

REPO = Path(__file__).resolve().parents[3]


def test_pages_live_in_the_package() -> None:
    assert bundled_templates_dir() == REPO / "syncengine" / "templates"
    assert (static_dir() / "style.css").is_file()


def test_wheel_includes_every_page_and_the_css() -> None:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "templates/web/**/*" in data["tool"]["setuptools"]["package-data"]["syncengine"]


def test_pages_autoescape_and_user_templates_override(tmp_path: Path) -> None:
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "error.html").write_text("custom {{ detail }}")
    env = build_templates(tmp_path).env
    assert env.get_template("web/error.html").render(detail="<b>") == "custom &lt;b&gt;"
    assert "{% block content %}" in env.loader.get_source(env, "web/base.html")[0]  # type: ignore[union-attr]
