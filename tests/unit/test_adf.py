"""ADF: what we write obeys the rules Jira enforces, and the checker catches breaches."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncengine.domain.adf import adf_problems, render_adf, text_document
from syncengine.domain.richtext import (
    Break,
    BulletList,
    Cell,
    CodeBlock,
    Document,
    Heading,
    Paragraph,
    Rule,
    Span,
    Table,
    clean_text,
)


def doc(*content: Any) -> dict[str, Any]:
    return {"version": 1, "type": "doc", "content": list(content)}


def para(*content: Any) -> dict[str, Any]:
    return {"type": "paragraph", "content": list(content)}


def text(value: str, *marks: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": value}
    if marks:
        node["marks"] = list(marks)
    return node


VALID = doc(
    {"type": "heading", "attrs": {"level": 2}, "content": [text("Title")]},
    para(text("a", {"type": "strong"}), {"type": "hardBreak"}, text("b", {"type": "code"})),
    para(text("x", {"type": "code"}, {"type": "link", "attrs": {"href": "https://e.example"}})),
    {"type": "codeBlock", "attrs": {"language": "text"}, "content": [text("raw\ntext")]},
    {"type": "codeBlock", "content": []},
    {"type": "bulletList", "content": [{"type": "listItem", "content": [para(text("i"))]}]},
    {
        "type": "table",
        "attrs": {"isNumberColumnEnabled": False},
        "content": [
            {
                "type": "tableRow",
                "content": [
                    {"type": "tableHeader", "attrs": {}, "content": [para(text("h"))]},
                    {"type": "tableCell", "attrs": {}, "content": [para()]},
                ],
            }
        ],
    },
    {"type": "rule"},
)


def test_a_valid_document_has_no_problems() -> None:
    assert adf_problems(VALID) == []


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"type": "doc", "content": []}, "$.version: must be 1"),
        ({"version": 1, "type": "paragraph", "content": []}, "$.type: must be 'doc'"),
        ({"version": 1, "type": "doc"}, "$.content: must be a list"),
        (doc(para(text(""))), "non-empty text"),
        (doc(para({"type": "text"})), "non-empty text"),
        (doc(text("loose")), "text is not allowed inside doc"),
        (doc(para(para())), "paragraph is not allowed inside paragraph"),
        (doc({"type": "codeBlock", "content": [text("x", {"type": "strong"})]}), "no marks"),
        (doc({"type": "codeBlock", "content": [{"type": "hardBreak"}]}), "not allowed inside"),
        (doc(para(text("x", {"type": "code"}, {"type": "strong"}))), "combines only with link"),
        (doc(para(text("x", {"type": "link"}))), "needs attrs.href"),
        (doc(para(text("x", {"type": "blink"}))), "'blink' is not allowed"),
        (doc(para(text("x", {"type": "em"}, {"type": "em"}))), "appears twice"),
        (
            doc(
                {"type": "heading", "attrs": {"level": 2}, "content": [text("x", {"type": "code"})]}
            ),
            "'code' is not allowed",
        ),
        (doc({"type": "heading", "attrs": {"level": 7}, "content": []}), "must be 1 to 6"),
        (doc({"type": "heading", "content": []}), "needs ['level']"),
        (doc({"type": "bulletList", "content": []}), "needs at least one child"),
        (doc({"type": "bulletList", "content": [para()]}), "not allowed inside bulletList"),
        (doc({"type": "table", "content": [{"type": "tableRow", "content": []}]}), "at least one"),
        (
            doc(
                {
                    "type": "table",
                    "content": [
                        {"type": "tableRow", "content": [{"type": "tableCell", "content": []}]}
                    ],
                }
            ),
            "tableCell needs at least one child",
        ),
        (doc({"type": "rule", "content": [para()]}), "rule has no content"),
        (doc({"type": "wat"}), "unknown node type 'wat'"),
        (doc(para(text("x"), {"type": "text", "text": "y", "extra": 1})), "unknown keys"),
        (doc({"type": "paragraph", "attrs": {"color": "red"}, "content": []}), "does not take"),
        (doc({"type": "rule", "marks": [{"type": "strong"}]}), "carries no marks"),
        ("a string", "is a JSON object"),
    ],
)
def test_each_rule_is_enforced(document: Any, expected: str) -> None:
    problems = adf_problems(document)
    assert any(expected in p for p in problems), problems


def test_render_every_block() -> None:
    document = Document(
        blocks=(
            Heading(level=3, content=(Span(text="H"),)),
            Paragraph(
                content=(
                    Span(text="b", strong=True, em=True),
                    Break(),
                    Span(text="c\nd", code=True, strong=True),
                    Span(text="l", href="https://e.example"),
                )
            ),
            CodeBlock(text="x\ny", language="python"),
            BulletList(items=((Span(text="i"),), ())),
            Table(rows=((Cell(content=(Span(text="h"),), header=True), Cell(content=())),)),
            Rule(),
        )
    )
    adf = render_adf(document)
    assert adf_problems(adf) == []
    paragraph = adf["content"][1]["content"]
    assert paragraph == [
        text("b", {"type": "strong"}, {"type": "em"}),
        {"type": "hardBreak"},
        text("c", {"type": "code"}),
        {"type": "hardBreak"},
        text("d", {"type": "code"}),
        text("l", {"type": "link", "attrs": {"href": "https://e.example"}}),
    ]
    assert adf["content"][2] == {
        "type": "codeBlock",
        "attrs": {"language": "python"},
        "content": [text("x\ny")],
    }


def test_empty_documents_are_valid() -> None:
    assert adf_problems(render_adf(Document())) == []
    assert adf_problems(text_document("")) == []
    assert text_document("a\nb\n\nc") == doc(
        para(text("a"), {"type": "hardBreak"}, text("b")), para(text("c"))
    )


spans = st.builds(
    Span,
    text=st.text(max_size=30),
    strong=st.booleans(),
    em=st.booleans(),
    code=st.booleans(),
    href=st.sampled_from([None, "https://e.example/x"]),
)
inlines = st.lists(st.one_of(spans, st.just(Break())), max_size=5).map(tuple)
blocks = st.one_of(
    st.builds(Heading, level=st.integers(1, 6), content=inlines),
    st.builds(Paragraph, content=inlines),
    st.builds(CodeBlock, text=st.text(max_size=60), language=st.sampled_from([None, "text"])),
    st.builds(BulletList, items=st.lists(inlines, min_size=1, max_size=3).map(tuple)),
    st.builds(
        Table,
        rows=st.lists(
            st.lists(
                st.builds(Cell, content=inlines, header=st.booleans()), min_size=1, max_size=3
            ).map(tuple),
            min_size=1,
            max_size=3,
        ).map(tuple),
    ),
    st.just(Rule()),
)


@given(st.lists(blocks, max_size=6).map(tuple))
def test_any_document_renders_to_valid_adf(parts: tuple[Any, ...]) -> None:
    assert adf_problems(render_adf(Document(blocks=parts))) == []


@given(st.text(max_size=200))
def test_any_text_is_valid_adf_and_keeps_its_characters(value: str) -> None:
    adf = text_document(value)
    assert adf_problems(adf) == []
    shown = "".join(
        node.get("text", "\n")
        for paragraph in adf["content"]
        for node in paragraph.get("content", [])
    )
    assert shown.replace("\n", "") == clean_text(value).replace("\n", "")


# One text -> ADF builder: the client (REST v3 bodies) and the simulator (v2 text read back
# on v3) both use text_document, so they agree on line ends and on empty text.
TEXTS = ["", "   ", "a", "a\r\nb", "a\rb", "a\r\n\r\nb", "a\n\n\n\nb", "x\x00y\n\nz"]


@pytest.mark.parametrize("text", TEXTS, ids=repr)
def test_client_and_simulator_write_text_as_the_same_adf(text: str) -> None:
    from syncengine.jira.bodies import rich_text
    from syncengine.jira.simulator.model import FieldDef
    from syncengine.jira.simulator.render import render_value
    from syncengine.jira.simulator.text_limits import adf_rejected

    expected = text_document(text)
    assert rich_text(text, 3) == expected
    field = FieldDef(id="description", name="Description", kind="text")
    assert render_value(None, field, text, api_version=3) == expected  # type: ignore[arg-type]
    assert adf_problems(expected) == []
    assert not adf_rejected(expected)
    assert "\r" not in json.dumps(expected)
