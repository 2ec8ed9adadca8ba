"""$attribute expansion: grammar, built-ins, ranking, missing values, one pass."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncengine.domain.groups import rank_values
from syncengine.domain.placeholders import (
    BUILTINS,
    Placeholder,
    Text,
    expand,
    expand_list,
    parse,
    placeholder_names,
    template_problems,
)
from tests.unit.samples import T0, T1, group, minutes, value


def test_literals_mix_with_placeholders() -> None:
    text = expand("Host: $hostname, Version: $version", group())
    assert text == "Host: build-07, Version: 2.4.1"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("crashed in $version.", "crashed in 2.4.1."),
        ("crashed in $version...", "crashed in 2.4.1..."),
        ("${os}_build", "Linux_build"),
        ("$os_build", ""),
        ("$$version", "$version"),
        ("$$$version", "$2.4.1"),
        ("cost: $ 5", "cost: $ 5"),
        ("${unterminated", "${unterminated"),
        ("$", "$"),
        ("${missing:-n/a}", "n/a"),
        ("${os:-n/a}", "Linux"),
        ("${missing:-}", ""),
        ("${app-version}", "7"),
        ("$uname.sysname", "Darwin"),
        ("$.x", "$.x"),
    ],
)
def test_grammar(template: str, expected: str) -> None:
    attrs = dict(group().attributes)
    attrs["app-version"] = (value("7", 1),)
    attrs["uname.sysname"] = (value("Darwin", 1),)
    assert expand(template, group(attributes=attrs)) == expected


def test_builtins() -> None:
    g = group()
    expanded = {name: expand(f"${name}", g) for name in sorted(BUILTINS)}
    assert expanded == {
        "classifier": "SIGSEGV",
        "count": "20",
        "fingerprint": g.fingerprint,
        "first_seen": "2026-11-20T08:30:00Z",
        "first_version": "2.3.0",
        "group_url": "https://crash.example.com/projects/demo/groups/42",
        "last_seen": "2026-11-23T11:29:24Z",
        "last_version": "2.4.1",
        "message": "invalid read of size 8 at 0x0000000000000010",
        "project": "demo",
    }


def test_builtins_win_over_attributes_of_the_same_name() -> None:
    g = group(attributes={"message": (value("from attribute", 99),)})
    assert expand("$message", g) == g.message


def test_highest_count_then_most_recent_then_smallest() -> None:
    values = (
        value("b", 5, T1),
        value("a", 5, T1),
        value("newest", 5, T1 + minutes(1)),
        value("most", 9, T0),
    )
    assert [v.value for v in rank_values(values)] == ["most", "newest", "a", "b"]
    g = group(attributes={"tag": values[:3]})
    assert expand("$tag", g) == "newest"
    assert expand("$tag", group(attributes={"tag": values[:2]})) == "a"
    assert g.top_value("tag") == "newest"


def test_missing_attribute_empty_or_kept() -> None:
    g = group()
    assert expand("[$nope] [${nope}]", g) == "[] []"
    assert expand("[$nope] [${nope}]", g, missing="keep") == "[$nope] [${nope}]"
    assert expand("[${nope:-dflt}]", g, missing="keep") == "[dflt]"
    # An empty value counts as missing, as ":-" does in the shell.
    assert expand("${blank:-dflt}", group(attributes={"blank": (value("", 3),)})) == "dflt"


def test_expansion_is_one_pass() -> None:
    attrs = {
        "evil": (value("$hostname ${os} {{ 7*7 }} {% raw %}", 1),),
        "hostname": (value("build-07", 1),),
    }
    assert expand("x $evil y", group(attributes=attrs)) == "x $hostname ${os} {{ 7*7 }} {% raw %} y"


def test_escape_applies_to_values_only() -> None:
    text = expand("*$hostname*", group(), escape=lambda v: v.upper())
    assert text == "*BUILD-07*"


def test_list_splits_the_template_not_the_values() -> None:
    g = group(attributes={"tags": (value("a,b", 1),), "os": (value("Linux", 1),)})
    assert expand_list(" crash, $os ,, $tags,${none:-x,y}", g) == ["crash", "Linux", "a,b", "x,y"]


def test_parse_and_names() -> None:
    assert parse("a $b ${c:-d}$$") == (
        Text(text="a "),
        Placeholder(name="b", default=None, source="$b"),
        Text(text=" "),
        Placeholder(name="c", default="d", source="${c:-d}"),
        Text(text="$"),
    )
    assert placeholder_names("$b $c $b") == ("b", "c")


def test_problems() -> None:
    assert template_problems("$a ${b:-c} $$") == []
    assert "no matching" in template_problems("${broken")[0]
    assert "write $$" in template_problems("5 $")[0]


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_.0123456789", min_size=1, max_size=8)


@given(
    template=st.text(max_size=60),
    attributes=st.dictionaries(names, st.text(max_size=40), max_size=5),
    missing=st.sampled_from(["empty", "keep"]),
)
def test_expansion_never_raises(template: str, attributes: dict[str, str], missing: str) -> None:
    g = group(attributes={k: (value(v, 1),) for k, v in attributes.items()})
    assert isinstance(expand(template, g, missing=missing), str)  # type: ignore[arg-type]
    assert isinstance(expand_list(template, g), list)
    assert isinstance(template_problems(template), list)


@given(payload=st.text(min_size=1, max_size=60))
def test_values_are_never_evaluated(payload: str) -> None:
    g = group(attributes={"v": (value(payload, 1),), "secret": (value("SENTINEL", 1),)})
    assert expand("<$v>", g) == f"<{payload}>"
    assert expand("${v}", g, missing="keep") == payload
