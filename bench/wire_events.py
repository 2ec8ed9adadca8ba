"""Single crash events as real SDKs send them, one request each, for the HTTP benches.

Each builder takes the event's fingerprint number ``fp`` (its exception type and
crashing function, so every grouping scheme puts the same events together) and
its sequence number ``n`` (its id, and the values that vary between events of a
group), and returns the full request: path, headers and body.

- Sentry envelope: gzip, ``X-Sentry-Auth``, an ``event`` item shaped like what
  sentry-sdk 2.x sends for a handled exception (frames with context lines and
  vars, contexts, the modules list: about 5 KB before compression).
- Sentry store: the same event, plain JSON, to the legacy ``/store/`` endpoint.
- Backtrace: ``multipart/form-data`` with the report in ``upload_file`` to
  ``/post?format=json&token=``, as backtracepython sends it.
- native: one JSON object to ``/api/v1/projects/<slug>/reports``.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

Built = tuple[str, dict[str, str], bytes]

_START = datetime(2026, 12, 1, tzinfo=UTC)
_MODULES = {f"package-{i}": f"{i % 7}.{i % 13}.{i % 5}" for i in range(60)}


def _event_id(n: int) -> str:
    return uuid.UUID(int=(n + 1) * 0x9E3779B97F4A7C15 % (1 << 128)).hex


def _stamp(n: int) -> str:
    return (_START + timedelta(milliseconds=n)).isoformat().replace("+00:00", "Z")


def _frame(function: str, line: int) -> dict[str, Any]:
    return {
        "filename": "shop/checkout.py",
        "abs_path": "/srv/shop/shop/checkout.py",
        "function": function,
        "module": "shop.checkout",
        "lineno": line,
        "pre_context": ["def lookup(cart):", "    items = cart['items']", "    total = 0"],
        "context_line": "    return cart['total'] / cart['items']",
        "post_context": ["", "", "def checkout(cart):"],
        "vars": {"cart": {"total": "3", "items": "0"}, "retries": "2"},
        "in_app": True,
    }


def sentry_event(fp: int, n: int) -> dict[str, Any]:
    """A handled exception event as sentry-sdk 2.x builds it."""
    event_id = _event_id(n)
    return {
        "level": "error",
        "exception": {
            "values": [
                {
                    "mechanism": {"type": "generic", "handled": True},
                    "module": None,
                    "type": f"CheckoutError{fp}",
                    "value": f"cart {fp} could not be priced",
                    "stacktrace": {
                        "frames": [
                            _frame("main", 12),
                            _frame("checkout", 40),
                            _frame(f"price_{fp}", 88),
                        ]
                    },
                }
            ]
        },
        "event_id": event_id,
        "timestamp": _stamp(n),
        "contexts": {
            "trace": {"trace_id": event_id, "span_id": event_id[:16], "parent_span_id": None},
            "runtime": {"name": "CPython", "version": "3.11.7", "build": "3.11.7 (main)"},
        },
        "transaction_info": {},
        "breadcrumbs": {"values": []},
        "extra": {"sys.argv": ["shop"]},
        "modules": _MODULES,
        "release": "shop@1.4.2",
        "environment": "production",
        "server_name": f"web-{n % 8}",
        "user": {"id": str(n % 500), "ip_address": "{{auto}}"},
        "tags": {"region": ("eu", "us", "ap")[n % 3]},
        "sdk": {
            "name": "sentry.python",
            "version": "2.75.0",
            "packages": [{"name": "pypi:sentry-sdk", "version": "2.75.0"}],
            "integrations": ["argv", "atexit", "dedupe", "excepthook", "logging", "modules"],
        },
        "platform": "python",
    }


def _sentry_auth(key: str) -> str:
    return f"Sentry sentry_key={key}, sentry_version=7, sentry_client=sentry.python/2.75.0"


def sentry_envelope(fp: int, n: int, *, key: str, project: str) -> Built:
    event = sentry_event(fp, n)
    payload = json.dumps(event, separators=(",", ":")).encode()
    head = {
        "event_id": event["event_id"],
        "sent_at": event["timestamp"],
        "trace": {"trace_id": event["event_id"], "public_key": key, "release": "shop@1.4.2"},
    }
    item = {"type": "event", "content_type": "application/json", "length": len(payload)}
    body = b"\n".join([json.dumps(head).encode(), json.dumps(item).encode(), payload, b""])
    headers = {
        "Content-Type": "application/x-sentry-envelope",
        "Content-Encoding": "gzip",
        "X-Sentry-Auth": _sentry_auth(key),
        "User-Agent": "sentry.python/2.75.0",
    }
    return f"/api/{project}/envelope/", headers, gzip.compress(body, compresslevel=6)


def sentry_store(fp: int, n: int, *, key: str, project: str) -> Built:
    body = json.dumps(sentry_event(fp, n), separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "X-Sentry-Auth": _sentry_auth(key)}
    return f"/api/{project}/store/", headers, body


def backtrace_report(fp: int, n: int, *, key: str, project: str) -> Built:
    del project  # the token names it
    report = {
        "uuid": str(uuid.UUID(_event_id(n))),
        "timestamp": int(_START.timestamp()) + n // 1000,
        "lang": "python",
        "langVersion": "3.11.7",
        "agent": "backtracepython",
        "agentVersion": "0.4.3",
        "mainThread": "140000",
        "threads": {
            "140000": {
                "name": "MainThread",
                "fault": True,
                "stack": [
                    {"funcName": f"price_{fp}", "library": "shop/checkout.py", "line": 88},
                    {"funcName": "checkout", "library": "shop/checkout.py", "line": 40},
                    {"funcName": "main", "library": "shop/main.py", "line": 12},
                ],
            }
        },
        "classifiers": [f"CheckoutError{fp}"],
        "attributes": {
            "application": "shop",
            "application.version": "1.4.2",
            "hostname": f"web-{n % 8}",
            "uname.sysname": "Linux",
            "error.message": f"cart {fp} could not be priced",
        },
        "annotations": {"Exception": {"message": f"cart {fp} could not be priced"}},
        "sourceCode": {},
    }
    boundary = "bench-boundary-7d1f"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="upload_file"; filename="upload_file"\r\n'
        "Content-Type: application/json\r\n\r\n"
        f"{json.dumps(report)}\r\n--{boundary}--\r\n"
    ).encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    return f"/post?format=json&token={key}", headers, body


def native_report(fp: int, n: int, *, key: str, project: str) -> Built:
    report = {
        "classifier": f"CheckoutError{fp}",
        "message": f"cart {fp} could not be priced",
        "frames": [
            {"function": f"price_{fp}", "module": "shop.checkout", "file": "shop/checkout.py"},
            {"function": "checkout", "module": "shop.checkout", "file": "shop/checkout.py"},
        ],
        "attributes": {"hostname": f"web-{n % 8}", "region": ("eu", "us", "ap")[n % 3]},
        "timestamp": _stamp(n),
        "version": "1.4.2",
    }
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    return f"/api/v1/projects/{project}/reports", headers, json.dumps(report).encode()


FORMATS: dict[str, Callable[..., Built]] = {
    "sentry-envelope": sentry_envelope,
    "sentry-store": sentry_store,
    "backtrace": backtrace_report,
    "native": native_report,
}
