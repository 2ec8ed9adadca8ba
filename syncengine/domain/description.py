"""The description of a group's ticket: template data, a sandboxed Jinja2 render, one Document.

Templates come in as text (:class:`TemplateSources`, read once at start by
``syncengine.templating``), so rendering does no I/O. Lookup is datasette-style:
a name is looked up in the user's templates folder first, then in the bundled
templates; ``default:NAME`` always means the bundled one, so a user template can
``{% extends "default:jira/description.j2" %}`` and override only some blocks.

Templates run in Jinja2's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment`
with autoescaping: they write the HTML subset of
:mod:`syncengine.domain.richtext`, every value is escaped on the way in, and the
result is parsed into a :class:`~syncengine.domain.richtext.Document` that
becomes wiki markup (v2) or ADF (v3). Attribute values are data; they are never
parsed as template code or markup.

Values cannot be let through unescaped: the ``safe`` filter does not exist here
and ``{% autoescape %}`` is refused. The template sees one variable per field of
:class:`DescriptionData`, and the filters ``nl2br`` (line breaks of a value kept
as ``<br>``) and ``time`` (``2026-11-23 11:29:24 UTC``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any

import jinja2
import markupsafe
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from syncengine.domain.groups import GroupSnapshot, rank_values
from syncengine.domain.reports import Frame
from syncengine.domain.richtext import CodeBlock, Document, Paragraph, Span, parse_markup
from syncengine.errors import TemplateError

__all__ = [
    "DEFAULT_TEMPLATE",
    "MAX_DESCRIPTION_CHARS",
    "AttributeSummary",
    "DescriptionData",
    "DescriptionRenderer",
    "TemplateSources",
    "ValueShare",
    "description_data",
    "fit",
    "format_callstack",
]

DEFAULT_TEMPLATE = "jira/description.j2"
# Jira rejects a description over 32,767 characters; keep room for markup overhead.
MAX_DESCRIPTION_CHARS = 30_000
MAX_FRAMES = 50
MAX_VALUES = 5
MAX_VALUE_CHARS = 300
MAX_MESSAGE_CHARS = 4_000


@dataclass(frozen=True, kw_only=True, slots=True)
class ValueShare:
    """One attribute value with its count and its share of the group's occurrences."""

    value: str
    count: int
    share: float  # percent, one decimal
    last_seen: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class AttributeSummary:
    """The top values of one attribute; ``more`` values were left out."""

    name: str
    values: tuple[ValueShare, ...]
    more: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class DescriptionData:
    """Everything a description template may use (one template variable per field)."""

    group: GroupSnapshot
    message: str
    classifier: str
    callstack: str
    frames_omitted: int
    attributes: tuple[AttributeSummary, ...]
    url: str


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_frame(index: int, frame: Frame) -> str:
    """One callstack line: ``#0 function in module at file:line``."""
    line = f"#{index} {frame.function or '??'}"
    if frame.module:
        line += f" in {frame.module}"
    if frame.filename:
        line += f" at {frame.filename}" + (f":{frame.line}" if frame.line is not None else "")
    return line


def format_callstack(frames: tuple[Frame, ...], limit: int = MAX_FRAMES) -> tuple[str, int]:
    """The first ``limit`` frames, innermost first, and how many were left out."""
    lines = [format_frame(i, f) for i, f in enumerate(frames[:limit])]
    return "\n".join(lines), max(0, len(frames) - limit)


