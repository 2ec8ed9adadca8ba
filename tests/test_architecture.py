"""The shape of the package: the domain stays pure, parts import only what DESIGN.md allows."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "syncengine"

FOREIGN_IN_DOMAIN = {"sqlalchemy", "httpx", "fastapi", "starlette", "apscheduler", "uvicorn"}
# part -> the syncengine parts it may import (DESIGN.md, "Parts").
ALLOWED = {
    "domain": {"domain", "errors"},
    "store": {"domain", "store", "errors"},
    "jira": {"domain", "jira", "errors"},
    "ingest": {"domain", "store", "ingest", "errors"},
    "sync": {"domain", "store", "jira", "sync", "errors", "metrics"},
    "support": {"domain", "store", "jira", "support", "sync", "errors"},
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(part: str) -> list[Path]:
    return sorted((PACKAGE / part).rglob("*.py"))


@pytest.mark.parametrize("path", _modules("domain"), ids=lambda p: p.name)
def test_domain_imports_no_framework_or_adapter(path: Path) -> None:
    for name in _imports(path):
        top = name.split(".")[0]
        assert top not in FOREIGN_IN_DOMAIN, f"{path.name} imports {name}"
        if top == "syncengine":
            part = name.split(".")[1] if "." in name else ""
            assert part in ALLOWED["domain"], f"{path.name} imports {name}"


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_parts_import_only_what_the_design_allows(part: str) -> None:
    for path in _modules(part):
        for name in _imports(path):
            pieces = name.split(".")
            if pieces[0] == "syncengine" and len(pieces) > 1:
                assert pieces[1] in ALLOWED[part], f"{path.relative_to(PACKAGE)} imports {name}"


def test_no_settings_or_engine_at_import_time() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Call):
                func = node.value.func
                called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                assert called not in {"Settings", "create_async_engine", "create_engine"}, (
                    f"{path.relative_to(PACKAGE)} builds {called} at import time"
                )


def test_modules_stay_small() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= 600, f"{path.relative_to(PACKAGE)} has {lines} lines; split it"
