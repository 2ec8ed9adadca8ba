"""Filling a transition screen from configuration (pure)."""

from __future__ import annotations

from syncengine.domain.createmeta import FieldMeta
from syncengine.domain.transition_screen import fill_screen

SEVERITY = FieldMeta(
    id="customfield_10050",
    name="Severity",
    required=True,
    type="option",
    custom="com.atlassian.jira.plugin.system.customfieldtypes:select",
    allowed_values=({"id": "1", "value": "Major"}, {"id": "2", "value": "Minor"}),
)
NOTES = FieldMeta(
    id="customfield_10051",
    name="Notes",
    type="string",
    custom="com.atlassian.jira.plugin.system.customfieldtypes:textarea",
)
COMPONENTS = FieldMeta(
    id="components", name="Components", type="array", items="component", system="components"
)


def test_values_by_name_or_id_are_coerced_by_the_schema() -> None:
    filled = fill_screen(
        [SEVERITY, NOTES, COMPONENTS],
        {"severity": "minor", "customfield_10051": "Shipped", "Components": "api, web"},
        cloud=True,
        api_version=2,
    )
    assert filled.ready
    assert filled.values == {
        "customfield_10050": {"value": "Minor"},
        "customfield_10051": "Shipped",
        "components": [{"name": "api"}, {"name": "web"}],
    }


def test_rich_text_is_adf_on_v3() -> None:
    filled = fill_screen([NOTES], {"Notes": "Shipped"}, cloud=True, api_version=3)
    assert filled.values["customfield_10051"]["type"] == "doc"


def test_a_required_field_left_empty_and_a_value_that_does_not_fit() -> None:
    assert fill_screen([SEVERITY, NOTES], {}, cloud=True, api_version=2).missing == (SEVERITY,)
    wrong = fill_screen([SEVERITY], {"Severity": "Enormous"}, cloud=True, api_version=2)
    assert not wrong.ready
    assert "Severity (customfield_10050)" in wrong.problems[0]
    assert fill_screen([NOTES], {}, cloud=True, api_version=2).ready  # optional: nothing sent