def description_data(
    group: GroupSnapshot,
    attributes: tuple[str, ...],
    *,
    max_values: int = MAX_VALUES,
) -> DescriptionData:
    """The template data for ``group``, listing the top values of ``attributes``."""
    summaries = []
    for name in attributes:
        ranked = rank_values(group.attributes.get(name, ()))
        # Shares are of all occurrences (values may be missing from some reports);
        # a stale count must not push a share past 100 %.
        total = max(group.count, sum(v.count for v in ranked), 1)
        shown = tuple(
            ValueShare(
                value=_clip(v.value, MAX_VALUE_CHARS),
                count=v.count,
                share=round(100 * v.count / total, 1),
                last_seen=v.last_seen,
            )
            for v in ranked[:max_values]
        )
        summaries.append(
            AttributeSummary(name=name, values=shown, more=max(0, len(ranked) - max_values))
        )
    callstack, omitted = format_callstack(group.frames)
    return DescriptionData(
        group=group,
        message=_clip(group.message, MAX_MESSAGE_CHARS),
        classifier=group.classifier,
        callstack=callstack,
        frames_omitted=omitted,
        attributes=tuple(summaries),
        url=group.url,
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class TemplateSources:
    """Template texts by name: the bundled ones and the user's overrides."""

    default: Mapping[str, str]
    user: Mapping[str, str] = field(default_factory=dict)


def _nl2br(value: object) -> markupsafe.Markup:
    escaped = markupsafe.escape(str(value))
    return markupsafe.Markup("<br>").join(escaped.split("\n"))


def _time(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


MAX_REPEAT = 100_000


_AUTOESCAPE_TAG = re.compile(r"\{%[-+]?\s*autoescape\b")


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with escaping that cannot be turned off and bounded "*"/"**".

    Values must stay text: the ``safe`` filter is removed and ``{% autoescape %}``
    is refused, so a template cannot pass a value through as markup.
    """

    intercepted_binops = frozenset({"*", "**"})

    def preprocess(self, source: str, name: str | None = None, filename: str | None = None) -> str:
        if match := _AUTOESCAPE_TAG.search(source):
            line = source.count("\n", 0, match.start()) + 1
            raise jinja2.TemplateSyntaxError(
                "{% autoescape %} is not allowed: values are always escaped", line, name
            )
        return super().preprocess(source, name, filename)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 1_000:
            raise SecurityError(f"exponent {right} is too large for a template")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                size = len(seq) if isinstance(seq, str | list | tuple) else 1
                if isinstance(times, int) and size * times > MAX_REPEAT:
                    raise SecurityError("repeating a sequence that often is not allowed")
        return super().call_binop(context, operator, left, right)


class DescriptionRenderer:
    """Renders description templates from :class:`TemplateSources` in a sandbox."""

    def __init__(self, sources: TemplateSources) -> None:
        default = jinja2.DictLoader(dict(sources.default))
        loader = jinja2.ChoiceLoader(
            [
                jinja2.PrefixLoader({"default": default}, delimiter=":"),
                jinja2.DictLoader(dict(sources.user)),
                default,
            ]
        )
        self._env = _Sandbox(
            loader=loader,
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        del self._env.filters["safe"]
        self._env.filters["nl2br"] = _nl2br
        self._env.filters["time"] = _time

    def render(self, name: str, data: DescriptionData) -> Document:
        """The Document template ``name`` makes of ``data``.

        Raises :class:`~syncengine.errors.TemplateError` naming the template and
        line when the template is missing, broken, breaks the sandbox or writes
        markup outside the supported subset.
        """
        context = {f.name: getattr(data, f.name) for f in fields(data)}
        try:
            markup = self._env.get_template(name).render(context)
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(
                f"description template {exc.name!r} not found in the templates folder "
                "or the bundled templates; check description_template and templates_dir"
            ) from exc
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                f"description template {exc.name or name!r}, line {exc.lineno}: {exc.message}"
            ) from exc
        except jinja2.TemplateError as exc:  # undefined names, sandbox violations
            raise TemplateError(f"description template {name!r}: {exc}") from exc
        except Exception as exc:  # a template can raise what its expressions raise (1/0, …)
            raise TemplateError(
                f"description template {name!r}: {type(exc).__name__}: {exc}"
            ) from exc
        try:
            return parse_markup(markup)
        except TemplateError as exc:
            raise TemplateError(f"description template {name!r}: {exc}") from exc


def fit(
    document: Document, measure: Callable[[Document], int], limit: int = MAX_DESCRIPTION_CHARS
) -> Document:
    """``document`` shortened until ``measure`` of it is at most ``limit``.

    The longest code block loses half its lines first (a callstack's outer frames
    matter least); then trailing blocks give way to a "shortened" note.
    """
    blocks = list(document.blocks)
    while measure(Document(blocks=tuple(blocks))) > limit:
        codes = [(len(b.text), i) for i, b in enumerate(blocks) if isinstance(b, CodeBlock)]
        size, index = max(codes, default=(0, -1))
        if size > 200:
            block = blocks[index]
            assert isinstance(block, CodeBlock)
            lines = block.text.split("\n")
            text = (
                "\n".join(lines[: len(lines) // 2]) if len(lines) > 2 else block.text[: size // 2]
            )
            blocks[index] = replace(block, text=text + "\n… (shortened)")
        elif len(blocks) > 1:
            blocks = [*blocks[:-2], Paragraph(content=(Span(text="… (description shortened)"),))]
        else:
            break
    return Document(blocks=tuple(blocks))
