"""Atlassian Document Format (REST v3 rich-text fields): writing it and checking it.

:func:`render_adf` turns a :class:`~syncengine.domain.richtext.Document` into an
ADF ``doc``; :func:`text_document` wraps plain text. Text is placed in ``text``
nodes as data, so no value can become structure.

:func:`adf_problems` checks a document against the ADF schema rules Jira
enforces for the node types we write (and the common ones we read): ``doc``
with ``version`` 1 at the top; each node's allowed children; no empty ``text``
nodes; the marks each node may carry (``code`` combines only with ``link``;
a ``codeBlock`` holds unmarked text only; a ``link`` needs an ``href``);
heading levels 1 to 6; lists and tables not empty; no unknown keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from syncengine.domain.richtext import (
    Break,
    BulletList,
    CodeBlock,
    Document,
    Heading,
    Paragraph,
    Rule,
    Span,
    Table,
    clean_text,
)

__all__ = ["adf_problems", "render_adf", "text_document"]

Node = dict[str, Any]


def _text_nodes(text: str, marks: list[Node]) -> list[Node]:
    nodes: list[Node] = []
    for index, line in enumerate(clean_text(text).split("\n")):
        if index:
            nodes.append({"type": "hardBreak"})
        if line:
            node: Node = {"type": "text", "text": line}
            if marks:
                node["marks"] = [dict(mark) for mark in marks]
            nodes.append(node)
    return nodes


def _inline(content: tuple[Span | Break, ...], *, code: bool = True) -> list[Node]:
    nodes: list[Node] = []
    for item in content:
        if isinstance(item, Break):
            nodes.append({"type": "hardBreak"})
            continue
        marks: list[Node] = []
        if item.code and code:  # headings hold no code marks: the text stays plain there
            marks.append({"type": "code"})
        else:
            # ADF allows a code mark beside a link only; bold/italic give way to code.
            if item.strong:
                marks.append({"type": "strong"})
            if item.em:
                marks.append({"type": "em"})
        if item.href:
            marks.append({"type": "link", "attrs": {"href": item.href}})
        nodes.extend(_text_nodes(item.text, marks))
    return nodes


def _paragraph(content: tuple[Span | Break, ...]) -> Node:
    return {"type": "paragraph", "content": _inline(content)}


def _block(block: object) -> Node:
    if isinstance(block, Heading):
        return {
            "type": "heading",
            "attrs": {"level": block.level},
            "content": _inline(block.content, code=False),
        }
    if isinstance(block, Paragraph):
        return _paragraph(block.content)
    if isinstance(block, CodeBlock):
        node: Node = {"type": "codeBlock"}
        if block.language:
            node["attrs"] = {"language": block.language}
        text = clean_text(block.text)
        node["content"] = [{"type": "text", "text": text}] if text else []
        return node
    if isinstance(block, BulletList):
        items = [{"type": "listItem", "content": [_paragraph(item)]} for item in block.items]
        return {"type": "bulletList", "content": items}
    if isinstance(block, Table):
        rows = [
            {
                "type": "tableRow",
                "content": [
                    {
                        "type": "tableHeader" if cell.header else "tableCell",
                        "attrs": {},
                        "content": [_paragraph(cell.content)],
                    }
                    for cell in row
                ],
            }
            for row in block.rows
        ]
        return {"type": "table", "attrs": {"isNumberColumnEnabled": False}, "content": rows}
    if isinstance(block, Rule):
        return {"type": "rule"}
    raise TypeError(f"not a block: {block!r}")


def render_adf(document: Document) -> Node:
    """``document`` as an ADF ``doc`` (an empty document gets one empty paragraph)."""
    content = [_block(block) for block in document.blocks]
    return {"version": 1, "type": "doc", "content": content or [{"type": "paragraph"}]}


def text_document(text: str) -> Node:
    """Plain ``text`` as an ADF ``doc``: one paragraph per blank-line-separated part."""
    paragraphs = [part for part in clean_text(text).split("\n\n") if part.strip("\n")]
    content = [
        {"type": "paragraph", "content": _text_nodes(part.strip("\n"), [])} for part in paragraphs
    ]
    return {"version": 1, "type": "doc", "content": content or [{"type": "paragraph"}]}


# --- validation ---------------------------------------------------------------------------

_INLINE = {"text", "hardBreak", "mention", "emoji", "inlineCard", "date", "status"}
_BLOCKS = {
    "paragraph",
    "heading",
    "codeBlock",
    "bulletList",
    "orderedList",
    "blockquote",
    "rule",
    "table",
    "panel",
    "mediaGroup",
    "mediaSingle",
    "expand",
}
# node type -> (allowed child types, at least one child, allowed attrs, required attrs)
_RULES: dict[str, tuple[set[str], bool, set[str], set[str]]] = {
    "doc": (_BLOCKS, False, set(), set()),
    "paragraph": (_INLINE, False, {"localId"}, set()),
    "heading": (_INLINE, False, {"level", "localId"}, {"level"}),
    "codeBlock": ({"text"}, False, {"language"}, set()),
    "blockquote": ({"paragraph", "bulletList", "orderedList", "codeBlock"}, True, set(), set()),
    "bulletList": ({"listItem"}, True, set(), set()),
    "orderedList": ({"listItem"}, True, {"order"}, set()),
    "listItem": ({"paragraph", "bulletList", "orderedList", "codeBlock"}, True, set(), set()),
    "table": ({"tableRow"}, True, {"isNumberColumnEnabled", "layout", "localId", "width"}, set()),
    "tableRow": ({"tableHeader", "tableCell"}, True, set(), set()),
    "tableHeader": (
        _BLOCKS - {"table"},
        True,
        {"colspan", "rowspan", "colwidth", "background"},
        set(),
    ),
    "tableCell": (
        _BLOCKS - {"table"},
        True,
        {"colspan", "rowspan", "colwidth", "background"},
        set(),
    ),
    "panel": (_BLOCKS - {"table", "panel"}, True, {"panelType"}, {"panelType"}),
    "rule": (set(), False, set(), set()),
    "hardBreak": (set(), False, {"text"}, set()),
}
_TEXT_MARKS = {"code", "em", "link", "strike", "strong", "subsup", "textColor", "underline"}
_HEADING_MARKS = _TEXT_MARKS - {"code"}
_NODE_KEYS = {"type", "content", "attrs", "marks", "text", "version"}


def _check_marks(node: Mapping[str, Any], where: str, parent: str, problems: list[str]) -> None:
    marks = node.get("marks", [])
    if not isinstance(marks, list):
        problems.append(f"{where}.marks: must be a list")
        return
    if parent == "codeBlock" and marks:
        problems.append(f"{where}: text in a codeBlock carries no marks")
        return
    allowed = _HEADING_MARKS if parent == "heading" else _TEXT_MARKS
    types = [m.get("type") if isinstance(m, Mapping) else None for m in marks]
    for index, (mark, kind) in enumerate(zip(marks, types, strict=True)):
        if kind not in allowed:
            problems.append(f"{where}.marks[{index}]: mark {kind!r} is not allowed here")
        elif kind == "link":
            attrs = mark.get("attrs")
            if not isinstance(attrs, Mapping) or not isinstance(attrs.get("href"), str):
                problems.append(f"{where}.marks[{index}]: a link mark needs attrs.href")
    if len(set(types)) != len(types):
        problems.append(f"{where}.marks: a mark type appears twice")
    if "code" in types and set(types) - {"code", "link"}:
        problems.append(f"{where}.marks: the code mark combines only with link")


def _check_attrs(node: Mapping[str, Any], kind: str, where: str, problems: list[str]) -> None:
    _, _, attrs_allowed, attrs_required = _RULES[kind]
    attrs = node.get("attrs", {})
    if not isinstance(attrs, Mapping):
        problems.append(f"{where}.attrs: must be an object")
        return
    if extra := set(attrs) - attrs_allowed:
        problems.append(f"{where}.attrs: {kind} does not take {sorted(extra)}")
    if missing := attrs_required - set(attrs):
        problems.append(f"{where}.attrs: {kind} needs {sorted(missing)}")
    if kind == "heading" and attrs.get("level") not in range(1, 7):
        problems.append(f"{where}.attrs.level: must be 1 to 6")


def _check_text(node: Mapping[str, Any], where: str, parent: str, problems: list[str]) -> None:
    text = node.get("text")
    if not isinstance(text, str) or not text:
        problems.append(f"{where}: a text node needs non-empty text")
    if "content" in node:
        problems.append(f"{where}: a text node has no content")
    _check_marks(node, where, parent, problems)


def _check(node: Any, where: str, parent: str, problems: list[str]) -> None:
    if not isinstance(node, Mapping) or not isinstance(node.get("type"), str):
        problems.append(f"{where}: must be an object with a type")
        return
    kind = node["type"]
    if extra := set(node) - _NODE_KEYS:
        problems.append(f"{where}: unknown keys {sorted(extra)}")
    if kind == "text":
        _check_text(node, where, parent, problems)
        return
    if "marks" in node and kind not in {"paragraph", "heading"}:
        problems.append(f"{where}: {kind} carries no marks")
    if kind not in _RULES:
        if kind not in _INLINE | _BLOCKS | {"listItem"}:
            problems.append(f"{where}: unknown node type {kind!r}")
        return
    _check_attrs(node, kind, where, problems)
    children_allowed, non_empty, _, _ = _RULES[kind]
    content = node.get("content", [])
    if not isinstance(content, list):
        problems.append(f"{where}.content: must be a list")
        return
    if not children_allowed and content:
        problems.append(f"{where}: {kind} has no content")
    if non_empty and not content:
        problems.append(f"{where}.content: {kind} needs at least one child")
    if kind == "listItem" and content and _type(content[0]) not in {"paragraph", "codeBlock"}:
        problems.append(f"{where}.content[0]: a listItem starts with a paragraph")
    for index, child in enumerate(content):
        child_where = f"{where}.content[{index}]"
        child_type = _type(child)
        if child_type is not None and child_type not in children_allowed:
            problems.append(f"{child_where}: {child_type} is not allowed inside {kind}")
        _check(child, child_where, kind, problems)


def _type(node: Any) -> str | None:
    return node.get("type") if isinstance(node, Mapping) else None


def adf_problems(document: Any) -> list[str]:
    """Every rule ``document`` breaks, each as "path: what is wrong" (empty when valid)."""
    if not isinstance(document, Mapping):
        return ["$: an ADF document is a JSON object"]
    problems = []
    if document.get("type") != "doc":
        problems.append("$.type: must be 'doc'")
    if document.get("version") != 1:
        problems.append("$.version: must be 1")
    if not isinstance(document.get("content"), list):
        problems.append("$.content: must be a list")
        return problems
    _check({k: v for k, v in document.items() if k != "version"}, "$", "", problems)
    return problems
