"""Logging set-up: plain or JSON lines, with secrets redacted from every record."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime

__all__ = ["RedactingFilter", "configure_logging"]

_SECRETISH = re.compile(
    r"(?i)(authorization:\s*(?:basic|bearer)\s+|token=|sentry_key=|password=|secret=)[^\s&,\"']+"
)

# Backtrace's submission URL carries the token as a path segment: /{universe}/{token}/json.
_PATH_TOKEN = re.compile(r"(\s/[^/\s?\"]+/)[^/\s?\"]+(/json\b)")


class RedactingFilter(logging.Filter):
    """Replaces known secret values, and anything shaped like a credential, with ***."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """``text`` with every secret removed."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        text = _PATH_TOKEN.sub(r"\1***\2", text)
        return _SECRETISH.sub(r"\1***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "project", "group_id", "outbox_id"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(level: str, *, json_lines: bool, secrets: Iterable[str] = ()) -> None:
    """Send every log record through one redacting handler on stderr."""
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter(secrets))
    handler.setFormatter(
        _JsonFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
