"""Text no store keeps (lone surrogates, NUL) and numbers JSON cannot spell, at the JSON edge."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncengine.ingest.bodies import decode_json
from syncengine.ingest.limits import ReportContext
from syncengine.ingest.native import parse_native
from syncengine.ingest.problems import ReportInvalid
from syncengine.ingest.wire_text import (
    MAX_NESTING,
    REPLACEMENT,
    check_nesting,
    clean_text,
    repair_decoded,
)

F = REPLACEMENT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r'{"a": "\ud83d"}', {"a": F}),  # a lone high surrogate
        (r'{"a": "x\ude00y"}', {"a": f"x{F}y"}),  # a lone low one
        (r'{"a": "\ude00\ud83d"}', {"a": F + F}),  # low before high is no pair
        (r'{"a": "\ud83d\ud83d\ude00"}', {"a": F + "\U0001f600"}),
        (r'{"a": "\u0000b"}', {"a": f"{F}b"}),
        (r'{"\ud83d": 1, "k\u0000": ["\udfff"]}', {F: 1, f"k{F}": [F]}),
        (r'["\uD83D", "\uDE00"]', [F, F]),  # upper-case hex digits
        (r'"\\\ud83d"', "\\" + F),  # an escaped backslash, then a lone surrogate
        (r'"\\ud83d\ude00"', "\\ud83d" + F),  # the "pair" is a literal text and a lone low
    ],
)
def test_lone_surrogates_and_nul_become_the_replacement_character(
    text: str, expected: object
) -> None:
    assert decode_json(text.encode()) == expected
    assert decode_json(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        r'{"a": "\ud83d\ude00 caf\u00e9"}',  # an emoji as its escape pair: a real character
        r'{"a": "\\ud83d \\u0000"}',  # literal backslashes: text about escapes, kept as it is
        '{"a": "caf\u00e9 \U0001f600"}',
    ],
)
def test_text_every_store_keeps_is_untouched(text: str) -> None:
    assert decode_json(text.encode()) == json.loads(text)


def test_utf16_json_is_repaired_too() -> None:
    assert decode_json(r'{"a": "\ud83d"}'.encode("utf-16")) == {"a": F}


def test_nesting_is_bounded() -> None:
    flat: dict[str, object] = {"a": 1}
    for _ in range(MAX_NESTING - 1):
        flat = {"a": flat}
    check_nesting(flat)
    with pytest.raises(ReportInvalid, match=f"more than {MAX_NESTING} levels") as caught:
        check_nesting({"a": flat})
    assert caught.value.kind == "nested-too-deeply"
    assert caught.value.status_code == 422
    with pytest.raises(ReportInvalid):
        check_nesting({"a": [[[[[[{"b": flat}]]]]]]})


def test_numbers_json_cannot_spell_become_strings() -> None:
    document = decode_json(b'{"a": NaN, "b": [Infinity, -Infinity, 1e999, 1.5], "c": {"d": NaN}}')
    check_nesting(document)
    assert document == {
        "a": "NaN",
        "b": ["Infinity", "-Infinity", "Infinity", 1.5],
        "c": {"d": "NaN"},
    }
    assert json.dumps(document, allow_nan=False)


def test_native_attributes_keep_non_finite_numbers_as_their_spelling() -> None:
    ctx = ReportContext(project="shop", now=datetime(2026, 3, 1, tzinfo=UTC))
    body = b'{"attributes": {"a": NaN, "b": -Infinity, "c": 1e999, "d": 2.5}}'
    (parsed,) = parse_native(body, "application/json", ctx).reports
    assert parsed.report.attributes == {"a": "NaN", "b": "-Infinity", "c": "Infinity", "d": "2.5"}


_PIECES = st.sampled_from(["\\", "u", "d83d", "\ud83d", "\ude00", "\x00", "\U0001f600", "a", "é"])


@given(st.lists(st.lists(_PIECES, max_size=12).map("".join), min_size=1, max_size=4))
def test_no_unstorable_character_ever_slips_through(texts: list[str]) -> None:
    # json.dumps writes lone surrogates and NUL as escapes, beside literal backslashes.
    for ensure_ascii in (True, False):
        raw = json.dumps(texts, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass")
        # Repaired exactly where json.loads leaves a NUL or a lone surrogate (an escape
        # pair is one character, and stays).
        assert decode_json(raw) == [clean_text(t) for t in json.loads(raw)]


@pytest.mark.parametrize(
    "text",
    [
        "123456789012345678901234567890",  # past 64 bits: orjson alone would make it a float
        '{"a": [18446744073709551616, -9223372036854775809, 9223372036854775807]}',
        '{"big": 1e999, "small": 1e-400, "zero": -0, "tenth": 0.1}',
        "[NaN, -Infinity, Infinity]",
        '\ufeff{"a": 1}',  # a UTF-8 byte order mark
        '{"a": 1, "a": 2}',
        '{"id": "12345678901234567890"}',  # a long number in text: read strictly all the same
    ],
)
def test_numbers_and_marks_are_read_as_the_standard_decoder_reads_them(text: str) -> None:
    data = text.encode()
    assert repr(decode_json(data)) == repr(json.loads(data))
    assert repr(decode_json(data.decode("utf-8-sig"))) == repr(json.loads(data))


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60)
@given(_JSON)
def test_any_json_reads_as_the_standard_decoder_reads_it(value: object) -> None:
    data = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    assert repr(decode_json(data)) == repr(repair_decoded(data, json.loads(data)))
