"""Pure parts of the portal: checking input and building the Jira fields."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syncengine.errors import InvalidInput
from syncengine.settings import SupportSettings
from syncengine.store.support import SupportRequestRecord
from syncengine.support.fields import SupportFieldConfig, build_fields, jira_label
from syncengine.support.validation import RequestForm, validate_attachment, validate_request

CONFIG = SupportSettings(
    enabled=True, labels=("Bug", "Other Request"), api_products=("Payments API",)
)
T = datetime(2026, 11, 23, tzinfo=UTC)


def test_valid_request_is_trimmed() -> None:
    valid = validate_request(
        RequestForm(
            label=" Bug ",
            summary="  Two\nlines  ",
            description="a\r\nb\n",
            endpoint=" /v1/{id}/x ",
        ),
        CONFIG,
    )
    assert (valid.label, valid.summary, valid.description, valid.endpoint) == (
        "Bug",
        "Two lines",
        "a\nb",
        "/v1/{id}/x",
    )


@pytest.mark.parametrize(
    ("form", "field", "says"),
    [
        (RequestForm(summary="s", description="d"), "label", "choose a label"),
        (RequestForm(label="Bug", summary="x" * 256, description="d"), "summary", "under 256"),
        (
            RequestForm(label="Bug", summary="s", description="d", category="Nope"),
            "category",
            "Nope",
        ),
        (
            RequestForm(label="Bug", summary="s", description="d", api_product="Maps"),
            "api_product",
            "Payments API",
        ),
        (
            RequestForm(label="Bug", summary="s", description="d", endpoint="https://x/y"),
            "endpoint",
            "starting with '/'",
        ),
        (
            RequestForm(label="Bug", summary="s", description="d", endpoint="/a b"),
            "endpoint",
            "no spaces",
        ),
        (RequestForm(label="Bug", summary="s\x00", description="d"), "summary", "NUL"),
        (RequestForm(label="Bug", summary="s", description="d\ud83d"), "description", "NUL"),
        (RequestForm(label="Bug\x00", summary="s", description="d"), "label", "NUL"),
    ],
)
def test_each_bad_field_is_named(form: RequestForm, field: str, says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_request(form, CONFIG)
    assert says in caught.value.problems[field]


def test_attachment_name_and_type_are_cleaned() -> None:
    got = validate_attachment("C:\\Users\\me\\..\x00evil.png", "", b"\x89PNG", CONFIG)
    assert got.filename == "evil.png"
    assert got.content_type == "image/png"  # guessed from the name when the browser sent none
    with pytest.raises(InvalidInput, match="accepted types are"):
        validate_attachment("page.html", "text/html", b"<p>", CONFIG)
    with pytest.raises(InvalidInput, match="is empty"):
        validate_attachment("a.txt", "text/plain", b"", CONFIG)


def _record(**changes: object) -> SupportRequestRecord:
    values: dict[str, object] = {
        "id": 7,
        "project_id": 1,
        "reporter": "alice",
        "label": "Other Request",
        "summary": "S",
        "description": "Use *bold* and {code}\n\nh1. not a heading",
        "category": "Payment",
        "api_product": "",
        "endpoint": "/p",
        "jira_issue_id": None,
        "jira_issue_key": None,
        "jira_status": None,
        "last_error": None,
        "created_at": T,
        "updated_at": T,
    }
    values.update(changes)
    return SupportRequestRecord(**values)  # type: ignore[arg-type]


def test_fields_v2_escape_wiki_markup_and_skip_empty_values() -> None:
    config = SupportFieldConfig(
        project_key="SUP",
        issue_type="Task",
        category_field="customfield_1",
        api_product_field="customfield_2",
        endpoint_field="",
        public_url="https://se.example",
        project_slug="api",
        reporter_emails={"alice": "alice@example.com"},
    )
    fields = build_fields(_record(), config)
    assert fields["project"] == {"key": "SUP"}
    assert fields["issuetype"] == {"name": "Task"}
    assert fields["labels"] == ["Other-Request", "syncengine-sr-7"]
    assert fields["customfield_1"] == "Payment"
    assert "customfield_2" not in fields  # no API product chosen
    assert "customfield_3" not in fields
    description = fields["description"]
    assert description.startswith("Use \\*bold\\* and \\{code\\}\n\n")
    assert "h1&#46; not a heading" in description  # not a heading in Jira either
    assert "[request &#35;7|https://se.example/projects/api/support/7]" in description
    assert "Filed by alice &#40;alice&#64;example.com&#41;" in description


def test_fields_v3_are_an_adf_document_of_plain_text() -> None:
    config = SupportFieldConfig(project_key="SUP", issue_type="Task", api_version=3)
    doc = build_fields(_record(description="a *b*\nc\n\n\nd"), config)["description"]
    assert doc["type"] == "doc"
    assert doc["content"][:2] == [
        {
            "type": "paragraph",
            "content": [
                {"type": "text", "text": "a *b*"},
                {"type": "hardBreak"},
                {"type": "text", "text": "c"},
            ],
        },
        {"type": "paragraph", "content": [{"type": "text", "text": "d"}]},
    ]
    assert doc["content"][2] == {"type": "rule"}


def test_jira_labels_have_no_spaces() -> None:
    assert jira_label("  Feature   request ") == "Feature-request"
