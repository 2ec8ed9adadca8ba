"""JQL quoting."""

from __future__ import annotations

import pytest

from syncengine.jira.jql import quote


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("sg-1", '"sg-1"'),
        ('a "b" c', '"a \\"b\\" c"'),
        ("back\\slash", '"back\\\\slash"'),
        ("x OR project = SECRET", '"x OR project = SECRET"'),
        ("", '""'),
    ],
)
def test_quote(value: str, expected: str) -> None:
    assert quote(value) == expected


def test_line_breaks_are_refused() -> None:
    with pytest.raises(ValueError, match="line breaks"):
        quote("a\nb")
