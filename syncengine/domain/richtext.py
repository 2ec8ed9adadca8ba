"""The rich-text blocks a description is made of, and the markup templates write them in.

A description template renders a small, fixed subset of HTML (its values
auto-escaped by Jinja2); :func:`parse_markup` turns that into a
:class:`Document` of blocks, which :mod:`syncengine.domain.wiki` writes as Jira
wiki markup (REST v2) and :mod:`syncengine.domain.adf` as an ADF document (REST
v3). One template, two outputs, and attribute values never become markup: by
the time they reach the parser they are escaped text.

The subset: ``h1`` to ``h6``, ``p``, ``pre`` (``data-language`` names the code's
language), ``ul``/``li``, ``table``/``thead``/``tbody``/``tr``/``th``/``td``,
``hr``, and inside a heading, paragraph, list item or cell: ``a href``,
``strong``/``b``, ``em``/``i``, ``code``, ``br``. Whitespace inside those
collapses as in HTML (``br`` breaks a line); ``pre`` keeps it. Links keep only
``http``, ``https`` and ``mailto`` targets. Anything else raises
:class:`~syncengine.errors.TemplateError` naming the tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser

from syncengine.errors import TemplateError

__all__ = [
    "Break",
    "BulletList",
    "Cell",
    "CodeBlock",
    "Document",
    "Heading",
    "Paragraph",
    "Rule",
    "Span",
    "Table",
    "clean_text",
    "parse_markup",
    "plain_text",
    "safe_href",
]

# Control characters Jira rejects, and lone surrogates (not encodable as UTF-8 JSON).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\ud800-\udfff]")
_SPACE = re.compile(r"[ \t\n\r\f]+")


def clean_text(text: str) -> str:
    """``text`` with line ends made ``\\n`` and control characters Jira rejects removed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def safe_href(href: str) -> str | None:
    """``href`` when it is an http(s) or mailto link, else None."""
    href = clean_text(href).strip()
    if re.match(r"(?i)^(https?://[^\s]+|mailto:[^\s]+)$", href):
        return href
    return None


@dataclass(frozen=True, kw_only=True, slots=True)
class Span:
    """A run of text with its marks."""

    text: str
    strong: bool = False
    em: bool = False
    code: bool = False
    href: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Break:
    """A line break inside a paragraph, heading, list item or cell."""


Inline = Span | Break


