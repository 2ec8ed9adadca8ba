"""The fields of a create request, built from a group and the configuration."""

from __future__ import annotations

from typing import Any

import pytest

from syncengine.bootstrap.template_sources import bundled_templates
from syncengine.domain.adf import adf_problems
from syncengine.domain.createmeta import CreateMeta, parse_createmeta
from syncengine.domain.description import DescriptionRenderer, TemplateSources
from syncengine.domain.fields import (
    BuiltFields,
    TicketTemplate,
    build_fields,
    identity_label,
    text_body,
)
from tests.unit.samples import JIRA_CLI, MATTERMOST, group, load, value
from tests.unit.wiki_reader import read_text

RENDERER = DescriptionRenderer(TemplateSources(default=bundled_templates()))


def screen(issue_type: str = "Bug") -> CreateMeta:
    data = load(MATTERMOST / "cloud-get-create-issue-metadata-for-project-many-fields.json")
    return parse_createmeta(data, project_key="KT", issue_type=issue_type)


def build(template: TicketTemplate, createmeta: CreateMeta | None = None, **kw: Any) -> BuiltFields:
    kw.setdefault("cloud", True)
    g = kw.pop("group", None) or group()
    return build_fields(template, g, renderer=RENDERER, createmeta=createmeta, **kw)


def test_defaults_without_createmeta() -> None:
    built = build(TicketTemplate(project_key="CRASH"), identity=identity_label("demo-42"))
    fields = built.fields
    assert fields["project"] == {"key": "CRASH"}
    assert fields["issuetype"] == {"name": "Bug"}
    assert fields["summary"] == "SIGSEGV: invalid read of size 8 at 0x0000000000000010"
    assert fields["labels"] == ["syncengine", "syncengine-demo-42"]
    assert fields["description"].startswith("h2. SIGSEGV\n\ninvalid read")
    assert built.problems == ()
    assert not built.blocked


def test_summary_is_one_line_and_cut_at_255() -> None:
    g = group(message="line one\n\tline two " + "x" * 400)
    summary = build(TicketTemplate(project_key="C"), group=g).fields["summary"]
    assert summary.startswith("SIGSEGV: line one line two xxx")
    assert len(summary) == 255
    assert summary.endswith("…")


def test_empty_summary_falls_back_and_says_so() -> None:
    built = build(TicketTemplate(project_key="C", summary="$nothing"), group=group(classifier=""))
    assert built.fields["summary"] == "Error in demo"
    assert built.problems[0].field == "summary"
    assert not built.blocked


def test_labels_split_trim_and_lose_spaces() -> None:
    g = group(attributes={"team": (value("Core Platform", 2),)})
    template = TicketTemplate(project_key="C", labels=("crash, $team ,", "${channel:-beta build}"))
    assert build(template, group=g).fields["labels"] == ["crash", "Core_Platform", "beta_build"]


def test_labels_can_never_carry_an_identity_from_report_values() -> None:
    forged = identity_label("victim-1")
    g = group(attributes={"channel": (value(forged, 2),), "tag": (value("Syncengine- x", 1),)})
    template = TicketTemplate(project_key="C", labels=("crash", "$channel", "$tag"))
    built = build(template, group=g, identity=identity_label("own-7"))
    assert built.fields["labels"] == ["crash", "syncengine-own-7"]
    assert any("reserved" in p.message for p in built.problems)
    assert not built.blocked
    # A custom field overriding the labels keeps the identity and drops a forged one.
    override = TicketTemplate(project_key="C", custom_fields={"labels": "$channel, extra"})
    fields = build(override, group=g, identity=identity_label("own-7")).fields
    assert fields["labels"] == ["extra", "syncengine-own-7"]


def test_v3_description_is_adf() -> None:
    built = build(TicketTemplate(project_key="C", api_version=3))
    description = built.fields["description"]
    assert description["type"] == "doc"
    assert adf_problems(description) == []


def test_custom_field_mapping_for_body_text_and_labels() -> None:
    template = TicketTemplate(
        project_key="KT",
        description_field="Text Field 1",  # by name, resolved through createmeta
        labels_field="customfield_10071",
        custom_fields={"description": "see Text Field 1"},
    )
    fields = build(template, screen(), identity="syncengine-42").fields
    assert fields["customfield_10077"].startswith("h2. SIGSEGV")
    assert fields["customfield_10071"] == ["syncengine", "syncengine-42"]
    assert fields["description"] == "see Text Field 1"
    assert "labels" not in fields


def test_custom_fields_are_coerced_by_schema() -> None:
    template = TicketTemplate(
        project_key="KT",
        custom_fields={
            "customfield_10070": "$first_seen",
            "MJK - Number Field": "$count",
            "MJK - Radio Buttons": "${channel:-2}",
            "MJK - Select List 2": "1, 2",
            "Favorite Food": "Host: $hostname, Version: $version",
            "customfield_10077": "*Host*: $evil",
            "MJK - User Picker": "dev@example.com",
            "fixVersions": "d",
        },
        user_map={"dev@example.com": "acc-1"},
    )
    g = group(attributes={**group().attributes, "evil": (value("[x|http://e] {code}", 1),)})
    built = build(template, screen(), group=g)
    fields = built.fields
    assert built.problems == ()
    assert fields["issuetype"] == {"id": "10004"}
    assert fields["customfield_10070"] == "2026-11-20T08:30:00.000+0000"
    assert fields["customfield_10072"] == 20
    assert fields["customfield_10073"] == {"value": "2"}
    assert fields["customfield_10075"] == [{"value": "1"}, {"value": "2"}]
    assert fields["customfield_10067"] == "Host: build-07, Version: 2.4.1"
    # The operator's markup stays, the attribute value is escaped.
    textarea = fields["customfield_10077"]
    assert textarea.startswith("*Host*: ")
    assert read_text(textarea.removeprefix("*Host*: ")) == "[x|http://e] {code}"
    assert fields["customfield_10080"] == {"accountId": "acc-1"}
    assert fields["fixVersions"] == [{"name": "d"}]


