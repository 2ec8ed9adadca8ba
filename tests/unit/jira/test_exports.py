"""What ``syncengine.jira`` exports is what its modules define (as httpx checks its own)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import syncengine.jira

MODULES = sorted(
    m.name
    for m in pkgutil.iter_modules(syncengine.jira.__path__, "syncengine.jira.")
    if not m.name.endswith(".simulator")
)


@pytest.mark.parametrize("name", ["syncengine.jira", *MODULES])
def test_every_name_in_all_exists(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert sorted(exported) == sorted(set(exported)), f"{name}: duplicates in __all__"
    for attribute in exported:
        assert hasattr(module, attribute), f"{name}.__all__ names missing {attribute}"


def test_the_package_exports_the_client_surface() -> None:
    public = set(syncengine.jira.__all__)
    assert {"JiraClient", "JiraConfig", "JiraIssue", "NewIssue", "SiteLimiters"} <= public
    errors = importlib.import_module("syncengine.jira.errors")
    for name in errors.__all__:
        value = getattr(errors, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, syncengine.errors.JiraError), name
