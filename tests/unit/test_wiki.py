"""Jira wiki markup: values are escaped so nothing in them becomes markup."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
from syncengine.domain.wiki import NOFORMAT_GUARD, escape_text, guard_noformat, render_wiki
from tests.unit.wiki_reader import RawMarkup, read_noformat, read_text

ATTACKS = [
    "*bold* _it_ -strike- +under+ ^sup^ ~sub~ ??cite??",
    "[click|https://evil.example] [~admin] [#anchor]",
    "{code}x{code} {noformat}y{noformat} {color:red}z{color} {panel}p{panel} {{mono}}",
    "|a|b| ||h||",
    "!https://evil.example/pixel.png!",
    "h1. Heading",
    "  h3. indented heading",
    "write to mailto:someone or MAILTO:x",
    "bq. quote",
    "# one\n* two\n- three\n----",
    "https://evil.example/path mailto:a@b.example",
    ":) :( :P :D ;) (y) (n) (!) (*) (on) (flag)",
    "back\\slash \\* \\\\ end\\",
    "&amp; &lt; &#123; &copy;",
    "line1\r\nline2\rline3\n\nh2. after blank",
    "null\x00byte \x07bell",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_escaped_text_reads_back_and_holds_no_markup(attack: str) -> None:
    escaped = escape_text(attack, line_start=True)
    assert "\n" not in escaped
    assert read_text(escaped, line_start=True) == clean_text(attack)


def test_escape_examples() -> None:
    assert escape_text("a*b") == "a\\*b"
    assert escape_text("f(x)") == "f&#40;x&#41;"
    assert escape_text("http://x") == "http&#58;//x"
    assert escape_text("a\nb") == "a\\\\ b"
    assert escape_text("h1. x", line_start=True) == "h1&#46; x"
    assert escape_text("h1. x") == "h1. x"
    assert escape_text("A & B &amp;") == "A & B &amp;amp;"


def test_reader_catches_raw_markup() -> None:
    for raw in ["*x*", "[a|b]", "{code}", "a:)", "http://x", "&lt;", "a\nb"]:
        with pytest.raises(RawMarkup):
            read_text(raw)


def test_noformat_cannot_be_closed_by_a_value() -> None:
    text = "before {noformat} middle {NoFormat:title=x} {\u200bnoformat} after"
    block = render_wiki(Document(blocks=(CodeBlock(text=text),)))
    assert block.count("{noformat}") == 2  # the opening and the closing line
    assert read_noformat(block) == text
    assert NOFORMAT_GUARD in block


def test_blocks() -> None:
    document = Document(
        blocks=(
            Heading(level=2, content=(Span(text="Crash [x]"),)),
            Paragraph(
                content=(
                    Span(text="bold", strong=True),
                    Span(text=" and "),
                    Span(text="it ", em=True),
                    Break(),
                    Span(text="link", href="https://e.example/a|b]"),
                    Span(text="code", code=True),
                )
            ),
            BulletList(items=((Span(text="one"),), ())),
            Table(
                rows=(
                    (
                        Cell(content=(Span(text="K"),), header=True),
                        Cell(content=(Span(text="v|w"),)),
                    ),
                    (Cell(content=(), header=True), Cell(content=(), header=True)),
                )
            ),
            CodeBlock(text="a\nb"),
            Rule(),
        )
    )
    assert render_wiki(document) == (
        "h2. Crash \\[x\\]\n\n"
        "*bold* and _it_ \\\\ [link|https://e.example/a%7Cb%5D]{{code}}\n\n"
        "* one\n*  \n\n"
        "||K|v\\|w|\n|| || ||\n\n"
        "{noformat}\na\nb\n{noformat}\n\n"
        "----"
    )


@given(st.text(max_size=80))
def test_any_value_round_trips_as_literal_text(text: str) -> None:
    for line_start in (False, True):
        escaped = escape_text(text, line_start=line_start)
        assert read_text(escaped, line_start=line_start) == clean_text(text)


@given(st.text(max_size=80))
def test_any_code_block_round_trips(text: str) -> None:
    guarded = guard_noformat(text)
    block = "{noformat}\n" + guarded + "\n{noformat}"
    assert read_noformat(block) == clean_text(text)


@given(st.lists(st.text(max_size=20), min_size=1, max_size=4))
def test_any_cell_values_keep_the_table_shape(values: list[str]) -> None:
    row = tuple(Cell(content=(Span(text=v),) if clean_text(v) else ()) for v in values)
    wiki = render_wiki(Document(blocks=(Table(rows=(row,)),)))
    assert "\n" not in wiki
    cells = wiki.split("|")[1:-1]  # escaped pipes are "\|"; split only on raw ones
    merged: list[str] = []
    for piece in cells:
        if merged and merged[-1].endswith("\\"):
            merged[-1] += "|" + piece
        else:
            merged.append(piece)
    assert len(merged) == len(values)
    for cell, text in zip(merged, values, strict=True):
        assert read_text(cell).strip() == clean_text(text).strip()


def test_marked_text_uses_references_so_markers_cannot_close_early() -> None:
    paragraph = Paragraph(
        content=(
            Span(text="a*b}", strong=True),
            Span(text=" "),
            Span(text="x}}", code=True),
            Span(text=" "),
            Span(text="t|e]xt", href="https://e.example"),
        )
    )
    wiki = render_wiki(Document(blocks=(paragraph,)))
    assert wiki == "*a&#42;b&#125;* {{x&#125;&#125;}} [t&#124;e&#93;xt|https://e.example]"


@given(st.text(min_size=1, max_size=40), st.sampled_from(["strong", "em", "code", "href"]))
def test_any_marked_text_round_trips_between_its_markers(text: str, mark: str) -> None:
    text = text.replace("\n", " ").replace("\r", " ")  # one line: markers wrap each line
    options = {mark: "https://e.example" if mark == "href" else True}
    span = Span(text=text, **options)  # type: ignore[arg-type]
    wiki = render_wiki(Document(blocks=(Paragraph(content=(span,)),)))
    opening, closing = {"strong": ("*", "*"), "em": ("_", "_"), "code": ("{{", "}}")}.get(
        mark, ("[", "|https://e.example]")
    )
    inner = wiki.strip(" ")
    if escape_text(text).strip(" "):  # markers wrap any visible text
        assert inner.startswith(opening)
        assert inner.endswith(closing)
        inner = inner[len(opening) : -len(closing)]
    assert read_text(inner).strip(" ") == clean_text(text).strip(" ")
    assert not set(inner) & set("*_{}[]|")


def test_markers_wrap_each_line_of_a_marked_span() -> None:
    paragraph = Paragraph(content=(Span(text="a\n\nb ", strong=True),))
    assert render_wiki(Document(blocks=(paragraph,))) == "*a*\\\\ \\\\ *b* "