def test_textarea_on_v3_is_adf() -> None:
    template = TicketTemplate(
        project_key="KT", api_version=3, custom_fields={"customfield_10077": "a $hostname\nb"}
    )
    value_ = build(template, screen()).fields["customfield_10077"]
    assert adf_problems(value_) == []
    assert value_["content"][0]["content"][0] == {"type": "text", "text": "a build-07"}


def test_bad_values_are_left_out_and_reported() -> None:
    template = TicketTemplate(
        project_key="KT",
        custom_fields={
            "MJK - Radio Buttons": "$os",
            "No Such Field": "x",
            "MJK - Number Field": "$missing",
        },
    )
    built = build(template, screen())
    by_field = {p.field: p for p in built.problems}
    assert set(by_field) == {"customfield_10073", "No Such Field", "customfield_10072"}
    assert "'Linux' is not an allowed value" in by_field["customfield_10073"].message
    assert "use one of '1', '2'" in by_field["customfield_10073"].fix
    assert "not on the create screen of KT / Bug" in by_field["No Such Field"].message
    assert "is empty for this group" in by_field["customfield_10072"].message
    assert "customfield_10073" not in built.fields
    assert not built.blocked
    assert "field customfield_10073: " in str(by_field["customfield_10073"])


def test_required_fields_block_the_create() -> None:
    built = build(TicketTemplate(project_key="KT", issue_type="Epic"), screen("Epic"))
    assert built.blocked
    (problem,) = built.problems
    assert problem.field == "customfield_10011"
    assert "Epic Name" in problem.message
    assert "custom_fields: customfield_10011" in problem.fix


def test_fields_not_on_the_screen_are_left_out() -> None:
    data = load(JIRA_CLI / "createmeta.json")
    createmeta = parse_createmeta(data, project_key="TEST", issue_type="Epic")
    built = build(TicketTemplate(project_key="TEST", issue_type="Epic"), createmeta)
    assert "description" not in built.fields
    assert "labels" not in built.fields
    assert {p.field for p in built.problems} == {"description", "labels"}


def test_names_need_createmeta_ids_do_not() -> None:
    template = TicketTemplate(
        project_key="C", custom_fields={"customfield_1": "$os", "Favorite Food": "x"}
    )
    built = build(template)
    assert built.fields["customfield_1"] == "Linux"
    assert built.problems[0].field == "Favorite Food"
    assert "needs the create metadata" in built.problems[0].message


def test_missing_keep_leaves_the_placeholder() -> None:
    template = TicketTemplate(
        project_key="C", summary="$classifier on $nope", missing_attribute="keep"
    )
    assert build(template).fields["summary"] == "SIGSEGV on $nope"


def test_data_center_users_by_name() -> None:
    data = load(MATTERMOST / "server-get-create-issue-metadata-for-project-many-fields.json")
    createmeta = parse_createmeta(data, project_key="HEY", issue_type="Task")
    template = TicketTemplate(
        project_key="HEY", issue_type="Task", custom_fields={"assignee": "jdoe"}
    )
    assert build(template, createmeta, cloud=False).fields["assignee"] == {"name": "jdoe"}


def test_a_broken_template_is_a_problem_not_a_crash() -> None:
    broken = DescriptionRenderer(
        TemplateSources(default=bundled_templates(), user={"jira/description.j2": "{% if %}"})
    )
    built = build_fields(TicketTemplate(project_key="C"), group(), renderer=broken, cloud=True)
    assert "description" not in built.fields
    assert built.problems[0].field == "description"
    assert "line 1" in built.problems[0].message


@pytest.mark.parametrize("key", ["syncengine-demo 42", "demo-42"])
def test_identity_label_is_a_valid_label(key: str) -> None:
    label = identity_label(key)
    assert " " not in label
    assert label.startswith("syncengine-")


def test_comment_bodies_in_both_forms() -> None:
    text = "Regressed in *2.5.0* [see|http://x]\n\nh1. second"
    wiki = text_body(text, api_version=2)
    assert isinstance(wiki, str)
    first, second = wiki.split("\n\n")
    assert read_text(first) == "Regressed in *2.5.0* [see|http://x]"
    assert read_text(second, line_start=True) == "h1. second"
    adf = text_body(text, api_version=3)
    assert adf_problems(adf) == []
    assert isinstance(adf, dict)
    assert adf["content"][0]["content"][0]["text"] == "Regressed in *2.5.0* [see|http://x]"


def test_missing_keep_applies_to_labels_too() -> None:
    template = TicketTemplate(
        project_key="C", labels=("$nope", "${gone:-x}"), missing_attribute="keep"
    )
    assert build(template).fields["labels"] == ["$nope", "x"]
