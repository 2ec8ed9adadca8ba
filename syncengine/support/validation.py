"""Checking what a portal user sent against the project's support settings.

Pure: no I/O. :func:`validate_request` and :func:`validate_attachment` raise
:class:`~syncengine.errors.InvalidInput` naming every field to fix.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import unicodedata
from dataclasses import dataclass

from syncengine.errors import InvalidInput
from syncengine.store.support import NewAttachment
from syncengine.support.config import SupportConfig

__all__ = [
    "MAX_ATTACHMENTS",
    "MAX_DESCRIPTION",
    "MAX_SUMMARY",
    "RequestForm",
    "ValidRequest",
    "validate_attachment",
    "validate_request",
]

MAX_SUMMARY = 255  # Jira's own limit for a summary
MAX_DESCRIPTION = 32_000  # below Jira's 32,767-character limit for text fields
MAX_ENDPOINT = 500
MAX_ATTACHMENTS = 10
# A URL path: "/" then RFC 3986 path characters; "{id}"-style placeholders are allowed.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_PATH = re.compile(r"^/[A-Za-z0-9\-._~!$&'()*+,;=:@%/{}]*$")


@dataclass(frozen=True, kw_only=True, slots=True)
class RequestForm:
    """The fields of a support request as the user typed them."""

    label: str = ""
    summary: str = ""
    description: str = ""
    category: str = ""
    api_product: str = ""
    endpoint: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class ValidRequest:
    """The fields of a support request after checking: trimmed, from the allowed lists."""

    label: str
    summary: str
    description: str
    category: str
    api_product: str
    endpoint: str


def _choice(value: str, allowed: tuple[str, ...], what: str, problems: dict[str, str]) -> str:
    if value and value not in allowed:
        choices = ", ".join(allowed) if allowed else "none are configured"
        problems[what] = f"{value!r} is not one of the configured choices ({choices})"
    return value


def _storable(form: RequestForm, problems: dict[str, str]) -> None:
    """Name each field holding a character no database keeps (PostgreSQL refuses NUL)."""
    for name in ("label", "summary", "description", "category", "api_product", "endpoint"):
        if _UNSTORABLE.search(getattr(form, name)):
            problems[name] = "remove the NUL character (or lone surrogate): it cannot be stored"


def validate_request(form: RequestForm, config: SupportConfig) -> ValidRequest:
    """The checked request; raises InvalidInput listing every problem."""
    problems: dict[str, str] = {}
    label = form.label.strip()
    summary = " ".join(form.summary.split())
    description = form.description.replace("\r\n", "\n").strip()
    endpoint = form.endpoint.strip()
    if not label:
        problems["label"] = "choose a label"
    else:
        _choice(label, config.labels, "label", problems)
    if not summary:
        problems["summary"] = "write a short summary"
    elif len(summary) > MAX_SUMMARY:
        problems["summary"] = f"keep the summary under {MAX_SUMMARY + 1} characters"
    if not description:
        problems["description"] = "describe the request"
    elif len(description) > MAX_DESCRIPTION:
        problems["description"] = f"keep the description under {MAX_DESCRIPTION + 1} characters"
    category = _choice(form.category.strip(), config.categories, "category", problems)
    api_product = _choice(form.api_product.strip(), config.api_products, "api_product", problems)
    if endpoint and (len(endpoint) > MAX_ENDPOINT or not _PATH.match(endpoint)):
        problems["endpoint"] = (
            "give the endpoint as a URL path starting with '/', such as /payments/v1/orders "
            f"(no spaces, at most {MAX_ENDPOINT} characters)"
        )
    _storable(form, problems)
    if problems:
        raise InvalidInput(problems)
    return ValidRequest(
        label=label,
        summary=summary,
        description=description,
        category=category,
        api_product=api_product,
        endpoint=endpoint,
    )


def _clean_filename(name: str) -> str:
    # Browsers may send a full path (old IE) and anything at all; keep a safe base name.
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip().strip(".")
    if len(base) > 200:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 200 - len(ext) - 1] + dot + ext) if dot and len(ext) < 20 else base[:200]
    return base or "attachment"


def _content_type(filename: str, declared: str) -> str:
    declared = declared.split(";", 1)[0].strip().lower()
    if declared and declared != "application/octet-stream":
        return declared
    guessed, _ = mimetypes.guess_type(filename)
    return guessed or declared or "application/octet-stream"


def validate_attachment(
    filename: str, declared_type: str, content: bytes, config: SupportConfig
) -> NewAttachment:
    """The checked attachment; raises InvalidInput saying which limit it breaks."""
    name = _clean_filename(filename)
    content_type = _content_type(name, declared_type)
    if not content:
        raise InvalidInput({"attachments": f"{name} is empty"})
    if len(content) > config.max_attachment_bytes:
        raise InvalidInput(
            {
                "attachments": f"{name} is {_size(len(content))}; "
                f"attachments may be at most {_size(config.max_attachment_bytes)}"
            }
        )
    if content_type not in config.attachment_types:
        raise InvalidInput(
            {
                "attachments": f"{name} is {content_type}; accepted types are "
                + ", ".join(config.attachment_types)
            }
        )
    return NewAttachment(
        filename=name,
        content_type=content_type,
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
    )


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n} bytes"
