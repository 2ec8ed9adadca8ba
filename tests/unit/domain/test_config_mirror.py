"""The domain's config values mirror the settings key for key, so conversion stays one-to-one.

domain/ may not import settings; these tests catch the two drifting apart (a renamed
key, a new choice in a Literal, a changed default).
"""

from __future__ import annotations

import dataclasses
import enum
import typing
from typing import Any

import pytest
from pydantic import BaseModel

from syncengine.domain.fixversions import FixVersionConfig
from syncengine.domain.merge import ConflictPolicy, SyncMode
from syncengine.domain.regression import RegressionConfig
from syncengine.domain.rules import AttributeFilter, FilterOp, TicketRules
from syncengine.domain.statuses import StatusMapping
from syncengine.domain.versions import VersionScheme
from syncengine.settings import AttributeFilter as AttributeFilterSettings
from syncengine.settings import ProjectSettings, RuleSettings, SyncSettings


def _literal_choices(model: type[BaseModel], name: str) -> set[str]:
    annotation = model.model_fields[name].annotation
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        # The setting is typed with the domain's enum itself: its choices are the enum's.
        return {str(member.value) for member in annotation}
    args = typing.get_args(annotation)
    if args and typing.get_origin(args[0]) is typing.Literal:  # tuple[Literal[...], ...]
        args = typing.get_args(args[0])
    return {str(arg) for arg in args}


def _domain_defaults(cls: type[Any]) -> dict[str, Any]:
    values = {}
    for item in dataclasses.fields(cls):
        if item.default is not dataclasses.MISSING:
            values[item.name] = item.default
        elif item.default_factory is not dataclasses.MISSING:
            values[item.name] = item.default_factory()
    return values


@pytest.mark.parametrize(
    ("enum", "model", "key"),
    [
        (VersionScheme, SyncSettings, "version_scheme"),
        (SyncMode, SyncSettings, "mode"),
        (ConflictPolicy, SyncSettings, "conflict_policy"),
        (FilterOp, AttributeFilterSettings, "op"),
    ],
)
def test_enums_have_exactly_the_settings_choices(
    enum: type[Any], model: type[BaseModel], key: str
) -> None:
    assert {member.value for member in enum} == _literal_choices(model, key)


def test_ticket_rules_mirror_rule_settings() -> None:
    settings = RuleSettings()
    domain = _domain_defaults(TicketRules)
    assert set(domain) - {"version_scheme"} == set(RuleSettings.model_fields)
    assert domain["enabled"] == settings.enabled
    assert domain["min_occurrences"] == settings.min_occurrences
    assert domain["window_minutes"] == settings.window_minutes
    assert domain["filters"] == settings.filters
    assert [s.value for s in domain["never_states"]] == list(settings.never_states)


def test_attribute_filter_mirrors_its_settings() -> None:
    names = {item.name for item in dataclasses.fields(AttributeFilter)}
    assert names == set(AttributeFilterSettings.model_fields)
    assert AttributeFilterSettings.model_fields["op"].default == FilterOp.EQUALS.value


@pytest.mark.parametrize("cls", [FixVersionConfig, RegressionConfig, StatusMapping])
def test_sync_values_use_the_sync_settings_names_and_defaults(cls: type[Any]) -> None:
    settings = SyncSettings()
    # Keys the settings do not have (yet): where they come from instead.
    elsewhere = {
        "version_attribute": ProjectSettings().version_attribute,
        "new_issue_resolutions": None,
    }
    for name, default in _domain_defaults(cls).items():
        if name in elsewhere:
            if elsewhere[name] is not None:
                assert default == elsewhere[name]
            continue
        assert name in SyncSettings.model_fields, f"{cls.__name__}.{name} is not a sync setting"
        expected = getattr(settings, name)
        if isinstance(expected, dict):
            assert dict(default) == expected
        else:
            assert default == expected, name
