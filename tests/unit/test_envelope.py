"""The Sentry envelope grammar, edge by edge."""

from __future__ import annotations

import pytest

from syncengine.ingest.envelope import parse_envelope
from syncengine.ingest.problems import RequestProblem

HEAD = b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}'


def test_explicit_and_implicit_lengths_and_final_newline() -> None:
    data = (
        HEAD
        + b'\n{"type":"attachment","length":10}\n\xef\xbb\xbfHello\r\n'
        + b'\n{"type":"event"}\n{"message":"hi"}\n'
    )
    envelope = parse_envelope(data)
    assert envelope.headers == {"event_id": "9ec79c33ec9942ab8353589fcb2e04dc"}
    assert [i.type for i in envelope.items] == ["attachment", "event"]
    assert envelope.items[0].payload == b"\xef\xbb\xbfHello\r\n"
    assert envelope.items[1].payload == b'{"message":"hi"}'


def test_missing_final_newline_and_empty_payloads() -> None:
    data = HEAD + b'\n{"type":"attachment","length":0}\n\n{"type":"session"}\n\n{"type":"event"}'
    items = parse_envelope(data).items
    assert [(i.type, i.payload) for i in items] == [
        ("attachment", b""),
        ("session", b""),
        ("event", b""),
    ]


def test_carriage_return_before_newline_belongs_to_an_implicit_payload() -> None:
    data = HEAD + b'\n{"type":"event"}\n{"a":1}\r\n'
    assert parse_envelope(data).items[0].payload == b'{"a":1}\r'


def test_explicit_length_may_contain_newlines() -> None:
    payload = b'{"message":\n"two\\nlines"}'
    data = HEAD + b'\n{"type":"event","length":%d}\n' % len(payload) + payload
    assert parse_envelope(data).items[0].payload == payload


def test_headers_only() -> None:
    assert parse_envelope(HEAD).items == ()
    assert parse_envelope(HEAD + b"\n").items == ()


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "empty"),
        (b"not json\n", "envelope header is not JSON"),
        (b"[1]\n", "must be a JSON object"),
        (HEAD + b'\n{"length":2}\n{}', "no 'type'"),
        (HEAD + b'\n{"type":"event","length":99}\n{}', "ends after 2"),
        (HEAD + b'\n{"type":"event","length":2}\n{}x', "not followed by a newline"),
        (HEAD + b'\n{"type":"event","length":-1}\n{}', "not a byte count"),
    ],
)
def test_malformed_envelopes_say_what_is_wrong(data: bytes, says: str) -> None:
    with pytest.raises(RequestProblem, match=says) as caught:
        parse_envelope(data)
    assert caught.value.status_code == 400
