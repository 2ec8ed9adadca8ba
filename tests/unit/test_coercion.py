"""Values coerced by the schemas of real create screens (Jira Cloud and Server)."""

from __future__ import annotations

from typing import Any

import pytest

from syncengine.domain.coercion import CoercionError, coerce, sanitize_labels, single_line
from syncengine.domain.createmeta import CreateMeta, FieldMeta, parse_createmeta
from tests.unit.samples import MATTERMOST, load


def screen(name: str, project: str, issue_type: str) -> CreateMeta:
    return parse_createmeta(load(MATTERMOST / name), project_key=project, issue_type=issue_type)


CLOUD = screen("cloud-get-create-issue-metadata-for-project-many-fields.json", "KT", "Bug")


def field(key: str, meta: CreateMeta = CLOUD) -> FieldMeta:
    found = meta.find(key)
    assert found is not None, key
    return found


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("Favorite Food", "pizza\nand  beer", "pizza and beer"),
        ("Favorite Food", "x" * 300, "x" * 254 + "…"),
        ("customfield_10077", "multi\nline", "multi\nline"),
        ("MJK - URL Field", " https://e.example/a ", " https://e.example/a "),
        ("MJK - Number Field", "42", 42),
        ("MJK - Number Field", " -3.5 ", -3.5),
        ("MJK - Date Picker", "2026-11-23T23:30:00-02:00", "2026-11-24"),
        ("MJK - Date Picker", "2026-11-23", "2026-11-23"),
        ("MJK - Date Time Picker", "2026-11-23T11:29:24Z", "2026-11-23T11:29:24.000+0000"),
        ("MJK - Date Time Picker", "2026-11-23T13:29:24+02:00", "2026-11-23T11:29:24.000+0000"),
        ("MJK - Date Time Picker", "2026-11-23", "2026-11-23T00:00:00.000+0000"),
        ("MJK - Radio Buttons", "2", {"value": "2"}),
        ("MJK - Select List 3", " 1 ", {"value": "1"}),
        ("MJK - Select List 1", "A > inner", {"value": "A", "child": {"value": "inner"}}),
        ("MJK - Select List 1", "b", {"value": "B"}),
        ("MJK - Checkbox", ["1", "2"], [{"value": "1"}, {"value": "2"}]),
        ("MJK - Select List 2", "2", [{"value": "2"}]),
        ("MJK - Labels", ["needs triage", " crash "], ["needs_triage", "crash"]),
        ("labels", ["a", "a", "b c"], ["a", "b_c"]),
        ("Sprint", ["17"], 17),
        ("Epic Link", "KT-1", "KT-1"),
        ("fixVersions", ["D"], [{"name": "d"}]),
        ("priority", "high", {"name": "High"}),
        ("parent", "KT-7", {"key": "KT-7"}),
        ("project", "KT", {"key": "KT"}),
        ("issuetype", "bug", {"name": "Bug"}),
    ],
)
def test_values_fit_their_schema(key: str, value: Any, expected: Any) -> None:
    meta = field(
        key,
        screen("cloud-get-create-issue-metadata-for-project-many-fields.json", "KT", "Sub-task")
        if key == "parent"
        else CLOUD,
    )
    assert coerce(meta, value, cloud=True) == expected


@pytest.mark.parametrize(
    ("key", "value", "message", "fix"),
    [
        ("MJK - Number Field", "many", "not a number", "give digits"),
        ("MJK - Number Field", "nan", "not a finite number", "give digits"),
        ("MJK - Date Picker", "yesterday", "not a date or time", "ISO 8601"),
        ("MJK - Date Time Picker", "11/23/2026", "not a date or time", "ISO 8601"),
        ("MJK - Radio Buttons", "3", "'3' is not an allowed value", "use one of '1', '2'"),
        ("MJK - Checkbox", ["1", "9"], "'9' is not an allowed value", "use one of '1', '2'"),
        ("MJK - Select List 1", "C > x", "'C' is not an allowed value", "'A', 'B'"),
        ("MJK - URL Field", "not a url", "is not a URL", "http(s) URL"),
        ("fixVersions", ["9.9"], "'9.9' is not an allowed value", "use one of 'd'"),
        ("components", ["core"], "'core' is not an allowed value", "create the value in Jira"),
        ("priority", "urgent", "'urgent' is not an allowed value", "'Highest', 'High'"),
        ("attachment", ["x"], "cannot fill a list of 'attachment'", "remove it"),
        ("issuelinks", ["KT-1"], "cannot fill a list of 'issuelinks'", "remove it"),
    ],
)
def test_values_that_do_not_fit_say_what_would(
    key: str, value: Any, message: str, fix: str
) -> None:
    with pytest.raises(CoercionError, match=message) as caught:
        coerce(field(key), value, cloud=True)
    assert fix in caught.value.fix


def test_users_by_account_id_on_cloud_and_name_on_data_center() -> None:
    picker = field("MJK - User Picker")
    assert coerce(picker, "5b10ac8d82e05b22cc7d4ef5", cloud=True) == {
        "accountId": "5b10ac8d82e05b22cc7d4ef5"
    }
    server = screen("server-get-create-issue-metadata-for-project-many-fields.json", "HEY", "Task")
    assignee = field("assignee", server)
    assert coerce(assignee, "jdoe", cloud=False) == {"name": "jdoe"}
    pinned = {"dev@example.com": "jdoe"}
    assert coerce(assignee, "dev@example.com", cloud=False, user_map=pinned) == {"name": "jdoe"}


def test_every_recorded_field_is_coerced_or_refused_clearly() -> None:
    refused: list[tuple[str, str]] = []
    for path in sorted(MATTERMOST.glob("*.json")):
        data = load(path)
        for project in data["projects"]:
            for issue_type in project["issuetypes"]:
                meta = parse_createmeta(
                    data, project_key=project["key"], issue_type=issue_type["name"]
                )
                for one in meta.fields:
                    allowed = one.allowed_values or ()
                    sample = (
                        str(allowed[0].get("value") or allowed[0].get("name") or "x")
                        if allowed
                        else "2026-11-23"
                    )
                    try:
                        result = coerce(
                            one, [sample] if one.type == "array" else sample, cloud=True
                        )
                    except CoercionError as exc:
                        refused.append((one.kind, exc.fix))
                        continue
                    assert result is not None, (path.name, one.id)
    assert refused
    assert all(fix for _, fix in refused)
    # Only kinds Jira fills itself, and values the screens do not allow, are refused.
    assert {kind for kind, _ in refused} <= {
        "array:attachment",
        "array:issuelinks",
        "array:component",
        "option-with-child",
        "array:string",
        "array:version",
        "number",
        "string",
        "timetracking",
    }


def test_single_line_and_labels() -> None:
    assert single_line("  a \t b\n c  ") == "a b c"
    assert single_line("abcdef", 4) == "abc…"
    assert sanitize_labels(["", "  ", "x y\tz", "x_y_z", "é ü"]) == ["x_y_z", "é_ü"]
    assert sanitize_labels(["l" * 300]) == ["l" * 255]
