"""The HTML subset description templates write, read into blocks."""

from __future__ import annotations

import pytest

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
    parse_markup,
    plain_text,
    safe_href,
)
from syncengine.errors import TemplateError


def test_blocks_and_inline_marks() -> None:
    markup = """
      <h2> Title  &amp; more </h2>
      <p>one
         <strong>two</strong> <em>three</em><br> <code>four</code>
         <a href="https://e.example/?a=1&amp;b=2">five</a></p>
      loose text
      <pre data-language="text">
  indented
    kept &lt;x&gt;
</pre>
      <ul><li>a</li> <li><b>b</b></li></ul>
      <table><thead><tr><th>K</th><th>V</th></tr></thead>
      <tbody><tr><td>k</td><td></td></tr></tbody></table>
      <hr/>
    """
    assert parse_markup(markup) == Document(
        blocks=(
            Heading(level=2, content=(Span(text="Title & more"),)),
            Paragraph(
                content=(
                    Span(text="one "),
                    Span(text="two", strong=True),
                    Span(text=" "),
                    Span(text="three", em=True),
                    Break(),
                    Span(text="four", code=True),
                    Span(text=" "),
                    Span(text="five", href="https://e.example/?a=1&b=2"),
                )
            ),
            Paragraph(content=(Span(text="loose text"),)),
            CodeBlock(text="  indented\n    kept <x>", language="text"),
            BulletList(items=((Span(text="a"),), (Span(text="b", strong=True),))),
            Table(
                rows=(
                    (
                        Cell(content=(Span(text="K"),), header=True),
                        Cell(content=(Span(text="V"),), header=True),
                    ),
                    (Cell(content=(Span(text="k"),)), Cell(content=())),
                )
            ),
            Rule(),
        )
    )


def test_unsafe_links_keep_their_text_only() -> None:
    for href in ["javascript:alert(1)", "/relative", "data:text/html,x", "https://a b"]:
        document = parse_markup(f'<p><a href="{href}">t</a></p>')
        assert document.blocks == (Paragraph(content=(Span(text="t"),)),)
    assert safe_href(" https://ok.example/x ") == "https://ok.example/x"
    assert safe_href("MAILTO:a@b.example") == "MAILTO:a@b.example"


@pytest.mark.parametrize(
    ("markup", "message"),
    [
        ("<div>x</div>", "<div> is not supported"),
        ("<script>alert(1)</script>", "<script> is not supported"),
        ("<img src=x>", "<img> is not supported"),
        ("<pre><b>x</b></pre>", "inside <pre>"),
        ("<li>x</li>", "outside <ul>"),
        ("<td>x</td>", "outside <tr>"),
        ("<ul>x</ul>", "must be inside"),
        ("<p><h2>x</h2></p>", None),
        ("<pre>open", "never closed"),
        ("<table><tr><td>x", "never closed"),
    ],
)
def test_outside_the_subset_is_an_error(markup: str, message: str | None) -> None:
    if message is None:  # a heading ends a loose paragraph, as in HTML
        assert parse_markup(markup).blocks == (Heading(level=2, content=(Span(text="x"),)),)
        return
    with pytest.raises(TemplateError, match=message):
        parse_markup(markup)


def test_plain_text() -> None:
    document = parse_markup(
        "<h2>T</h2><p>a<br>b</p><pre>c</pre><ul><li>i</li></ul>"
        "<table><tr><th>k</th><td>v</td></tr></table><hr>"
    )
    assert plain_text(document) == "T\n\na\nb\n\nc\n\n- i\n\nk | v\n\n----"
