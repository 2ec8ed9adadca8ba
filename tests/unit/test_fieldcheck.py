"""Validation of the configuration against real create screens: one list of problems."""

from __future__ import annotations

import pytest

from syncengine.bootstrap.template_sources import bundled_templates
from syncengine.domain.createmeta import CreateMeta, parse_createmeta
from syncengine.domain.description import DescriptionRenderer, TemplateSources
from syncengine.domain.fieldcheck import check_config
from syncengine.domain.fields import TicketTemplate
from tests.unit.samples import JIRA_CLI, MATTERMOST, group, load

RENDERER = DescriptionRenderer(TemplateSources(default=bundled_templates()))
CLOUD = "cloud-get-create-issue-metadata-for-project-many-fields.json"


def screen(issue_type: str = "Bug", name: str = CLOUD, project: str = "KT") -> CreateMeta:
    return parse_createmeta(load(MATTERMOST / name), project_key=project, issue_type=issue_type)


def test_the_default_configuration_fits_a_plain_bug_screen() -> None:
    assert check_config(TicketTemplate(project_key="KT"), screen(), cloud=True) == []
    problems = check_config(
        TicketTemplate(project_key="KT"), screen(), cloud=True, sample=group(), renderer=RENDERER
    )
    assert problems == []


def test_every_problem_in_one_list() -> None:
    template = TicketTemplate(
        project_key="KT",
        issue_type="Epic",
        summary="${broken",
        labels_field="Tags",
        custom_fields={
            "MJK - Radio Buttons": "7",  # not an allowed value
            "Nope": "x",  # not on the screen
            "attachment": "x",  # cannot be filled
            "MJK - Number Field": "lots",  # not a number
            "MJK - Date Picker": "$release_date",  # depends on the group: fine statically
        },
    )
    problems = check_config(template, screen("Epic"), cloud=True)
    by_field = {p.field: p for p in problems}
    assert set(by_field) == {
        "summary",
        "Tags",
        "customfield_10073",
        "Nope",
        "attachment",
        "customfield_10072",
        "customfield_10011",
    }
    assert "no matching '}'" in by_field["summary"].message
    assert "not on the create screen of KT / Epic" in by_field["Tags"].message
    assert "Labels (labels)" in by_field["Tags"].fix
    assert "use one of '1', '2'" in by_field["customfield_10073"].fix
    assert "cannot fill" in by_field["attachment"].message
    assert "not a number" in by_field["customfield_10072"].message
    assert by_field["customfield_10011"].blocking
    assert "Epic Name" in by_field["customfield_10011"].message
    assert all(p.fix for p in problems)


def test_required_fields_filled_by_templates_that_can_be_empty() -> None:
    template = TicketTemplate(
        project_key="KT", issue_type="Epic", custom_fields={"Epic Name": "$feature"}
    )
    (problem,) = check_config(template, screen("Epic"), cloud=True)
    assert problem.blocking
    assert "can expand to nothing" in problem.message
    assert "${hostname:-unknown}" in problem.fix
    fixed = TicketTemplate(
        project_key="KT", issue_type="Epic", custom_fields={"Epic Name": "${feature:-crashes}"}
    )
    assert check_config(fixed, screen("Epic"), cloud=True) == []


def test_a_sample_group_checks_templated_values() -> None:
    template = TicketTemplate(project_key="KT", custom_fields={"MJK - Select List 3": "$os"})
    assert check_config(template, screen(), cloud=True) == []
    (problem,) = check_config(template, screen(), cloud=True, sample=group(), renderer=RENDERER)
    assert problem.field == "customfield_10076"
    assert "'Linux' is not an allowed value" in problem.message


def test_required_fields_with_a_default_are_fine() -> None:
    meta = screen()
    priority = meta.find("priority")
    assert priority is not None
    assert priority.required
    assert priority.has_default
    assert all(
        p.field != "priority"
        for p in check_config(TicketTemplate(project_key="KT"), meta, cloud=True)
    )


def test_a_screen_without_summary_description_or_labels() -> None:
    createmeta = parse_createmeta(
        load(JIRA_CLI / "createmeta.json"), project_key="TEST", issue_type="Epic"
    )
    problems = check_config(
        TicketTemplate(project_key="TEST", issue_type="Epic"), createmeta, cloud=True
    )
    assert {p.field for p in problems} == {"summary", "description", "labels"}
    assert next(p for p in problems if p.field == "summary").blocking


@pytest.mark.parametrize("path", sorted(MATTERMOST.glob("*.json")), ids=lambda p: p.stem)
def test_every_recorded_screen_is_checked_without_error(path) -> None:  # type: ignore[no-untyped-def]
    data = load(path)
    for project in data["projects"]:
        for issue_type in project["issuetypes"]:
            meta = parse_createmeta(data, project_key=project["key"], issue_type=issue_type["name"])
            template = TicketTemplate(project_key=project["key"], issue_type=issue_type["name"])
            problems = check_config(template, meta, cloud=True, sample=group(), renderer=RENDERER)
            required = {
                key
                for key, raw in issue_type["fields"].items()
                if raw.get("required") and not raw.get("hasDefaultValue")
            } - {"project", "issuetype", "summary", "description"}
            assert {p.field for p in problems if p.blocking} == required


def test_a_broken_description_template_is_reported_without_a_sample() -> None:
    broken = DescriptionRenderer(
        TemplateSources(default=bundled_templates(), user={"jira/description.j2": "<blink>"})
    )
    (problem,) = check_config(
        TicketTemplate(project_key="KT"), screen(), cloud=True, renderer=broken
    )
    assert problem.field == "description"
    assert "<blink> is not supported" in problem.message
    assert (
        check_config(TicketTemplate(project_key="KT"), screen(), cloud=True, renderer=RENDERER)
        == []
    )


def test_label_templates_are_syntax_checked() -> None:
    template = TicketTemplate(project_key="KT", labels=("ok", "${bad"))
    (problem,) = check_config(template, screen(), cloud=True)
    assert problem.field == "labels"
