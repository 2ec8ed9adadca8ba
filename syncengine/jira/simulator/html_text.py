"""Rich text as a browser shows it: Jira wiki markup (REST v2) and ADF (REST v3) → HTML.

Enough of both for the issue page (:mod:`~syncengine.jira.simulator.browse`):
headings, paragraphs, line breaks, ``{noformat}``/``{code}`` blocks, tables, lists,
bold, italic, monospace and links. Every piece of text is escaped; only ``http``,
``https`` and ``mailto`` links become anchors, so no stored text can add markup.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

__all__ = ["adf_html", "wiki_html"]

_SAFE_URL = re.compile(r"(?i)^(https?://|mailto:)")
_BLOCK = re.compile(r"^\{(noformat|code)(?::[^}]*)?\}$", re.IGNORECASE)
_HEADING = re.compile(r"^h([1-6])\.\s*(.*)$")
_INLINE = re.compile(
    r"\\\\ ?"  # a forced line break
    r"|\\(.)"  # an escaped character
    r"|&#(\d{1,7});"  # a character reference
    r"|\{\{(.+?)\}\}"  # monospace
    r"|\[([^\[\]|]*)\|([^\[\]]*)\]"  # [text|url]
    r"|(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"  # *bold*
    r"|(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"  # _italic_
)


def _link(text: str, url: str) -> str:
    if not _SAFE_URL.match(url):
        return escape(f"{text} ({url})" if text else url)
    return f'<a href="{escape(url)}" rel="noopener noreferrer">{escape(text or url)}</a>'


def _inline(text: str) -> str:
    out: list[str] = []
    index = 0
    for match in _INLINE.finditer(text):
        out.append(escape(text[index : match.start()]))
        index = match.end()
        escaped, ref, mono, link_text, url, bold, italic = match.groups()
        if match.group(0).startswith("\\\\"):
            out.append("<br>")
        elif escaped is not None:
            out.append(escape(escaped))
        elif ref is not None:
            code = int(ref)
            out.append(escape(chr(code)) if code < 0x110000 else escape(match.group(0)))
        elif mono is not None:
            out.append(f"<code>{_inline(mono)}</code>")
        elif url is not None:
            out.append(_link(_plain(link_text or ""), _plain(url)))
        elif bold is not None:
            out.append(f"<strong>{_inline(bold)}</strong>")
        else:
            out.append(f"<em>{_inline(italic)}</em>")
    out.append(escape(text[index:]))
    return "".join(out)


def _plain(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _cells(line: str) -> list[tuple[bool, str]]:
    cells: list[tuple[bool, str]] = []
    # Split on unescaped bars; "||" opens a header cell.
    parts = re.split(r"(?<!\\)(\|\|?)", line.strip())
    header = False
    for part in parts[1:]:
        if part in ("|", "||"):
            header = part == "||"
            continue
        cells.append((header, part))
    if cells and not cells[-1][1].strip():
        cells.pop()
    return cells


def wiki_html(markup: str) -> str:
    """The HTML Jira shows for wiki ``markup``."""
    out: list[str] = []
    lines = markup.replace("\r\n", "\n").split("\n")
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            out.append("<p>" + "<br>".join(_inline(line) for line in paragraph) + "</p>")
            paragraph.clear()

    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        block = _BLOCK.match(stripped)
        if block:
            flush()
            end = index + 1
            while end < len(lines) and not _BLOCK.match(lines[end].strip()):
                end += 1
            out.append("<pre>" + escape("\n".join(lines[index + 1 : end])) + "</pre>")
            index = end + 1
            continue
        if not stripped:
            flush()
        elif heading := _HEADING.match(stripped):
            flush()
            level = heading.group(1)
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif stripped.startswith("|"):
            flush()
            rows = []
            while index < len(lines) and lines[index].strip().startswith("|"):
                cells = "".join(
                    f"<{'th' if head else 'td'}>{_inline(text.strip())}</{'th' if head else 'td'}>"
                    for head, text in _cells(lines[index])
                )
                rows.append(f"<tr>{cells}</tr>")
                index += 1
            out.append("<table>" + "".join(rows) + "</table>")
            continue
        elif re.match(r"^[*#-] ", stripped):
            flush()
            items = []
            while index < len(lines) and re.match(r"^[*#-] ", lines[index].strip()):
                items.append(f"<li>{_inline(lines[index].strip()[2:])}</li>")
                index += 1
            tag = "ol" if stripped.startswith("#") else "ul"
            out.append(f"<{tag}>" + "".join(items) + f"</{tag}>")
            continue
        else:
            paragraph.append(stripped)
        index += 1
    flush()
    return "\n".join(out)


_MARKS = {"strong": "strong", "em": "em", "code": "code", "strike": "s", "underline": "u"}
_BLOCKS = {
    "paragraph": "p",
    "bulletList": "ul",
    "orderedList": "ol",
    "listItem": "li",
    "blockquote": "blockquote",
    "table": "table",
    "tableRow": "tr",
    "tableHeader": "th",
    "tableCell": "td",
}


def _adf_text(node: dict[str, Any]) -> str:
    text = escape(str(node.get("text", "")))
    for mark in node.get("marks") or []:
        if not isinstance(mark, dict):
            continue
        kind = mark.get("type")
        if kind in _MARKS:
            text = f"<{_MARKS[kind]}>{text}</{_MARKS[kind]}>"
        elif kind == "link":
            href = str((mark.get("attrs") or {}).get("href", ""))
            if _SAFE_URL.match(href):
                text = f'<a href="{escape(href)}" rel="noopener noreferrer">{text}</a>'
    return text


def _adf_node(node: Any, depth: int = 0) -> str:  # noqa: PLR0911 - one branch per node type
    if not isinstance(node, dict) or depth > 64:
        return ""
    kind = node.get("type")
    children = "".join(_adf_node(child, depth + 1) for child in node.get("content") or [])
    if kind == "text":
        return _adf_text(node)
    if kind == "hardBreak":
        return "<br>"
    if kind == "rule":
        return "<hr>"
    if kind == "heading":
        level = (node.get("attrs") or {}).get("level", 2)
        level = level if level in range(1, 7) else 2
        return f"<h{level}>{children}</h{level}>"
    if kind == "codeBlock":
        parts = [c for c in node.get("content") or [] if isinstance(c, dict)]
        code = "".join(str(c.get("text", "")) for c in parts)
        return f"<pre>{escape(code)}</pre>"
    if kind in _BLOCKS:
        tag = _BLOCKS[kind]
        return f"<{tag}>{children}</{tag}>"
    return children  # doc, and node types the page has no special look for


def adf_html(document: dict[str, Any]) -> str:
    """The HTML Jira shows for an ADF ``document``."""
    return _adf_node(document)
