"""Submission tokens in URLs never reach the logs."""

from __future__ import annotations

from syncengine.logs import RedactingFilter
from syncengine.settings import Settings


def test_backtrace_path_token_and_query_tokens_are_redacted() -> None:
    redact = RedactingFilter().redact
    line = '127.0.0.1:5 - "POST /my-universe/Zx_9-token/json HTTP/1.1" 200'
    assert redact(line) == '127.0.0.1:5 - "POST /my-universe/***/json HTTP/1.1" 200'
    assert "s3cr3t" not in redact('"POST /post?token=s3cr3t&format=json HTTP/1.1"')
    assert "k3y" not in redact('"POST /api/1/envelope/?sentry_key=k3y HTTP/1.1"')
    other = '"POST /api/v1/projects/shop/reports HTTP/1.1" 202'
    assert redact(other) == other


def test_every_configured_secret_is_on_the_redaction_list() -> None:
    settings = Settings(
        database_url="postgresql://app:db-pass-4242@db/x",
        admin_token="admin-token-1234",
        web={
            "session_secret": "session-secret-5678",
            "status_token": "status-token-9012",
            "users": {"root": {"password_hash": "$argon2id$v=19$m=65536,t=3,p=4$abc$def"}},
        },
        projects={
            "p": {
                "submission_tokens": ["submission-3456"],
                "jira": {"api_token": "jira-api-7890", "webhook_secret": "hook-secret-1357"},
            }
        },
    )
    redact = RedactingFilter(settings.secret_values()).redact
    for secret in (
        "db-pass-4242",
        "admin-token-1234",
        "session-secret-5678",
        "status-token-9012",
        "$argon2id$v=19$m=65536,t=3,p=4$abc$def",
        "submission-3456",
        "jira-api-7890",
        "hook-secret-1357",
    ):
        assert redact(f"a line with {secret} in it") == "a line with *** in it", secret
