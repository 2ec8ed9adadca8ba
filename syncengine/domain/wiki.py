"""Jira wiki markup (REST v2 rich-text fields) from a :class:`~syncengine.domain.richtext.Document`.

Every piece of text is escaped so that it renders as itself and nothing else:

- the markup characters ``* _ ? - + ^ ~ | { } [ ] ! #`` get a backslash
  (Jira's escape);
- characters the backslash cannot protect become numeric character references:
  ``\\`` (a backslash followed by markup would escape it), ``(`` and ``)``
  (emoticons such as ``(y)``), ``@`` (mentions), ``:`` and ``;`` where they
  would start a link (``http://``, ``mailto:``) or an emoticon (``:)``), a ``.`` after
  ``h1`` to ``h6``/``bq`` at the start of a line (headings, quotes), and ``&`` where
  it would start a reference itself;
- a line break inside text becomes ``\\\\`` (Jira's forced break), so text
  never starts a new source line and cannot start a list, heading or table.

Code blocks are written as ``{noformat}``, whose content Jira shows verbatim;
the only sequence that could end it early, ``{noformat``, gets a zero-width
space after its ``{`` (:data:`NOFORMAT_GUARD`): it looks the same and cannot
close the block.
"""

from __future__ import annotations

import re

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

__all__ = ["NOFORMAT_GUARD", "escape_text", "guard_noformat", "render_wiki"]

NOFORMAT_GUARD = "\u200b"

_BACKSLASHED = frozenset("*_?-+^~|{}[]!#")
_ENTITY = {"\\": "&#92;", "(": "&#40;", ")": "&#41;", "@": "&#64;"}
# Jira's emoticons :) :( :P :D ;) and its bare links (scheme://, mailto:).
_EMOTICON = re.compile(r"[:;](?=[()PpDd])|:(?=//)|(?<=mailto):", re.IGNORECASE)
_AMPERSAND = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
_LINE_START = re.compile(r"^\s*(h[1-6]|bq)\.", re.IGNORECASE)
_NOFORMAT = re.compile(r"\{(?=\u200b*noformat)", re.IGNORECASE)


def escape_text(text: str, *, line_start: bool = False, references: bool = False) -> str:
    """``text`` as wiki markup that renders exactly as ``text`` (line breaks as ``\\\\``).

    ``line_start`` says the text begins a source line, where ``h1.`` and
    ``bq.`` have a meaning. ``references`` writes the markup characters as
    character references instead of backslash escapes: inside ``*bold*``,
    ``{{code}}`` or ``[link text|…]`` Jira looks for the closing marker before
    it honours escapes, so no raw marker character may appear there at all.
    """
    text = clean_text(text)
    as_reference = {m.start() for m in _EMOTICON.finditer(text)}
    as_reference.update(m.start() for m in _AMPERSAND.finditer(text))
    if line_start and (heading := _LINE_START.match(text)):
        as_reference.add(heading.end() - 1)
    out = []
    for index, char in enumerate(text):
        if index in as_reference:
            out.append("&amp;" if char == "&" else f"&#{ord(char)};")
        elif char in _BACKSLASHED:
            out.append(f"&#{ord(char)};" if references else "\\" + char)
        elif char in _ENTITY:
            out.append(_ENTITY[char])
        elif char == "\n":
            out.append("\\\\ ")
        else:
            out.append(char)
    return "".join(out)


def guard_noformat(text: str) -> str:
    """``text`` made safe inside ``{noformat}``: no ``{noformat`` can close the block.

    One guard character goes after each ``{`` that starts ``noformat`` (even one
    already followed by guards), so the change can be undone exactly.
    """
    return _NOFORMAT.sub("{" + NOFORMAT_GUARD, clean_text(text))


def _wrap(text: str, opening: str, closing: str) -> str:
    # Jira only sees *x* when the markers touch the text: keep spaces outside.
    core = text.strip(" ")
    if not core:
        return text
    lead, trail = text[: len(text) - len(text.lstrip(" "))], text[len(text.rstrip(" ")) :]
    return f"{lead}{opening}{core}{closing}{trail}"


def _span(span: Span, *, line_start: bool) -> str:
    marked = span.code or span.strong or span.em or span.href is not None
    pieces = []
    # Markers wrap each line on its own: a forced break never sits inside *…*.
    for number, line in enumerate(clean_text(span.text).split("\n")):
        text = escape_text(line, line_start=line_start and number == 0, references=marked)
        if span.code:
            text = _wrap(text, "{{", "}}")
        if span.strong:
            text = _wrap(text, "*", "*")
        if span.em:
            text = _wrap(text, "_", "_")
        if span.href and text.strip(" "):
            text = f"[{text}|{_escape_url(span.href)}]"
        pieces.append(text)
    return "\\\\ ".join(pieces)


def _inline(content: tuple[Span | Break, ...], *, line_start: bool) -> str:
    out: list[str] = []
    for item in content:
        if isinstance(item, Break):
            out.append("\\\\ ")
        else:
            out.append(_span(item, line_start=line_start and not out))
    return "".join(out)


def _escape_url(href: str) -> str:
    # Inside [text|url] only "]", "|" and whitespace end the URL; percent-encode them.
    return href.replace("|", "%7C").replace("]", "%5D").replace("[", "%5B").replace(" ", "%20")


def _cell(cell: Cell) -> str:
    separator = "||" if cell.header else "|"
    return separator + (_inline(cell.content, line_start=False) or " ")


def _block(block: object) -> str:
    if isinstance(block, Heading):
        return f"h{block.level}. {_inline(block.content, line_start=False)}"
    if isinstance(block, Paragraph):
        return _inline(block.content, line_start=True)
    if isinstance(block, CodeBlock):
        return "{noformat}\n" + guard_noformat(block.text) + "\n{noformat}"
    if isinstance(block, BulletList):
        return "\n".join("* " + (_inline(item, line_start=False) or " ") for item in block.items)
    if isinstance(block, Table):
        lines = []
        for row in block.rows:
            closing = "||" if row[-1].header else "|"
            lines.append("".join(_cell(cell) for cell in row) + closing)
        return "\n".join(lines)
    if isinstance(block, Rule):
        return "----"
    raise TypeError(f"not a block: {block!r}")


def render_wiki(document: Document) -> str:
    """``document`` as Jira wiki markup, blocks separated by a blank line."""
    return "\n\n".join(_block(block) for block in document.blocks)
