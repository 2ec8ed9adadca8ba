"""Logging set-up: plain or JSON lines, with secrets redacted from every record.

Records carry the context of the work they are about: the request id, and the
``project``, ``group_id`` and ``outbox_id`` bound where that work is known
(:func:`bound` around an outbox item in the worker, an intake request, a webhook
delivery, a poll; :func:`bind` once a handler has looked the project up). The
context lives in :mod:`contextvars` rather than in a logger adapter or structlog:
every module keeps its plain ``logging.getLogger(__name__)`` calls, nothing new is
installed, and asyncio copies the context into each task, so the items a worker
runs side by side (``asyncio.gather``) never see each other's ids.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType

__all__ = [
    "CHATTY_LOGGERS",
    "CONTEXT_FIELDS",
    "RedactingFilter",
    "bind",
    "bound",
    "configure_logging",
    "context",
    "request_id",
]

# The id of the HTTP request being handled, put on every log record made while it runs.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

CONTEXT_FIELDS = ("project", "group_id", "outbox_id")
"""What :func:`bound` and :func:`bind` may put on records (the JSON formatter's slots)."""

_context: contextvars.ContextVar[Mapping[str, object]] = contextvars.ContextVar(
    "log_context", default=MappingProxyType({})
)


def _with(fields: Mapping[str, object]) -> Mapping[str, object]:
    unknown = set(fields) - set(CONTEXT_FIELDS)
    if unknown:
        raise TypeError(f"not a log context field: {sorted(unknown)}")
    given = {k: v for k, v in fields.items() if v is not None}
    return MappingProxyType({**_context.get(), **given})


@contextlib.contextmanager
def bound(**fields: object) -> Iterator[None]:
    """Put ``fields`` (None ones skipped) on every record logged inside the block.

    Whatever :func:`bind` adds inside the block ends with it too.
    """
    token = _context.set(_with(fields))
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: object) -> None:
    """Add ``fields`` to the current context until the enclosing :func:`bound` ends."""
    _context.set(_with(fields))


def context() -> Mapping[str, object]:
    """The fields bound now."""
    return _context.get()


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
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks are formatted later; redact them now so no secret slips through.
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        current = request_id.get()
        if current is not None and not hasattr(record, "request_id"):
            record.request_id = current
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
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
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry)


class _PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", None)
        line = f"{line} [request {rid}]" if rid else line
        bound_now = [
            f"{key}={getattr(record, key)}" for key in CONTEXT_FIELDS if hasattr(record, key)
        ]
        return f"{line} [{' '.join(bound_now)}]" if bound_now else line


# Libraries that narrate their routine at INFO (each migration step, each job added, each
# HTTP request sent or answered, server start-up): below ``debug`` only their warnings
# show, so the log has one line per event that matters, said by syncengine itself.
CHATTY_LOGGERS = ("alembic", "apscheduler", "httpx", "httpcore", "uvicorn.access", "uvicorn.error")


def configure_logging(level: str, *, json_lines: bool, secrets: Iterable[str] = ()) -> None:
    """Send every log record through one redacting handler on stderr; below ``debug`` the
    :data:`CHATTY_LOGGERS` say only warnings and errors."""
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter(secrets))
    handler.setFormatter(
        _JsonFormatter()
        if json_lines
        else _PlainFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet = logging.NOTSET if level.lower() == "debug" else logging.WARNING
    for name in ("uvicorn", *CHATTY_LOGGERS):
        # A library that configured its own loggers (uvicorn's default dictConfig does, for
        # any server started in this process) would bypass the redacting handler: undo it.
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.disabled = False
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
