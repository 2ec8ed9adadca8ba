"""Just enough Atlassian Document Format for the simulator.

Cloud v3 takes and returns rich text as ADF; v2 takes and returns strings. The
simulator stores whichever form it was given and converts when it answers in
the other version, the way Jira renders one stored value both ways (text becomes
ADF through the engine's one builder, :func:`syncengine.domain.adf.text_document`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ADF_REQUIRED", "is_document", "to_text"]

ADF_REQUIRED = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"


def is_document(value: Any) -> bool:
    """Whether ``value`` is an ADF document: ``{"type": "doc", "version": 1, "content": [...]}``."""
    return (
        isinstance(value, dict)
        and value.get("type") == "doc"
        and value.get("version") == 1
        and isinstance(value.get("content"), list)
        and all(isinstance(node, dict) and "type" in node for node in value["content"])
    )


def _inline(node: dict[str, Any]) -> str:
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    return "".join(_inline(child) for child in node.get("content", []) if isinstance(child, dict))


def to_text(document: dict[str, Any]) -> str:
    """The plain text of an ADF document, blocks separated by blank lines."""
    blocks = [_inline(node) for node in document.get("content", []) if isinstance(node, dict)]
    return "\n\n".join(blocks)
