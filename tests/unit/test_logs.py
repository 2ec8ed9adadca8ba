"""Logging: secrets redacted from messages and tracebacks, request ids attached."""

from __future__ import annotations

import io
import json
import logging

from syncengine.logs import RedactingFilter, configure_logging, request_id


def test_known_secrets_and_credential_shapes_are_redacted() -> None:
    f = RedactingFilter(["hunter2-token-value"])
    assert f.redact("token hunter2-token-value failed") == "token *** failed"
    assert f.redact("GET /post?token=abc123&format=json") == "GET /post?token=***&format=json"
    assert f.redact("Authorization: Basic Zm9vOmJhcg==") == "Authorization: Basic ***"


def test_json_lines_carry_request_id_and_redacted_traceback() -> None:
    configure_logging("info", json_lines=True, secrets=["s3cr3t-value-123"])
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    token = request_id.set("req-42")
    try:
        try:
            raise ValueError("bad token s3cr3t-value-123")
        except ValueError:
            logging.getLogger("t").exception("failed with s3cr3t-value-123")
    finally:
        request_id.reset(token)
        logging.getLogger().handlers.clear()
    entry = json.loads(stream.getvalue())
    assert entry["request_id"] == "req-42"
    assert entry["message"] == "failed with ***"
    assert "s3cr3t-value-123" not in stream.getvalue()
    assert "ValueError: bad token ***" in entry["exc"]
