"""``$attribute`` expansion for summaries, labels and custom fields.

Grammar (one pass, left to right; anything else is literal text)::

    $$                   a literal "$"
    $name                the group's value of ``name``; ``name`` is letters, digits,
                         "_" and "." and neither starts nor ends with "." (so the "."
                         in "crashed in $version." is text)
    ${name}              the same, where text follows the name ("${os}_build");
                         braces also allow "-" in the name ("${app-version}")
    ${name:-default}     ``default`` (literal text, up to the first "}") when the
                         value is missing or empty
    $ followed by anything else, or an unterminated "${", is literal text

A name is a built-in when it is one of :data:`BUILTINS` (``$fingerprint``,
``$count``, ``$first_seen``, ``$last_seen``, ``$classifier``, ``$message``,
``$project``, ``$group_url``, ``$first_version``, ``$last_version``); built-ins
win over attributes of the same name. Otherwise it is an attribute, and it
expands to the attribute's highest-count value (ties: most recently seen, then
lexically smallest; :func:`syncengine.domain.groups.rank_values`). Times are
ISO 8601 in UTC (``2026-11-23T11:29:24Z``).

A placeholder with no value and no default expands to the empty string, or,
with ``missing="keep"``, stays as written. Values are inserted as they are and
never scanned again: a value holding ``$other`` or ``{{ x }}`` stays literal.
Expansion never raises; :func:`template_problems` reports suspicious syntax.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from syncengine.domain.groups import GroupSnapshot, rank_values

__all__ = [
    "BUILTINS",
    "MissingPolicy",
    "Placeholder",
    "Text",
    "expand",
    "expand_list",
    "format_time",
    "lookup",
    "parse",
    "placeholder_names",
    "template_problems",
]

MissingPolicy = Literal["empty", "keep"]

BUILTINS = frozenset(
    {
        "fingerprint",
        "count",
        "first_seen",
        "last_seen",
        "classifier",
        "message",
        "project",
        "group_url",
        "first_version",
        "last_version",
    }
)

_TOKEN = re.compile(
    r"""\$(?:
        (?P<dollar>\$)
      | \{(?P<braced>[A-Za-z0-9_.\-]+)(?::-(?P<default>[^}]*))?\}
      | (?P<bare>[A-Za-z0-9_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Text:
    """Text copied to the output as it is."""

    text: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Placeholder:
    """A ``$name``, ``${name}`` or ``${name:-default}`` in a template."""

    name: str
    default: str | None
    source: str


Part = Text | Placeholder


def parse(template: str) -> tuple[Part, ...]:
    """Split ``template`` into literal text and placeholders (adjacent literals merged)."""
    parts: list[Part] = []
    pending: list[str] = []
    position = 0
    for match in _TOKEN.finditer(template):
        pending.append(template[position : match.start()])
        position = match.end()
        if match.group("dollar"):
            pending.append("$")
            continue
        if pending and "".join(pending):
            parts.append(Text(text="".join(pending)))
        pending = []
        name = match.group("braced") or match.group("bare")
        parts.append(Placeholder(name=name, default=match.group("default"), source=match.group()))
    pending.append(template[position:])
    if "".join(pending):
        parts.append(Text(text="".join(pending)))
    return tuple(parts)


def placeholder_names(template: str) -> tuple[str, ...]:
    """The names ``template`` refers to, in order of first use."""
    names = (p.name for p in parse(template) if isinstance(p, Placeholder))
    return tuple(dict.fromkeys(names))


def template_problems(template: str) -> list[str]:
    """What looks wrong in ``template``: a bad ``${``, a lone ``$`` (never raises)."""
    covered = [m.span() for m in _TOKEN.finditer(template)]
    problems = []
    for index, char in enumerate(template):
        if char != "$" or any(start <= index < end for start, end in covered):
            continue
        if template.startswith("${", index):
            problems.append(
                f"{template!r}: '${{' at position {index} has no matching '}}' or holds a "
                "character a name cannot; write ${name} or ${name:-default}, or $$ for '$'"
            )
        else:
            problems.append(
                f"{template!r}: the '$' at position {index} is not followed by a name and "
                "stays text; write $$ to say so"
            )
    return problems


def format_time(moment: datetime) -> str:
    """``moment`` in UTC as ISO 8601 to the second, with a ``Z``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _builtin(group: GroupSnapshot, name: str) -> str:
    values = {
        "fingerprint": group.fingerprint,
        "count": str(group.count),
        "first_seen": format_time(group.first_seen),
        "last_seen": format_time(group.last_seen),
        "classifier": group.classifier,
        "message": group.message,
        "project": group.project,
        "group_url": group.url,
        "first_version": group.first_version or "",
        "last_version": group.last_version or "",
    }
    return values[name]


def lookup(group: GroupSnapshot, name: str) -> str:
    """The value ``name`` expands to for ``group`` ("" when it has none)."""
    if name in BUILTINS:
        return _builtin(group, name)
    values = group.attributes.get(name)
    return rank_values(values)[0].value if values else ""


def _expand_parts(
    parts: tuple[Part, ...] | list[Part],
    group: GroupSnapshot,
    missing: MissingPolicy,
    escape: Callable[[str], str] | None,
) -> Iterator[str]:
    for part in parts:
        if isinstance(part, Text):
            yield part.text
            continue
        value = lookup(group, part.name)
        if not value and part.default is not None:
            value = part.default
        elif not value and missing == "keep":
            yield part.source
            continue
        yield escape(value) if escape else value


def expand(
    template: str,
    group: GroupSnapshot,
    *,
    missing: MissingPolicy = "empty",
    escape: Callable[[str], str] | None = None,
) -> str:
    """``template`` with every placeholder replaced by ``group``'s value.

    ``escape``, when given, is applied to substituted values (and defaults) only,
    never to the template's own text: a wiki textarea keeps the markup its
    operator wrote while attribute values stay text. Never raises.
    """
    return "".join(_expand_parts(parse(template), group, missing, escape))


def expand_list(
    template: str, group: GroupSnapshot, *, missing: MissingPolicy = "empty"
) -> list[str]:
    """Expand an array-field template: the TEMPLATE's commas separate items.

    Splitting happens before expansion, so a value holding a comma stays one
    item. Items are stripped; empty items are dropped.
    """
    items: list[list[Part]] = [[]]
    for part in parse(template):
        if isinstance(part, Placeholder):
            items[-1].append(part)
            continue
        pieces = part.text.split(",")
        items[-1].append(Text(text=pieces[0]))
        items.extend([Text(text=piece)] for piece in pieces[1:])
    expanded = ("".join(_expand_parts(item, group, missing, None)).strip() for item in items)
    return [item for item in expanded if item]
