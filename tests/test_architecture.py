"""The shape of the package (docs/architecture.md): parts import only what the design allows.

Four rules, each checked over every module of ``syncengine/``:

- the domain stays pure (no framework, no adapter, no I/O library);
- only ``store/`` speaks SQL (SQLAlchemy, Alembic and the database drivers are imported
  nowhere else);
- each part imports only the parts the table below allows (a part outside the table is
  itself a failure, so a new folder has to be placed here and in docs/architecture.md);
- no import cycle between modules (imports under ``TYPE_CHECKING`` excepted, function-level
  imports included: a cycle broken by a late import is still a cycle a reader must untangle).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "syncengine"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"

FOREIGN_IN_DOMAIN = {"sqlalchemy", "httpx", "fastapi", "starlette", "apscheduler", "uvicorn"}
SQL = {"sqlalchemy", "alembic", "aiosqlite", "psycopg", "psycopg2", "asyncpg", "sqlite3"}

# part -> the syncengine parts it may import (docs/architecture.md, "Parts").
# A part is a folder of syncengine/ ("jira.simulator" is the simulator folder, apart from
# the client) or a top-level module.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "logs": set(),
    "metrics": set(),
    "domain": {"errors"},
    "store": {"domain", "errors"},
    "jira": {"domain", "errors"},
    "jira.simulator": {"domain"},
    "ingest": {"domain", "store", "errors"},
    "sync": {"domain", "store", "jira", "errors", "logs", "metrics"},
    "support": {"domain", "store", "jira", "errors", "logs"},
    "settings": {"domain", "jira", "errors"},
    "web": {
        "domain",
        "store",
        "ingest",
        "sync",
        "support",
        "errors",
        "logs",
        "metrics",
        "__init__",
    },
    "__init__": set(),
}
# The composition root and the entry points wire everything.
ALLOWED["bootstrap"] = set(ALLOWED) | {"entrypoints"}
ALLOWED["entrypoints"] = set(ALLOWED) - {"entrypoints"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def part_of(module: str) -> str:
    """The part a ``syncengine.…`` module belongs to (``__init__`` for the package itself)."""
    pieces = module.split(".")[1:]
    if not pieces:
        return "__init__"
    if pieces == ["__main__"]:  # `python -m syncengine` is the CLI
        return "entrypoints"
    if pieces[:2] == ["jira", "simulator"]:
        return "jira.simulator"
    return pieces[0]


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imported(module: str, path: Path) -> set[str]:
    """Every module name ``path`` imports (absolute, relative ones resolved), all levels."""
    names: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if _is_type_checking(node):
                continue
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from syncengine.jira import client` imports the module jira.client (the
                # package itself only as every submodule import does, which is no edge).
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    names.add(sub if sub in MODULES else base)
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    visit([child])

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return names


def _owning_module(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def test_every_module_belongs_to_a_known_part() -> None:
    unknown = {m for m in MODULES if part_of(m) not in ALLOWED}
    assert not unknown, f"place these in ALLOWED and docs/architecture.md: {sorted(unknown)}"


@pytest.mark.parametrize(
    "module", [m for m in MODULES if part_of(m) == "domain"], ids=lambda m: m.split(".")[-1]
)
def test_domain_imports_no_framework_or_adapter(module: str) -> None:
    for name in _imported(module, MODULES[module]):
        assert name.split(".")[0] not in FOREIGN_IN_DOMAIN | SQL, f"{module} imports {name}"


def test_only_the_store_speaks_sql() -> None:
    offenders = [
        f"{module} imports {name}"
        for module, path in MODULES.items()
        if part_of(module) != "store"
        for name in _imported(module, path)
        if name.split(".")[0] in SQL
    ]
    assert not offenders


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_parts_import_only_what_the_design_allows(part: str) -> None:
    offenders = []
    for module, path in MODULES.items():
        if part_of(module) != part:
            continue
        for name in _imported(module, path):
            target = _owning_module(name) if name.startswith("syncengine") else None
            if target is None:
                continue
            other = part_of(target)
            if other != part and other not in ALLOWED[part]:
                offenders.append(f"{module} imports {name} ({other})")
    assert not offenders


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root, edges_of_root in graph.items():
        if root in index:
            continue
        work = [(root, iter(sorted(edges_of_root)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports (a package's ``__init__`` stands for it)."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        targets = {_owning_module(n) for n in _imported(module, path) if n.startswith("syncengine")}
        graph[module] = {t for t in targets if t is not None and t != module}
    return graph


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycle_anywhere() -> None:
    assert _cycles(import_graph()) == []


def _documented_parts() -> dict[str, set[str]]:
    """The "Parts" table of docs/architecture.md: part -> what its "may import" cell allows."""
    rows: dict[str, set[str]] = {}
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\|\s*`([\w/.]+)`\s*\|.*\|\s*([^|]*?)\s*\|$", line)
        if not match:
            continue
        name = match[1].removesuffix("/").removesuffix(".py").replace("/", ".")
        cells = [p.strip(" `").replace("/", ".") for p in match[2].split(",")]
        if cells == ["everything"]:
            rows[name] = set(ALLOWED) - {name}
        else:
            rows[name] = {c for c in cells if c not in {"—", ""}}
    return rows


def test_the_architecture_page_matches_the_rules() -> None:
    documented = _documented_parts()
    assert set(documented) == set(ALLOWED)
    for part, allowed in ALLOWED.items():
        assert documented[part] == allowed, f"docs/architecture.md row of {part}"


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


_JQL_OPERATOR = re.compile(
    r"\b(project|labels|id|key|issue|issuekey|status|assignee|reporter|updated|created|text)"
    r"\s*(=|!=|~|>=|<=|>|<|\bin|\bnot in)\s*\(?$",
    re.IGNORECASE,
)


def _jql_helper_call(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "jql"
    )


def test_jql_values_go_through_the_quoting_helper() -> None:
    """A value placed after a JQL operator in an f-string is ``jql.quote/values/ids(...)``."""
    offenders = []
    for module, path in MODULES.items():
        if part_of(module) == "jira.simulator" or module == "syncengine.jira.jql":
            continue  # the simulator parses JQL; jql.py is the helper itself
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.JoinedStr):
                continue
            before = ""
            for piece in node.values:
                if isinstance(piece, ast.Constant):
                    before += str(piece.value)
                    continue
                assert isinstance(piece, ast.FormattedValue)
                if _JQL_OPERATOR.search(before) and not _jql_helper_call(piece.value):
                    offenders.append(f"{module}:{node.lineno}: {ast.unparse(node)}")
                before = ""
    assert not offenders


def test_each_outbox_kind_is_named_once() -> None:
    from syncengine.store import work_kinds

    kinds = {getattr(work_kinds, name) for name in work_kinds.__all__} - {work_kinds.PUSHING_KINDS}
    offenders = [
        f"{module}:{node.lineno} writes {node.value!r}"
        for module, path in MODULES.items()
        if module != "syncengine.store.work_kinds"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and node.value in kinds
    ]
    assert not offenders, "take the kind from syncengine.store.work_kinds"


def test_one_outbox_retry_and_drop_path() -> None:
    """The dashboard page and the API both retry and drop through IntegrationAdmin.act."""
    users = {
        module
        for module, path in MODULES.items()
        if part_of(module) not in {"store", "jira.simulator"}
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr in {"requeue", "drop"}
    }
    assert users == {"syncengine.sync.integration_admin"}
    callers = {
        module
        for module, path in MODULES.items()
        if part_of(module) == "web"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "act"
    }
    assert callers == {"syncengine.web.integration_pages", "syncengine.web.api_integration"}
