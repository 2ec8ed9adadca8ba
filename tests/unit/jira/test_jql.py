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


def test_values_quote_each_item_of_a_list() -> None:
    from syncengine.jira.jql import values

    assert values(["a", 'b") OR project = X OR labels in ("c']) == (
        '("a", "b\\") OR project = X OR labels in (\\"c")'
    )
    with pytest.raises(ValueError, match="at least one"):
        values([])


def test_ids_are_numbers_only() -> None:
    from syncengine.jira.jql import ids

    assert ids(["10001", 10002]) == "(10001, 10002)"
    for bad in (["1) OR project = X"], ["\uff11\uff12"], []):
        with pytest.raises(ValueError, match="numbers"):
            ids(bad)


def test_the_engine_searches_parse_as_one_value_each() -> None:
    """What the poller and the ticket lookup send stays one value, whatever the key holds."""
    from syncengine.jira.simulator import ManualClock, create_simulator
    from syncengine.jira.simulator.errors import JiraHttpError
    from syncengine.jira.simulator.jql import parse
    from syncengine.sync.poller import poll_jql

    hostile = 'CRASH" OR project = "SECRET'
    query = poll_jql(hostile, minutes=5, moved_ids=("10001",))
    assert query.startswith(f"(project = {quote(hostile)} OR id in (10001))")
    with pytest.raises(JiraHttpError) as refused:  # the whole key is one (unknown) value
        parse(create_simulator(clock=ManualClock()).state, query)
    assert refused.value.body["errorMessages"] == [
        f"The value '{hostile}' does not exist for the field 'project'."
    ]
