"""Create metadata: both response shapes, read from recorded Jira responses."""

from __future__ import annotations

from typing import Any

import pytest

from syncengine.domain.createmeta import (
    CreateMetaError,
    find_issue_type,
    parse_createmeta,
    parse_field_pages,
)
from tests.unit.samples import JIRA_CLI, MATTERMOST, PAGINATED_EXAMPLE, load

RECORDED = sorted(MATTERMOST.glob("*.json"))


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
def test_every_recorded_issue_type_parses(path: Any) -> None:
    data = load(path)
    for project in data["projects"]:
        for issue_type in project["issuetypes"]:
            meta = parse_createmeta(data, project_key=project["key"], issue_type=issue_type["name"])
            assert meta.issue_type_id == issue_type["id"]
            assert {f.id for f in meta.fields} == set(issue_type["fields"])
            summary = meta.find("summary")
            assert summary is not None
            assert summary.required
            assert summary.type == "string"


def test_cloud_fields_carry_their_schema() -> None:
    data = load(MATTERMOST / "cloud-get-create-issue-metadata-for-project-many-fields.json")
    meta = parse_createmeta(data, project_key="KT", issue_type="bug")
    checkbox = meta.find("MJK - Checkbox")
    assert checkbox is not None
    assert checkbox.id == "customfield_10068"
    assert checkbox.kind == "array:option"
    assert checkbox.custom == "com.atlassian.jira.plugin.system.customfieldtypes:multicheckboxes"
    assert [v["value"] for v in checkbox.allowed_values or ()] == ["1", "2"]
    assert checkbox.operations == ("add", "set", "remove")
    priority = meta.find("priority")
    assert priority is not None
    assert (priority.required, priority.has_default, priority.kind) == (True, True, "priority")
    textarea = meta.find("customfield_10077")
    assert textarea is not None
    assert textarea.is_rich_text
    description = meta.find("Description")
    assert description is not None
    assert description.is_rich_text
    assert description.system == "description"
    text_field = meta.find("text field 2")  # names match in any case
    assert text_field is not None
    assert not text_field.is_rich_text
    components = meta.find("components")
    assert components is not None
    assert components.allowed_values == ()


def test_jira_cli_old_shape_without_schemas() -> None:
    meta = parse_createmeta(
        load(JIRA_CLI / "createmeta.json"), project_key="TEST", issue_type="Epic"
    )
    epic_name = meta.find("Epic Name")
    assert epic_name is not None
    assert epic_name.id == "customfield_10011"
    assert epic_name.type == "any"
    assert meta.find("summary") is None


def test_missing_project_or_issue_type_names_what_exists() -> None:
    data = load(MATTERMOST / "server-get-create-issue-metadata-for-project.json")
    with pytest.raises(CreateMetaError, match=r"project 'NOPE' is not in createmeta"):
        parse_createmeta(data, project_key="NOPE", issue_type="Bug")
    key = data["projects"][0]["key"]
    with pytest.raises(CreateMetaError, match=r"issue type 'Saga' is not available.*available: "):
        parse_createmeta(data, project_key=key, issue_type="Saga")
    with pytest.raises(CreateMetaError, match="no 'projects' list"):
        parse_createmeta({"values": []}, project_key=key, issue_type="Bug")


def test_paginated_cloud_shape() -> None:
    meta = parse_field_pages(
        [load(PAGINATED_EXAMPLE)], project_key="ED", issue_type="Bug", issue_type_id="1"
    )
    assert [(f.id, f.name, f.required) for f in meta.fields] == [("assignee", "Assignee", True)]


def test_paginated_data_center_shape_across_pages() -> None:
    # The DC answer lists the same field objects under "values", each with a fieldId.
    data = load(MATTERMOST / "server-get-create-issue-metadata-for-project-many-fields.json")
    fields = data["projects"][0]["issuetypes"][0]["fields"]
    values = [{"fieldId": key, **raw} for key, raw in fields.items()]
    pages = [
        {"startAt": 0, "maxResults": 5, "total": len(values), "values": values[:5]},
        {"startAt": 5, "maxResults": 5, "total": len(values), "values": values[5:]},
    ]
    meta = parse_field_pages(pages, project_key="HEY", issue_type="Task")
    old = parse_createmeta(data, project_key="HEY", issue_type="Task")
    assert meta.fields == old.fields
    with pytest.raises(CreateMetaError, match="neither a 'fields' nor a 'values'"):
        parse_field_pages([{"total": 0}], project_key="HEY", issue_type="Task")


def test_find_issue_type_in_both_page_shapes() -> None:
    assert find_issue_type([load(JIRA_CLI / "createmetav9.json")], "task") == ("10002", "Task")
    cloud_page = {"issueTypes": [{"id": "1", "name": "Bug"}], "total": 1}
    assert find_issue_type([cloud_page], "1") == ("1", "Bug")
    with pytest.raises(CreateMetaError, match="available: Epic, Sub-task, Task"):
        find_issue_type([load(JIRA_CLI / "createmetav9.json")], "Bug")
