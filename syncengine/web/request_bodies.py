"""The OpenAPI description of request bodies the routes read themselves.

The intake and the webhook receiver read their raw bodies (streamed, bounded,
maybe compressed) instead of letting FastAPI parse them, so FastAPI cannot see
what they take; these ``openapi_extra`` values say it. Action routes whose
verb is the whole request (``…/reopen``, ``…/retry``) say they take no body.
"""

from __future__ import annotations

from typing import Any

from syncengine.ingest.native import NativeReport

__all__ = [
    "BACKTRACE_BODY",
    "NATIVE_REPORTS_BODY",
    "NO_BODY",
    "SENTRY_ENVELOPE_BODY",
    "SENTRY_STORE_BODY",
    "WEBHOOK_BODY",
]

_COMPRESSION = " Bodies may be gzip- or deflate-compressed (`Content-Encoding`)."


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$defs`` references replaced by the definitions."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return dict(walk(schema))


def _body(description: str, content: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "description": description, "content": content}}


_REPORT = _inlined(NativeReport.model_json_schema())
_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}

NATIVE_REPORTS_BODY = _body(
    "One native report, a JSON array of them, or JSON Lines (one report per line; see "
    "`syncengine/ingest/native.py`)." + _COMPRESSION,
    {
        "application/json": {"schema": {"anyOf": [_REPORT, {"type": "array", "items": _REPORT}]}},
        "application/x-ndjson": {"schema": {"type": "string", "description": "JSON Lines"}},
    },
)

BACKTRACE_BODY = _body(
    "A Backtrace JSON report, as `backtracepython` sends it: multipart with the report in the "
    "part `upload_file` (other parts ignored), or the report JSON itself." + _COMPRESSION,
    {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"upload_file": {"type": "string", "format": "binary"}},
                "required": ["upload_file"],
            }
        },
        "application/json": {"schema": _OBJECT},
    },
)

SENTRY_ENVELOPE_BODY = _body(
    "A Sentry envelope (newline-separated headers and items, as `sentry-sdk` sends it); "
    "its `event` items are the reports." + _COMPRESSION,
    {
        "application/x-sentry-envelope": {"schema": {"type": "string"}},
        "text/plain": {"schema": {"type": "string"}},
    },
)

SENTRY_STORE_BODY = _body(
    "One Sentry event as JSON (the legacy store endpoint)." + _COMPRESSION,
    {"application/json": {"schema": _OBJECT}},
)

WEBHOOK_BODY = _body(
    "A Jira webhook delivery (`webhookEvent`, `timestamp`, `issue`, `changelog`…), signed "
    "with the project's webhook secret (`X-Hub-Signature`).",
    {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "webhookEvent": {"type": "string", "examples": ["jira:issue_updated"]},
                    "timestamp": {"type": "integer"},
                    "issue": _OBJECT,
                    "changelog": _OBJECT,
                },
                "required": ["webhookEvent"],
                "additionalProperties": True,
            }
        }
    },
)

NO_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "description": "None: the path says everything (a body, if sent, is ignored).",
        "content": {"application/json": {"schema": {"type": "object", "maxProperties": 0}}},
    }
}