@dataclass(frozen=True, kw_only=True, slots=True)
class Heading:
    """A heading, level 1 to 6."""

    level: int
    content: tuple[Inline, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Paragraph:
    """A paragraph of inline content."""

    content: tuple[Inline, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class CodeBlock:
    """Preformatted text (a callstack), shown as it is."""

    text: str
    language: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class BulletList:
    """A bulleted list; each item is inline content."""

    items: tuple[tuple[Inline, ...], ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Cell:
    """A table cell; ``header`` for ``th``."""

    content: tuple[Inline, ...]
    header: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Table:
    """Rows of cells."""

    rows: tuple[tuple[Cell, ...], ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Rule:
    """A horizontal rule."""


Block = Heading | Paragraph | CodeBlock | BulletList | Table | Rule


@dataclass(frozen=True, kw_only=True, slots=True)
class Document:
    """A description: blocks in order."""

    blocks: tuple[Block, ...] = field(default_factory=tuple)


_INLINE_MARKS = {"strong": "strong", "b": "strong", "em": "em", "i": "em", "code": "code"}
_INLINE_HOSTS = {"h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "th", "td"}
_IGNORED = {"thead", "tbody", "tfoot"}
_ALLOWED = (
    "h1-h6, p, pre, ul, li, table, thead, tbody, tr, th, td, hr, a, strong, b, em, i, code, br"
)


def _marks(span: Span) -> tuple[bool, bool, bool, str | None]:
    return span.strong, span.em, span.code, span.href


def _tidy(content: list[Inline]) -> tuple[Inline, ...]:
    """Collapse whitespace as HTML does, trim around breaks and edges, merge equal runs."""
    out: list[Inline] = []
    for item in content:
        if isinstance(item, Break):
            while out and isinstance(out[-1], Span) and not out[-1].text.strip(" "):
                out.pop()
            if out and isinstance(out[-1], Span):
                out[-1] = replace(out[-1], text=out[-1].text.rstrip(" "))
            out.append(item)
            continue
        text = _SPACE.sub(" ", item.text)
        at_start = not out or isinstance(out[-1], Break)
        ends_space = bool(out) and isinstance(out[-1], Span) and out[-1].text.endswith(" ")
        if at_start or ends_space:
            text = text.lstrip(" ")
        if not text:
            continue
        previous = out[-1] if out else None
        if isinstance(previous, Span) and _marks(previous) == _marks(item):
            out[-1] = replace(previous, text=previous.text + text)
        else:
            out.append(replace(item, text=text))
    while out and isinstance(out[-1], Break):
        out.pop()
    if out and isinstance(out[-1], Span):
        last = replace(out[-1], text=out[-1].text.rstrip(" "))
        out[-1:] = [last] if last.text else []
    return tuple(out)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.host: str | None = None  # the open inline host tag
        self.inline: list[Inline] = []
        self.marks: list[str] = []
        self.href: list[str | None] = []
        self.pre: list[str] | None = None
        self.pre_language: str | None = None
        self.items: list[tuple[Inline, ...]] | None = None
        self.rows: list[tuple[Cell, ...]] | None = None
        self.row: list[Cell] | None = None

    def error_at(self, message: str) -> TemplateError:
        line, column = self.getpos()
        return TemplateError(f"description template output, line {line}:{column}: {message}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.pre is not None:
            raise self.error_at(f"<{tag}> inside <pre>; a code block holds plain text only")
        if tag in _IGNORED:
            return
        if tag in _INLINE_MARKS or tag == "a":
            self._open_inline(tag, dict(attrs))
        elif tag == "br":
            self._need_host("br").append(Break())
        elif tag in _INLINE_HOSTS:
            self._open_host(tag)
        elif tag == "pre":
            self._flush_loose()
            self.pre = []
            self.pre_language = dict(attrs).get("data-language") or None
        elif tag == "hr":
            self._flush_loose()
            self.blocks.append(Rule())
        elif tag == "ul":
            self._flush_loose()
            self.items = []
        elif tag == "table":
            self._flush_loose()
            self.rows = []
        elif tag == "tr":
            if self.rows is None:
                raise self.error_at("<tr> outside <table>")
            self.row = []
        else:
            raise self.error_at(f"<{tag}> is not supported; use {_ALLOWED}")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in {"br", "hr"}:
            self.handle_endtag(tag)

    def _need_host(self, tag: str) -> list[Inline]:
        if self.host is None:
            if self.items is not None or self.rows is not None:
                raise self.error_at(f"<{tag}> must be inside <li>, <th> or <td>")
            self.host = "p"  # loose inline content forms a paragraph
        return self.inline

    def _open_inline(self, tag: str, attrs: dict[str, str | None]) -> None:
        self._need_host(tag)
        if tag == "a":
            self.href.append(safe_href(attrs.get("href") or ""))
        else:
            self.marks.append(_INLINE_MARKS[tag])

    def _open_host(self, tag: str) -> None:
        if self.host is not None and self.host != "p":
            raise self.error_at(f"<{tag}> inside <{self.host}>; blocks do not nest here")
        self._flush_loose()
        if tag == "li" and self.items is None:
            raise self.error_at("<li> outside <ul>")
        if tag in {"th", "td"} and self.row is None:
            raise self.error_at(f"<{tag}> outside <tr>")
        self.host = tag
        self.inline = []

    def _flush_loose(self) -> None:
        if self.host == "p":
            self._close_host()

    def _close_host(self) -> None:
        host, content = self.host, _tidy(self.inline)
        self.host, self.inline, self.marks, self.href = None, [], [], []
        if host == "p" and content:
            self.blocks.append(Paragraph(content=content))
        elif host and host[0] == "h" and content:
            self.blocks.append(Heading(level=int(host[1]), content=content))
        elif host == "li" and self.items is not None:
            self.items.append(content)
        elif host in {"th", "td"} and self.row is not None:
            self.row.append(Cell(content=content, header=host == "th"))

    def handle_endtag(self, tag: str) -> None:
        if tag in _IGNORED or tag in {"br", "hr"}:
            return
        if tag == "pre" and self.pre is not None:
            text = clean_text("".join(self.pre))
            text = text.removeprefix("\n").rstrip("\n")
            if text:
                self.blocks.append(CodeBlock(text=text, language=self.pre_language))
            self.pre = None
        elif tag in _INLINE_MARKS and self.marks:
            self.marks.pop()
        elif tag == "a" and self.href:
            self.href.pop()
        elif tag in _INLINE_HOSTS and self.host == tag:
            self._close_host()
        elif tag == "ul" and self.items is not None:
            self._flush_loose()
            if self.items:
                self.blocks.append(BulletList(items=tuple(self.items)))
            self.items = None
        elif tag == "tr" and self.row is not None and self.rows is not None:
            if self.row:
                self.rows.append(tuple(self.row))
            self.row = None
        elif tag == "table" and self.rows is not None:
            if self.rows:
                self.blocks.append(Table(rows=tuple(self.rows)))
            self.rows = None

    def handle_data(self, data: str) -> None:
        if self.pre is not None:
            self.pre.append(data)
            return
        if self.host is None and not data.strip():
            return  # whitespace between blocks
        self._need_host("text")
        href = next((h for h in reversed(self.href) if h), None) if self.href else None
        self.inline.append(
            Span(
                text=clean_text(data),
                strong="strong" in self.marks,
                em="em" in self.marks,
                code="code" in self.marks,
                href=href,
            )
        )

    def finish(self) -> Document:
        self.close()
        if self.pre is not None:
            raise self.error_at("<pre> is never closed")
        if self.items is not None or self.rows is not None:
            raise self.error_at("<ul> or <table> is never closed")
        self._flush_loose()
        if self.host is not None:
            raise self.error_at(f"<{self.host}> is never closed")
        return Document(blocks=tuple(self.blocks))


def parse_markup(markup: str) -> Document:
    """The :class:`Document` the HTML subset ``markup`` describes.

    Raises :class:`~syncengine.errors.TemplateError` for a tag outside the subset
    or a block left open.
    """
    reader = _Reader()
    reader.feed(markup)
    return reader.finish()


def _plain_inline(content: tuple[Inline, ...]) -> str:
    return "".join("\n" if isinstance(item, Break) else item.text for item in content)


def plain_text(document: Document) -> str:
    """``document`` as plain text, for a field that shows text as it is."""
    parts = []
    for block in document.blocks:
        if isinstance(block, Heading | Paragraph):
            parts.append(_plain_inline(block.content))
        elif isinstance(block, CodeBlock):
            parts.append(block.text)
        elif isinstance(block, BulletList):
            parts.append("\n".join(f"- {_plain_inline(item)}" for item in block.items))
        elif isinstance(block, Table):
            rows = (" | ".join(_plain_inline(c.content) for c in row) for row in block.rows)
            parts.append("\n".join(rows))
        else:
            parts.append("----")
    return "\n\n".join(parts)
