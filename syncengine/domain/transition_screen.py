"""The values a transition screen asks for, besides the resolution.

A workflow may put fields on a transition's screen ("Root cause" on Done) and
make them required; Jira then refuses the transition without them. The values
come from configuration (``sync.transition_fields``: a field id or name → its
text), coerced by the field's schema as create fields are. :func:`fill_screen`
says which values to send and which required fields the configuration leaves
empty, so the engine asks the operator instead of sending a transition Jira
would refuse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from syncengine.domain.adf import text_document
from syncengine.domain.coercion import CoercionError, coerce
from syncengine.domain.createmeta import FieldMeta

__all__ = ["ScreenFill", "fill_screen"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ScreenFill:
    """What to send with a transition, and what keeps it from being sent."""

    values: Mapping[str, Any] = field(default_factory=dict)
    missing: tuple[FieldMeta, ...] = ()
    """Required fields without a configured value."""
    problems: tuple[str, ...] = ()
    """Configured values that do not fit their field, each saying why."""

    @property
    def ready(self) -> bool:
        return not self.missing and not self.problems


def _configured(meta: FieldMeta, configured: Mapping[str, str]) -> str | None:
    if meta.id in configured:
        return configured[meta.id]
    folded = meta.name.casefold()
    return next((v for k, v in configured.items() if k.strip().casefold() == folded), None)


def fill_screen(
    screen: Sequence[FieldMeta],
    configured: Mapping[str, str],
    *,
    cloud: bool,
    api_version: int,
) -> ScreenFill:
    """The values for ``screen`` (the transition's fields, resolution excluded)."""
    values: dict[str, Any] = {}
    missing: list[FieldMeta] = []
    problems: list[str] = []
    for meta in screen:
        text = _configured(meta, configured)
        if text is None or not text.strip():
            if meta.required and not meta.has_default:
                missing.append(meta)
            continue
        if meta.is_rich_text:
            values[meta.id] = text_document(text) if api_version == 3 else text
            continue
        raw: str | list[str] = (
            [item.strip() for item in text.split(",") if item.strip()]
            if meta.type == "array"
            else text
        )
        try:
            values[meta.id] = coerce(meta, raw, cloud=cloud)
        except CoercionError as exc:
            problems.append(f"{meta.name} ({meta.id}): {exc}; {exc.fix}")
    return ScreenFill(values=values, missing=tuple(missing), problems=tuple(problems))
