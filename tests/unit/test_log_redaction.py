"""Submission tokens in URLs never reach the logs."""

from __future__ import annotations

from syncengine.logs import RedactingFilter


def test_backtrace_path_token_and_query_tokens_are_redacted() -> None:
    redact = RedactingFilter().redact
    line = '127.0.0.1:5 - "POST /my-universe/Zx_9-token/json HTTP/1.1" 200'
    assert redact(line) == '127.0.0.1:5 - "POST /my-universe/***/json HTTP/1.1" 200'
    assert "s3cr3t" not in redact('"POST /post?token=s3cr3t&format=json HTTP/1.1"')
    assert "k3y" not in redact('"POST /api/1/envelope/?sentry_key=k3y HTTP/1.1"')
    other = '"POST /api/v1/projects/shop/reports HTTP/1.1" 202'
    assert redact(other) == other
