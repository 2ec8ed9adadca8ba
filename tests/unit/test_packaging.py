"""What a wheel holds: every file the package reads at run time, and one version string.

An installed package must run ``syncengine serve`` with no checkout: the default
configuration (``syncengine/defaults`` -> ``config/``), the migrations, the templates and
the simulator's ADF schema all ship inside it.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import syncengine

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "syncengine"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _data_files() -> list[str]:
    found = []
    for folder, dirs, files in os.walk(PACKAGE, followlinks=True):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if not name.endswith((".py", ".pyc")):
                found.append((Path(folder) / name).relative_to(PACKAGE).as_posix())
    return sorted(found)


def test_every_data_file_the_package_reads_is_package_data() -> None:
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["syncengine"]
    files = _data_files()
    assert "defaults/syncengine.toml" in files  # the shipped default configuration
    assert "defaults/reference.toml" in files
    # setuptools expands the patterns as globs from the package folder ("**" is any depth).
    shipped = {path.relative_to(PACKAGE).as_posix() for p in patterns for path in PACKAGE.glob(p)}
    missing = [f for f in files if f not in shipped]
    assert not missing, f"add to [tool.setuptools.package-data]: {missing}"


def test_the_defaults_are_the_config_folder() -> None:
    for name in ("syncengine.toml", "reference.toml"):
        shipped = (PACKAGE / "defaults" / name).read_bytes()
        assert shipped == (REPO / "config" / name).read_bytes()


def test_migrations_ship_as_package_modules() -> None:
    # Namespace packages are found (setuptools' default in pyproject): versions/ needs no
    # __init__.py to ship; switching that off would drop every migration from the wheel.
    assert PYPROJECT["tool"]["setuptools"]["packages"]["find"].get("namespaces", True)
    assert list((PACKAGE / "store" / "migrations" / "versions").glob("0001_*.py"))


def test_the_version_is_written_once() -> None:
    project = PYPROJECT["project"]
    assert "version" not in project
    assert "version" in project["dynamic"]
    dynamic = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "syncengine.__version__"}
    assert syncengine.__version__
