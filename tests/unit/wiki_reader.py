"""A small reader of the wiki text syncengine writes, for tests: it undoes the escaping.

It refuses any character Jira would read as markup (raising :class:`RawMarkup`),
so "reads back as the input" also proves "holds no markup": no ``*bold*``,
``[link]``, ``{macro}``, ``|table|``, ``!image!``, emoticon, bare URL, entity or
new source line can hide in escaped text.
"""

from __future__ import annotations

import re

BACKSLASHED = set("*_?-+^~|{}[]!#")
RAW_FORBIDDEN = BACKSLASHED | set("()@\\\n\r")
_REFERENCE = re.compile(r"&#(\d+);|&amp;")
_NOFORMAT_CLOSE = re.compile(r"\{noformat\}", re.IGNORECASE)


class RawMarkup(AssertionError):
    """Escaped text still holds something Jira would treat as markup."""


def read_text(markup: str, *, line_start: bool = False) -> str:
    """The text ``markup`` (one escaped run) shows in Jira."""
    if line_start and re.match(r"(?i)\s*(h[1-6]|bq)\.", markup):
        raise RawMarkup(f"starts with a heading or quote: {markup[:10]!r}")
    out = []
    index = 0
    while index < len(markup):
        char = markup[index]
        if markup.startswith("\\\\ ", index):
            out.append("\n")
            index += 3
        elif char == "\\" and index + 1 < len(markup) and markup[index + 1] in BACKSLASHED:
            out.append(markup[index + 1])
            index += 2
        elif char == "&" and (ref := _REFERENCE.match(markup, index)):
            out.append(chr(int(ref.group(1))) if ref.group(1) else "&")
            index = ref.end()
        elif char == "&" and re.match(r"&#?[A-Za-z0-9]+;", markup[index:]):
            raise RawMarkup(f"raw character reference at {index}: {markup[index : index + 8]!r}")
        elif char in RAW_FORBIDDEN:
            raise RawMarkup(f"raw {char!r} at {index} in {markup!r}")
        elif char in ":;" and (
            re.match(r"[:;][()PpDd]|://", markup[index:])
            or markup[:index].lower().endswith("mailto")
        ):
            raise RawMarkup(f"emoticon or URL at {index}: {markup[index : index + 4]!r}")
        else:
            out.append(char)
            index += 1
    return "".join(out)


def read_noformat(block: str) -> str:
    """The text a ``{noformat}`` block written by syncengine shows; checks it closes once."""
    assert block.startswith("{noformat}\n")
    assert block.endswith("\n{noformat}")
    body = block[len("{noformat}\n") : -len("\n{noformat}")]
    if _NOFORMAT_CLOSE.search(body) or re.search(r"(?i)\{noformat", body):
        raise RawMarkup("the body could close the noformat block early")
    return re.sub(r"(?i)\{\u200b(?=\u200b*noformat)", "{", body)
